import fs from 'node:fs';
import path from 'node:path';

import { openRunDir, parseSafetensors, readMetrics } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { createFluxModel } from '../src/supervised/model.js';
import { TrainingDivergedError, tune } from '../src/supervised/tune.js';
import { setupBackend, tinyConfig, tmpDir } from './helpers.js';

beforeAll(setupBackend);

const base = { createModel: createFluxModel, quiet: true };

describe('tune: checkpoints and resume', () => {
  it('resumes bit for bit: the losses after --resume equal the uninterrupted run', async () => {
    const cfg = tinyConfig({ mode: 'multi', steps: 6, checkpointEvery: 2 });
    const full = await tune(cfg, { ...base, out: tmpDir('full') });
    full.model.dispose();

    const dir = tmpDir('interrupted');
    const first = await tune(cfg, { ...base, out: dir, stopAfter: 3 });
    first.model.dispose();
    expect(openRunDir(dir, { resume: true }).latestCheckpoint()?.step).toBe(2);
    const resumed = await tune(cfg, { ...base, out: dir, resume: true });
    resumed.model.dispose();

    expect(resumed.losses.map((l) => l.step)).toEqual([3, 4, 5, 6]);
    for (const l of resumed.losses) {
      const want = full.losses.find((x) => x.step === l.step)!.loss;
      expect(l.loss).toBe(want); // exactly equal, not just close
    }
    // The metrics file has one record per step, no duplicates from the interrupted attempt.
    const steps = readMetrics(path.join(dir, 'metrics.jsonl')).filter((r) => r.event === undefined).map((r) => r.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(true);
    const stored = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(stored.mode).toBe('multi');
  }, 120_000);

  it('refuses to resume with a different config, naming the key', async () => {
    const cfg = tinyConfig({ mode: 'fixed', steps: 2 });
    const dir = tmpDir('mismatch');
    (await tune(cfg, { ...base, out: dir })).model.dispose();
    await expect(tune({ ...cfg, lr: 0.5 }, { ...base, out: dir, resume: true })).rejects.toThrow(/lr/);
  }, 60_000);

  it('stops on a NaN loss with a clear error and keeps the last good checkpoint', async () => {
    const cfg = tinyConfig({ mode: 'fixed', steps: 6, checkpointEvery: 2 });
    const dir = tmpDir('nan');
    const before = tf.memory().numTensors;
    let err: unknown;
    try {
      await tune(cfg, { ...base, out: dir, lossHook: (step, loss) => (step === 4 ? Number.NaN : loss) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TrainingDivergedError);
    const e = err as TrainingDivergedError;
    expect(e.message).toMatch(/diverged at step 5: the loss is NaN/);
    expect(e.message).toMatch(/step-000004/);
    const run = openRunDir(dir, { resume: true });
    expect(run.latestCheckpoint()?.step).toBe(4);
    expect(fs.existsSync(path.join(run.latestCheckpoint()!.path, 'model.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(run.latestCheckpoint()!.path, 'optimizer.safetensors'))).toBe(true);
    const last = readMetrics(path.join(dir, 'metrics.jsonl')).at(-1)!;
    expect(last.event).toBe('diverged');
    // Only the model's variables are left over (the diverged step released its gradients).
    expect(tf.memory().numTensors - before).toBeLessThan(200);
  }, 60_000);

  it('a huge learning rate: the run stops when the weights turn non-finite and saves nothing non-finite', async () => {
    const cfg = tinyConfig({ mode: 'fixed', steps: 6, checkpointEvery: 2, lr: 1e39, warmupSteps: 0 });
    const dir = tmpDir('huge-lr');
    const err = await tune(cfg, { ...base, out: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(/diverged at step 1: the update made parameter \S+ non-finite[\s\S]*none yet/);
    expect((err as TrainingDivergedError).lastCheckpoint).toBeNull();
    expect(openRunDir(dir, { resume: true }).listCheckpoints()).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
  }, 60_000);

  it('a frozen backbone (model.freeze) trains only the rest: frozen weights unchanged, no optimizer state for them', async () => {
    const cfg = tinyConfig({ mode: 'fixed', steps: 2, checkpointEvery: 2 });
    let frozenBefore: Float32Array | null = null;
    const createModel = (c: typeof cfg, n: number) => {
      const m = createFluxModel(c, n);
      m.freeze(['blocks.', 'patch_embed.']);
      frozenBefore = Float32Array.from(m.param('blocks.0.mlp.fc1.weight').dataSync());
      return m;
    };
    const r = await tune(cfg, { ...base, createModel, out: tmpDir('frozen') });
    expect(Array.from(r.model.param('blocks.0.mlp.fc1.weight').dataSync())).toEqual(Array.from(frozenBefore!));
    const headAfter = r.model.param('head.0.weight').dataSync();
    const fresh = createFluxModel(cfg, r.model.config.numClasses);
    expect(Array.from(headAfter)).not.toEqual(Array.from(fresh.param('head.0.weight').dataSync()));
    fresh.dispose();
    const ckpt = openRunDir(r.runDir, { resume: true }).latestCheckpoint()!.path;
    const names = [...parseSafetensors(fs.readFileSync(path.join(ckpt, 'optimizer.safetensors'))).tensors.keys()];
    expect(names.some((n) => n.includes('blocks.') || n.includes('patch_embed.'))).toBe(false);
    expect(names).toContain('exp_avg.head.0.weight');
    r.model.dispose();
  }, 60_000);

  it('trains a fixed-grid and a single-K run end to end without leaking tensors per step', async () => {
    for (const mode of ['fixed', 'single'] as const) {
      const cfg = tinyConfig({ mode, steps: 3, tokenCounts: mode === 'single' ? [8] : [12, 8, 4] });
      const counts: number[] = [];
      const r = await tune(cfg, { ...base, out: tmpDir(mode), onStep: () => counts.push(tf.memory().numTensors) });
      expect(r.val.length).toBeGreaterThan(0);
      expect(counts[2]).toBe(counts[1]);
      r.model.dispose();
    }
  }, 60_000);
});

describe('tune: --init', () => {
  it('starts from the weights of another run', async () => {
    const cfg = tinyConfig({ mode: 'fixed', steps: 2 });
    const dir = tmpDir('init-src');
    const a = await tune(cfg, { ...base, out: dir });
    const sd = a.model.stateDict() as Map<string, { data: Float32Array }>;
    a.model.dispose();
    // Zero steps of training after init = the source weights exactly (lr ~ 0 keeps them within float error).
    const b = await tune({ ...cfg, init: dir, lr: 1e-12, minLr: 0, weightDecay: 0, seed: 7 }, { ...base, out: tmpDir('init-dst'), stopAfter: 1 });
    const sd2 = b.model.stateDict() as Map<string, { data: Float32Array }>;
    const w1 = sd.get('head.0.weight')!.data;
    const w2 = sd2.get('head.0.weight')!.data;
    w1.forEach((x, i) => expect(w2[i]).toBeCloseTo(x, 6));
    b.model.dispose();
    await expect(tune({ ...cfg, init: '/nonexistent/w.safetensors' }, { ...base, out: tmpDir('init-bad') })).rejects.toThrow(/no such weights file/);
    // Attention-pool weights (as the official checkpoints) into the max-pool default: a clear error with the fix.
    expect(cfg.modelOverrides.clipPool).toBe('max');
    const attnDir = tmpDir('init-attn');
    const c = await tune({ ...cfg, modelOverrides: { ...cfg.modelOverrides, clipPool: 'attention' } }, { ...base, out: attnDir });
    c.model.dispose();
    await expect(tune({ ...cfg, init: attnDir }, { ...base, out: tmpDir('init-pool') })).rejects.toThrow(/unexpected[\s\S]*clip_projector\.0\.cross_attn\.q\.weight[\s\S]*pass --pool attention/);
  }, 60_000);
});
