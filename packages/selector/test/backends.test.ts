/**
 * The selector on the backends Flux runs on: the same indices on cpu, wasm and (where it loads) tensorflow,
 * gradients through the gather,
 * and no leaked tensors.
 */
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '@flux/core';
import { testBackends } from '@flux/vitest-config/backends';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatherTokens, selectAndGather, selectTokens, umtMask, type SelectorMethod } from '../src/index.js';

const BACKENDS = testBackends();

beforeAll(async () => {
  await initBackend({ backend: 'wasm-simd', log: false });
  expect(tf.getBackend()).toBe('wasm');
});

afterAll(async () => {
  await tf.setBackend('wasm');
});

/** Tokens with well-separated dynamics (no float ties that could flip between backends). */
function tokensData(b: number, f: number, l: number, c: number): Float32Array {
  const d = new Float32Array(b * f * l * c);
  for (let i = 0; i < d.length; i++) d[i] = Math.sin(i * 0.37) * ((i % 7) + 1) + Math.cos(i * 1.3);
  return d;
}

describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('selects the same indices as on cpu for every method', async () => {
    const shape: [number, number, number, number] = [3, 8, 12, 16];
    const data = tokensData(...shape);
    const onBackend: Record<string, number[]> = {};
    const onCpu: Record<string, number[]> = {};
    const methods: SelectorMethod[] = ['group-dynamic', 'dynamic', 'tube', 'random'];
    for (const [name, store] of [[backend, onBackend], ['cpu', onCpu]] as const) {
      await tf.setBackend(name);
      const x = tf.tensor4d(data, shape);
      for (const method of methods) {
        for (const norm of ['l2', 'l1'] as const) {
          for (const scoresOn of ['js', 'backend'] as const) {
            const idx = selectTokens(x, 30, { method, norm, seed: 2, scoresOn });
            store[`${method}/${norm}/${scoresOn}`] = Array.from(idx.dataSync());
            idx.dispose();
          }
        }
      }
      x.dispose();
    }
    await tf.setBackend(backend);
    expect(onBackend).toEqual(onCpu);
    for (const method of methods) expect(onCpu[`${method}/l2/js`]).toEqual(onCpu[`${method}/l2/backend`]);
  });

  it('gathers tokens with gradient flowing to x (and only to the kept rows)', () => {
    const x = tf.tensor3d(tokensData(1, 2, 6, 3), [2, 6, 3]);
    const idx = tf.tensor2d([[0, 2, 5], [1, 2, 4]], [2, 3], 'int32');
    const y = gatherTokens(x, idx);
    expect(y.shape).toEqual([2, 3, 3]);
    const xd = x.arraySync();
    expect(y.arraySync()).toEqual([[xd[0][0], xd[0][2], xd[0][5]], [xd[1][1], xd[1][2], xd[1][4]]].map((r) => r.map((v) => v.map(Math.fround))));
    const g = tf.grad((t) => tf.sum(tf.mul(gatherTokens(t as tf.Tensor3D, idx), 2)))(x);
    const rowSums = (tf.sum(g, -1).arraySync() as number[][]).map((r) => r.map((v) => v / 6));
    expect(rowSums).toEqual([[1, 0, 1, 0, 0, 1], [0, 1, 1, 0, 1, 0]]);
    tf.dispose([x, idx, y, g]);
  });

  it('selectAndGather: kept tokens [B,K,C] with gradient, indices [B,K]', () => {
    const x = tf.tensor4d(tokensData(2, 4, 5, 3), [2, 4, 5, 3]);
    const { tokens, indices } = selectAndGather(x, 6);
    expect(tokens.shape).toEqual([2, 6, 3]);
    expect(indices.shape).toEqual([2, 6]);
    const g = tf.grad((t) => tf.sum(selectAndGather(t as tf.Tensor4D, 6, { seed: 1 }).tokens))(x);
    expect(tf.sum(g).dataSync()[0]).toBeCloseTo(2 * 6 * 3, 4);
    tf.dispose([x, tokens, indices, g]);
  });

  it('scores in JS equal the backend ops (and read wasm tensors in place)', async () => {
    const { frameDistances, frameDistancesData } = await import('../src/index.js');
    const data = tokensData(2, 5, 7, 9);
    const x = tf.tensor4d(data, [2, 5, 7, 9]);
    const y = tf.add(x, 0) as tf.Tensor4D; // a kernel output, not an upload
    for (const norm of ['l2', 'l1'] as const) {
      const d = frameDistances(y, norm);
      const want = Array.from(d.dataSync());
      d.dispose();
      const got = Array.from(frameDistancesData(data, 2, 5, 7, 9, norm));
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 3));
    }
    const a = selectTokens(y, 17, { scoresOn: 'js' });
    const b = selectTokens(y, 17, { scoresOn: 'backend' });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([x, y, a, b]);
  });

  it('does not leak tensors', () => {
    const x = tf.randomNormal([2, 8, 16, 8]) as tf.Tensor4D;
    const att = tf.randomUniform([2, 8, 16]) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    for (const method of ['group-dynamic', 'dynamic', 'tube', 'random'] as const) {
      selectTokens(x, 40, { method }).dispose();
      selectTokens(x, 40, { method, scoresOn: 'backend' }).dispose();
      selectTokens(x, 1000, { method }).dispose();
    }
    const { tokens, indices } = selectAndGather(x, 40);
    tf.dispose([tokens, indices]);
    umtMask(att, { seed: 1 }).dispose();
    const g = tf.grad((t) => tf.sum(selectAndGather(t as tf.Tensor4D, 40).tokens))(x);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, att]);
  });
});
