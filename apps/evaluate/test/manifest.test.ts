/** flux-eval on a run trained from a manifest, tested on another manifest (--test-data). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { initBackend } from '@flux/core';
import { createFluxModel, resolveTuneConfig, tune } from '@flux/train';
import { MovingMnist, writeMovingMnist } from '@flux/video';
import { beforeAll, expect, it } from 'vitest';

import { evalOptionsFromCli } from '../src/cli.js';
import { evaluateRun, loadRun } from '@flux/train';

beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: false });
});

const tmp = (label: string) => fs.mkdtempSync(path.join(os.tmpdir(), `flux-eval-${label}-`));

it('evaluates a manifest-trained run on its own test split and on --test-data; refuses --test-data for Moving-MNIST runs', async () => {
  const train = await writeMovingMnist(new MovingMnist({ split: 'train' }), tmp('mtrain'), { limit: 6 });
  const test = await writeMovingMnist(new MovingMnist({ split: 'test' }), tmp('mtest'), { limit: 5 });
  const cfg = resolveTuneConfig({
    modelOverrides: { patchSize: 16, embedDim: 16, depth: 1, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 2 },
    mode: 'fixed',
    data: train.manifest,
    valData: train.manifest,
    frames: 4,
    size: 32,
    steps: 1,
    batchSize: 2,
    warmupSteps: 0,
    evalClips: 4,
    valClips: 4,
  });
  const dir = tmp('mrun');
  (await tune(cfg, { out: dir, createModel: createFluxModel, quiet: true })).model.dispose();
  const opts = { fractions: [1, 0.5], frames: [2, 4], sizes: [32], tokenOptimization: false, batchSize: 4, testClips: 100 };
  const run = loadRun(dir);
  try {
    const own = await evaluateRun(run, opts); // the run's test split defaults to its val manifest (6 clips)
    expect(own.cells.every((c) => c.n === 6)).toBe(true);
    const other = await evaluateRun(run, { ...opts, ...evalOptionsFromCli({ testData: test.manifest }) });
    expect(other.cells.every((c) => c.n === 5)).toBe(true);
  } finally {
    run.model.dispose();
  }
  const mm = tmp('mm');
  (await tune(resolveTuneConfig({ ...cfg, data: 'moving-mnist', valData: null, trainClips: 8, valClips: 4 }), { out: mm, createModel: createFluxModel, quiet: true })).model.dispose();
  const mmRun = loadRun(mm);
  await expect(evaluateRun(mmRun, { ...opts, testData: test.manifest })).rejects.toThrow(/embedded Moving-MNIST, which has its own test split/);
  mmRun.model.dispose();
}, 120_000);
