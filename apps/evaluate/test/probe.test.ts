import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { initBackend } from '@flux/core';
import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe, expect, it } from 'vitest';

import { buildProbeCommand, probeOptionsFromCli } from '../src/probe-cli.js';
import { DEFAULT_PROBE_STUDY, runProbeStudy } from '../src/probe-study.js';

const tmp = (l: string) => fs.mkdtempSync(path.join(os.tmpdir(), `flux-eval-probe-${l}-`));

beforeAll(() => initBackend({ backend: nativeAvailable() ? 'tensorflow' : 'cpu', log: false }));

describe('flux-eval probe', () => {
  it('maps flags and refuses bad ones', () => {
    const cmd = buildProbeCommand().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    cmd.parse(['node', 'probe', 'runs/a', '--lm', 'builtin', '--probe-steps', '9', '--fractions', '1,0.5']);
    const o = probeOptionsFromCli(cmd.args, cmd.opts());
    expect(o).toMatchObject({ encoders: ['runs/a'], lms: ['builtin'], probeSteps: 9, fractions: [1, 0.5] });
    expect(() => probeOptionsFromCli([], { fractions: [2] })).toThrow(/fractions/);
    expect(() => buildProbeCommand().exitOverride().configureOutput({ writeErr: () => {} }).parse(['node', 'probe', '--visual', 'pixels'])).toThrow();
  });

  it('the embedded job shrunk: two encoders, stories260K and the built-in LM, four probes, one report', async () => {
    const out = tmp('study');
    const r = await runProbeStudy({
      ...DEFAULT_PROBE_STUDY,
      out,
      encoderTune: {
        task: 'directions',
        modelOverrides: { patchSize: 16, embedDim: 16, depth: 1, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 2, layerScaleInit: 0, clipPool: 'max' },
        trainClips: 32,
        valClips: 8,
        evalClips: 8,
        frames: 4,
        size: 32,
        flexiFrames: [2, 8, 2],
        flexiSizes: [16, 32, 16],
        tokenThreshold: [8, 32],
        tokenCounts: [12, 8, 4],
        steps: 2,
        batchSize: 2,
      },
      builtinSteps: 2,
      probeSteps: 2,
      batchSize: 2,
      testClips: 3,
      maxCaptionTokens: 3,
      quiet: true,
    });
    expect(r.runs.map((x) => `${x.encoder} + ${x.lm}`)).toEqual(['fixed-grid encoder + stories260K', 'fixed-grid encoder + built-in LM', 'Flux-Multi encoder + stories260K', 'Flux-Multi encoder + built-in LM']);
    for (const run of r.runs) expect(run.budgets.map((b) => b.tokens)).toEqual([16, 8, 4]);
    const md = fs.readFileSync(r.report, 'utf8');
    expect(md).toMatch(/\| Flux-Multi encoder \| stories260K \| [\d.]+ \|/);
    expect(md).toMatch(/chance [\d.]+ %/);
    for (const f of ['probe-qa-vs-tokens.svg', 'probe-caption-f1-vs-tokens.svg', 'probe-results.json']) expect(fs.existsSync(path.join(out, f))).toBe(true);
  }, 240_000);
});
