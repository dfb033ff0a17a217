// A short Flux-Multi tune on the tensorflow backend (tfjs-node: the kernels tfjs-node-gpu users run), where it loads.
import fs from 'node:fs';
import path from 'node:path';

import { initBackend, openRunDir } from '@flux/core';
import { nativeAvailable } from '@flux/vitest-config/backends';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { createFluxModel } from '../src/supervised/model.js';
import { tune } from '../src/supervised/tune.js';
import { tinyConfig, tmpDir } from './helpers.js';

describe.skipIf(!nativeAvailable())('tune on tensorflow', () => {
  beforeAll(async () => {
    const r = await initBackend({ backend: 'tensorflow', log: false });
    expect(r.kind).toBe('tensorflow');
  });

  it('trains Flux-Multi for a few steps: finite losses, checkpoints, validation, no tensor growth per step', async () => {
    const cfg = tinyConfig({ mode: 'multi', steps: 5, checkpointEvery: 2 });
    const dir = tmpDir('tensorflow');
    const counts: number[] = [];
    const r = await tune(cfg, { createModel: createFluxModel, quiet: true, out: dir, onStep: () => counts.push(tf.memory().numTensors) });
    expect(tf.getBackend()).toBe('tensorflow');
    expect(r.losses.map((l) => l.step)).toEqual([1, 2, 3, 4, 5]);
    for (const l of r.losses) expect(Number.isFinite(l.loss)).toBe(true);
    expect(new Set(counts.slice(1)).size, `tensors after each step: ${counts}`).toBe(1);
    expect(r.val.length).toBeGreaterThan(0);
    expect(openRunDir(dir, { resume: true }).latestCheckpoint()?.step).toBe(5); // every 2nd step and the last
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(true);
    r.model.dispose();
  }, 120_000);
});
