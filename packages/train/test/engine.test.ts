/** The run loop on a small objective of its own: divergence guard, frozen parameters, best checkpoint, resume, leaks. */
import fs from 'node:fs';
import path from 'node:path';

import { Rng, openRunDir, parseSafetensors, readMetrics, recordToFloat32 } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { TrainingDivergedError, firstNonFinite, train, type Objective, type TrainOptions } from '../src/engine.js';
import { setupBackend, tmpDir } from './helpers.js';

beforeAll(setupBackend);

interface Batch {
  x: tf.Tensor2D;
  y: tf.Tensor2D;
}

/** Least squares y ≈ x·w + b·f, where `f` is a frozen scale the loss uses but nothing may train. */
class Regression implements Objective<Batch> {
  readonly w = tf.variable(tf.zeros([4, 1]), true, `reg/w/${Math.random()}`);
  readonly b = tf.variable(tf.zeros([1]), true, `reg/b/${Math.random()}`);
  readonly f = tf.variable(tf.scalar(2), true, `reg/f/${Math.random()}`);
  readonly truth = [1, -2, 0.5, 3];
  /** Scores returned by successive evaluations (cycled). */
  constructor(readonly scores: number[] = [0.5]) {}
  private evals = 0;
  params() {
    return [
      { name: 'w', variable: this.w },
      { name: 'b', variable: this.b },
    ];
  }
  batch(step: number): Batch {
    const rng = new Rng(`toy/${step}`);
    const x = Array.from({ length: 8 * 4 }, () => rng.normal());
    const y = Array.from({ length: 8 }, (_, i) => this.truth.reduce((s, t, j) => s + t * x[i * 4 + j]!, 0) + 0.3);
    return { x: tf.tensor2d(x, [8, 4]), y: tf.tensor2d(y, [8, 1]) };
  }
  loss(b: Batch) {
    const pred = tf.add(tf.matMul(b.x, this.w), tf.mul(this.b, this.f));
    const mse = tf.mean(tf.square(tf.sub(pred, b.y))) as tf.Scalar;
    const l1 = tf.mean(tf.abs(tf.sub(pred, b.y))) as tf.Scalar;
    return { total: mse, parts: { l1 } };
  }
  disposeBatch(b: Batch) {
    tf.dispose([b.x, b.y]);
  }
  describeBatch() {
    return { rows: 8 };
  }
  async evaluate() {
    return { score: this.scores[this.evals++ % this.scores.length]! };
  }
  dispose() {
    tf.dispose([this.w, this.b, this.f]);
  }
}

function options(obj: Regression, out: string, over: Partial<TrainOptions<Batch>> = {}): TrainOptions<Batch> {
  return { objective: obj, out, config: { toy: 1 }, steps: 6, seed: 1, lr: () => 0.05, optimizer: { weightDecay: 0, maxGradNorm: 0 }, checkpointEvery: 2, quiet: true, ...over };
}

function weightsOf(ckpt: string): Map<string, Float32Array> {
  const file = path.join(ckpt, 'model.safetensors');
  const { tensors } = parseSafetensors(fs.readFileSync(file), { name: file });
  return new Map([...tensors].map(([k, r]) => [k, Float32Array.from(recordToFloat32(r))]));
}

describe('train (the run loop)', () => {
  it('learns, logs named parts and batch fields, and does not grow the tensor count per step', async () => {
    const obj = new Regression();
    const counts: number[] = [];
    const r = await train(options(obj, tmpDir('engine-learn'), { steps: 40, lr: () => 0.1, onStep: () => counts.push(tf.memory().numTensors) }));
    expect(r.losses[r.losses.length - 1]!.loss).toBeLessThan(r.losses[0]!.loss / 10);
    expect(new Set(counts.slice(1)).size, `tensors after each step: ${counts.join(',')}`).toBe(1);
    const recs = readMetrics(path.join(r.runDir, 'metrics.jsonl'));
    const first = recs[0]!;
    expect(first).toMatchObject({ step: 1, rows: 8 });
    for (const k of ['loss', 'l1', 'lr', 'gradNorm', 'ms']) expect(typeof first[k]).toBe('number');
    expect(recs.at(-1)).toMatchObject({ step: 40, event: 'val', score: 0.5 });
    expect(r.finalMetrics).toEqual({ score: 0.5 });
    obj.dispose();
  });

  it('frozen parameters get no gradient, no optimizer state and keep their value', async () => {
    const obj = new Regression();
    const r = await train(options(obj, tmpDir('engine-frozen')));
    expect(obj.f.dataSync()[0]).toBe(2);
    const opt = parseSafetensors(fs.readFileSync(path.join(r.lastCheckpoint!, 'optimizer.safetensors')));
    expect([...opt.tensors.keys()].sort()).toEqual(['exp_avg.b', 'exp_avg.w', 'exp_avg_sq.b', 'exp_avg_sq.w']);
    // Checkpointed weights: exactly the trainable parameters.
    expect([...weightsOf(r.lastCheckpoint!).keys()].sort()).toEqual(['b', 'w']);
    obj.dispose();
  });

  it('a weight that turns non-finite after an optimizer step stops the run; the checkpoint it names is finite', async () => {
    const obj = new Regression();
    const dir = tmpDir('engine-inf');
    let err: unknown;
    // Loss and gradients stay finite at step 5; only its update (lr 1e39) overflows float32.
    await train(options(obj, dir, { lr: (step) => (step === 4 ? 1e39 : 0.05) })).catch((e: unknown) => (err = e));
    expect(err).toBeInstanceOf(TrainingDivergedError);
    const e = err as TrainingDivergedError;
    expect(e.message).toMatch(/diverged at step 5: the update made parameter (w|b) non-finite/);
    expect(e.step).toBe(5);
    expect(e.lastCheckpoint).toMatch(/step-000004$/);
    const saved = weightsOf(e.lastCheckpoint!);
    for (const [name, v] of saved) expect(v.every(Number.isFinite), name).toBe(true);
    expect(openRunDir(dir, { resume: true }).listCheckpoints().map((c) => c.step)).toEqual([2, 4]);
    // The model in memory kept its last finite weights too.
    expect(Array.from(obj.w.dataSync()).every(Number.isFinite)).toBe(true);
    const last = readMetrics(path.join(dir, 'metrics.jsonl')).at(-1)!;
    expect(last).toMatchObject({ step: 5, event: 'diverged' });
    obj.dispose();
  });

  it('never writes a non-finite weight: a checkpoint of poisoned weights is refused', async () => {
    const obj = new Regression();
    const dir = tmpDir('engine-poison');
    let err: unknown;
    // The objective poisons its own weight outside the optimizer (a buggy custom loop would): the save refuses it.
    await train(
      options(obj, dir, {
        onStep: (rec) => {
          if (rec.step === 4) obj.b.assign(tf.tensor1d([Number.POSITIVE_INFINITY]));
        },
      }),
    ).catch((e: unknown) => (err = e));
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(/refusing to save step 4: parameter b is not finite/);
    expect(openRunDir(dir, { resume: true }).latestCheckpoint()?.step).toBe(2);
    expect(firstNonFinite(Object.fromEntries([...weightsOf(openRunDir(dir, { resume: true }).latestCheckpoint()!.path)].map(([k, v]) => [k, { dtype: 'float32' as const, shape: [v.length], data: v }])))).toBeNull();
    obj.dispose();
  });

  it('keeps the best checkpoint by the chosen metric, and resume continues bit for bit with it', async () => {
    const scores = [0.2, 0.7, 0.4, 0.6];
    const full = new Regression(scores);
    const fr = await train(options(full, tmpDir('engine-best-full'), { steps: 8, evalEvery: 2, best: { metric: 'score', mode: 'max' } }));
    expect(fr.best).toMatchObject({ step: 4, value: 0.7 });
    const bestJson = JSON.parse(fs.readFileSync(path.join(fr.runDir, 'best', 'best.json'), 'utf8'));
    expect(bestJson).toMatchObject({ step: 4, metric: 'score', mode: 'max', value: 0.7 });
    const fullW = Array.from(full.w.dataSync());
    full.dispose();

    const dir = tmpDir('engine-best-resume');
    const a = new Regression(scores);
    await train(options(a, dir, { steps: 8, evalEvery: 2, best: { metric: 'score', mode: 'max' }, stopAfter: 5 }));
    a.dispose();
    const b = new Regression(scores.slice(2)); // the evaluations still to come
    const r = await train(options(b, dir, { steps: 8, evalEvery: 2, best: { metric: 'score', mode: 'max' }, resume: true }));
    expect(r.losses.map((l) => l.step)).toEqual([5, 6, 7, 8]);
    expect(Array.from(b.w.dataSync())).toEqual(fullW); // bit for bit
    expect(r.best).toMatchObject({ step: 4, value: 0.7 }); // 0.4 and 0.6 later did not beat it
    b.dispose();
  });

  it('rejects bad options before touching the run directory', async () => {
    const obj = new Regression();
    const dir = path.join(tmpDir('engine-bad'), 'run');
    await expect(train(options(obj, dir, { steps: 0 }))).rejects.toThrow(/steps must be an integer ≥ 1/);
    await expect(train(options(obj, dir, { checkpointEvery: 0.5 }))).rejects.toThrow(/checkpointEvery/);
    expect(fs.existsSync(dir)).toBe(false);
    obj.dispose();
  });
});
