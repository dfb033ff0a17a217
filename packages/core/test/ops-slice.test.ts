import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';

import { initBackend } from '../src/backend.js';
import '../src/gradients.js';
import { Rng } from '../src/run/rng.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  await initBackend({ backend: 'cpu', log: false });
}, 60_000);

type DType = 'float32' | 'int32' | 'bool';

/** Runs f on cpu and on wasm with the same input values; returns [cpu, wasm] outputs as arrays + shapes. */
async function both(data: number[], shape: number[], dtype: DType, f: (x: tf.Tensor) => tf.Tensor | tf.Tensor[]) {
  const res: Array<Array<{ shape: number[]; values: number[]; dtype: string }>> = [];
  for (const b of ['cpu', 'wasm']) {
    await tf.setBackend(b);
    const before = tf.memory().numTensors;
    const x = tf.tensor(data, shape, dtype);
    const out = f(x);
    const list = Array.isArray(out) ? out : [out];
    res.push(list.map((t) => ({ shape: t.shape, values: Array.from(t.dataSync()), dtype: t.dtype })));
    tf.dispose([x, ...list]);
    expect(tf.memory().numTensors).toBe(before);
  }
  return res;
}

describe('wasm Slice / SplitV / Unpack (heap to heap) equal cpu', () => {
  it('tf.slice over random shapes, ranks 1–5 and dtypes', async () => {
    const rng = new Rng('slice');
    for (let trial = 0; trial < 60; trial++) {
      const rank = 1 + (trial % 5);
      const shape = Array.from({ length: rank }, () => 1 + rng.int(rank >= 4 ? 4 : 7));
      const n = shape.reduce((a, b) => a * b, 1);
      const dtype = (['float32', 'int32', 'bool'] as const)[trial % 3];
      const data = Array.from({ length: n }, () => (dtype === 'bool' ? rng.int(2) : dtype === 'int32' ? rng.int(1000) - 500 : rng.normal()));
      const begin = shape.map((d) => rng.int(d));
      const size = shape.map((d, i) => (rng.bernoulli(0.3) ? -1 : rng.int(d - begin[i] + 1)));
      const [cpu, wasm] = await both(data, shape, dtype, (x) => tf.slice(x, begin, size));
      expect(wasm, `shape [${shape}] begin [${begin}] size [${size}] ${dtype}`).toEqual(cpu);
    }
  });

  it('tf.split (even and sized) and tf.unstack on every axis', async () => {
    const rng = new Rng('split');
    const shape = [4, 6, 3];
    const data = Array.from({ length: 72 }, () => rng.normal());
    for (let axis = 0; axis < 3; axis++) {
      const [c1, w1] = await both(data, shape, 'float32', (x) => tf.split(x, shape[axis] === 3 ? 3 : 2, axis));
      expect(w1).toEqual(c1);
      const sizes = axis === 1 ? [1, 3, 2] : axis === 0 ? [3, 1] : [2, 1];
      const [c2, w2] = await both(data, shape, 'float32', (x) => tf.split(x, sizes, axis));
      expect(w2).toEqual(c2);
      const [c3, w3] = await both(data, shape, 'float32', (x) => tf.unstack(x, axis));
      expect(w3).toEqual(c3);
    }
  });

  it('gradients through split (qkv style) on wasm equal cpu', async () => {
    const rng = new Rng('split-grad');
    const data = Array.from({ length: 2 * 5 * 12 }, () => rng.normal());
    const up = Array.from({ length: 2 * 5 * 4 }, () => rng.normal());
    const grads: number[][] = [];
    for (const b of ['cpu', 'wasm']) {
      await tf.setBackend(b);
      const g = tf.tidy(() => {
        const x = tf.tensor(data, [2, 5, 12]);
        const u = tf.tensor(up, [2, 5, 4]);
        return tf.grad((t: tf.Tensor) => {
          const [q, k, v] = tf.split(t, 3, -1);
          return tf.sum(tf.mul(tf.add(tf.mul(q, k), tf.pad(tf.slice(v, [0, 1, 0], [-1, 4, -1]), [[0, 0], [0, 1], [0, 0]])), u));
        })(x);
      });
      grads.push(Array.from(g.dataSync()));
      g.dispose();
    }
    grads[1].forEach((v, i) => expect(v).toBeCloseTo(grads[0][i], 5));
  });
});

describe('wasm Identity (copy-free clone)', () => {
  it('clones share memory, survive disposal of the original, and free it once with the last reference', async () => {
    await tf.setBackend('wasm');
    const be = tf.engine().backend;
    const ids = be.numDataIds();
    const before = tf.memory().numTensors;
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const c = tf.clone(x);
    expect(be.numDataIds()).toBe(ids + 1);
    x.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4]);
    const v = tf.variable(c);
    c.dispose();
    const next = tf.tidy(() => tf.add(v, 1));
    v.assign(next);
    next.dispose();
    expect(Array.from(v.dataSync())).toEqual([2, 3, 4, 5]);
    v.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(be.numDataIds()).toBe(ids);
  });
});
