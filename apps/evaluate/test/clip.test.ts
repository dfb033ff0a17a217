import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { resolveClipConfig, trainClip } from '@flux/clip';
import { initBackend } from '@flux/core';
import { beforeAll, describe, expect, it } from 'vitest';

import { main } from '../src/cli.js';

const tmp = (l: string) => fs.mkdtempSync(path.join(os.tmpdir(), `flux-eval-clip-${l}-`));

beforeAll(() => initBackend({ backend: 'cpu', log: false }));

describe('flux-eval retrieval / zero-shot', () => {
  it('evaluates a Flux-CLIP run at the budgets and writes the report with chance levels and plots', async () => {
    const cfg = resolveClipConfig({
      modelOverrides: { patchSize: 16, embedDim: 16, depth: 1, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 2, layerScaleInit: 0, clipPool: 'max' },
      trainClips: 32,
      valClips: 8,
      frames: 4,
      size: 32,
      flexiFrames: [2, 8, 2],
      flexiSizes: [16, 32, 16],
      tokenThreshold: [8, 32],
      tokenCounts: [12, 8, 4],
      embedDim: 16,
      textWidth: 16,
      textLayers: 1,
      textHeads: 2,
      contextLength: 16,
      stage1Steps: 1,
      stage2Steps: 2,
      batchSize: 4,
      warmupSteps: 1,
      checkpointEvery: 2,
    });
    const run = tmp('run');
    const r = await trainClip(cfg, { out: run, quiet: true });
    r.model.dispose();
    const out = tmp('report');
    await main(['node', 'flux-eval', 'retrieval', run, '--names', 'run', '--out', out, '--test-clips', '20', '--fractions', '1,0.5', '--quiet', '--backend', 'cpu']);
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/Chance \(random ranking, for these duplicate captions\): T2V R@1\/5\/10 [\d.]+ \/ [\d.]+ \/ [\d.]+ %/);
    expect(md).toMatch(/\| run \| 16 \(full\) \| [\d.]+ \|/);
    expect(md).toMatch(/\| run \| 8 \(50 %\) \|/);
    expect(fs.existsSync(path.join(out, 'recall-vs-tokens.svg'))).toBe(true);
    const zs = tmp('zs');
    await main(['node', 'flux-eval', 'zero-shot', run, '--out', zs, '--test-clips', '16', '--quiet', '--backend', 'cpu']);
    expect(fs.readFileSync(path.join(zs, 'report.md'), 'utf8')).toMatch(/Chance 12\.5 %/);
    const json = JSON.parse(fs.readFileSync(path.join(zs, 'clip-eval.json'), 'utf8')) as { zeroShot: { tokens: number }[] }[];
    expect(json[0]!.zeroShot.map((z) => z.tokens)).toEqual([16, 8, 4]);
  }, 120_000);
});
