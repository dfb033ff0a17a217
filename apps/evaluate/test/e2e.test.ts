import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { initBackend } from '@flux/core';
import { createFluxModel, resolveTuneConfig, tune, type TuneConfig } from '@flux/train';
import { beforeAll, describe, expect, it } from 'vitest';

import { evaluateRun, loadRun } from '@flux/train';
import { main as evalMain } from '../src/cli.js';
import { runMainJob } from '../src/main-job.js';
import { writeReport } from '@flux/train';

beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: false });
});

const tiny: Partial<TuneConfig> = {
  modelOverrides: { patchSize: 16, embedDim: 16, depth: 1, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 2 },
  trainClips: 32,
  valClips: 16,
  evalClips: 8,
  frames: 4,
  size: 32,
  flexiFrames: [2, 8, 2],
  flexiSizes: [16, 32, 16],
  tokenThreshold: [8, 32],
  tokenCounts: [8, 4, 2],
  batchSize: 2,
  warmupSteps: 1,
  checkpointEvery: 2,
};
const evalOpts = { testClips: 8, searchClips: 8, frames: [2, 4, 8], sizes: [16, 32], batchSize: 8 };

function tmp(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `flux-eval-${label}-`));
}

describe('tune → eval smoke run', () => {
  it('tunes two tiny runs, evaluates them across budgets with TO, and writes a report with plots', async () => {
    const dirs: string[] = [];
    for (const mode of ['fixed', 'multi'] as const) {
      const dir = tmp(mode);
      const r = await tune(resolveTuneConfig(tiny, { mode, steps: 4, evalEvery: 2 }), { out: dir, overwrite: true, createModel: createFluxModel, quiet: true });
      r.model.dispose();
      dirs.push(dir);
    }
    const evals = [];
    for (const d of dirs) {
      const run = loadRun(d);
      evals.push(await evaluateRun(run, evalOpts));
      run.model.dispose();
    }
    expect(evals[0]!.fullTokens).toBe(16);
    expect(evals[0]!.budgets.map((b) => b.budget)).toEqual([16, 8, 4, 2]);
    for (const e of evals) {
      for (const b of e.budgets) {
        expect(b.grid.k).toBe(b.budget);
        expect(b.to).not.toBeNull();
        expect(b.to!.plan.k).toBeLessThanOrEqual(b.budget);
        expect(b.grid.top1).toBeGreaterThanOrEqual(0);
        expect(b.grid.top5).toBeGreaterThanOrEqual(b.grid.top1);
      }
    }
    const out = tmp('report');
    const file = writeReport(out, { title: 'smoke', evals, chance: 1 / 8, runs: dirs.map((dir, i) => ({ name: `run${i}`, dir })) });
    const md = fs.readFileSync(file, 'utf8');
    expect(md).toContain('## Table 1 layout');
    expect(md).toContain('accuracy-vs-tokens.svg');
    expect(md).toContain('![validation accuracy](training-val-top1.svg)');
    expect(fs.readFileSync(path.join(out, 'training-val-top1.svg'), 'utf8')).toContain('run1');
    for (const f of ['accuracy-vs-tokens.svg', 'training-loss.svg', 'training-val-top1.svg', 'results.json']) expect(fs.existsSync(path.join(out, f))).toBe(true);

    // The CLI over the same runs: its resolved options are saved next to the report.
    const cliOut = tmp('cli-report');
    await evalMain(['node', 'flux-eval', ...dirs, '--out', cliOut, '--test-clips', '8', '--search-clips', '8', '--frames', '2:8:2', '--sizes', '16,32', '--fractions', '1,0.5', '--backend', 'cpu', '--quiet']);
    const saved = JSON.parse(fs.readFileSync(path.join(cliOut, 'eval-config.json'), 'utf8'));
    expect(saved).toMatchObject({ testClips: 8, searchClips: 8, frames: [2, 4, 6, 8], sizes: [16, 32], fractions: [1, 0.5], runs: dirs });
    expect(fs.readFileSync(path.join(cliOut, 'report.md'), 'utf8')).toContain('## Training curves');
  }, 120_000);

  it('runs the main job end to end at toy scale', async () => {
    const out = tmp('main');
    const r = await runMainJob({
      out,
      base: { ...tiny, steps: 2 },
      fluxTokenCounts: [8, 4, 2],
      steps: 2,
      seeds: [0, 1],
      sweepSteps: 1,
      lrs: [1e-3, 2e-3],
      sweepValClips: 8,
      eval: evalOpts,
      backend: 'cpu',
      quiet: true,
    });
    const md = fs.readFileSync(r.report, 'utf8');
    expect(md).toContain('## Summary');
    expect(md).toMatch(/Both arms trained: \*\*NO\*\*/); // two steps do not train anything — and the report says so
    expect(r.checks.length).toBeGreaterThanOrEqual(5);
    // A comparison against an arm that did not train never counts as a pass.
    expect(r.checks.find((c) => c.name.startsWith('Flux-Multi vs baseline'))!.pass).toBe(false);
    expect(fs.existsSync(path.join(out, 'summary.json'))).toBe(true);
    for (const seed of [0, 1]) expect(fs.existsSync(path.join(out, 'runs', 'flux-multi', `seed-${seed}`, 'model.safetensors'))).toBe(true);
    // Seeds: every figure is mean ± std, every comparison has a standard error and a verdict.
    expect(r.evals.baseline).toHaveLength(2);
    expect(md).toMatch(/mean ± std over 2 seeds/);
    expect(md).toMatch(/\| Flux-Multi − baseline at 25% tokens \| [+−]\d+\.\d ± \d+\.\d \| (win|loss|no significant difference) \|/);
    expect(fs.existsSync(path.join(out, 'accuracy-vs-tokens-seeds.svg'))).toBe(true);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.seeds).toEqual([0, 1]);
    expect(summary.comparisons.length).toBeGreaterThan(0);
  }, 120_000);
});
