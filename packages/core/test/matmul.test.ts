// The wasm BatchMatMul / Transpose overrides against the cpu backend: values and gradients, and no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, initBackend, poolAddressFromBinary, setSmallMatMulSingleThread, wasmMatMulInstalled } from '../src/index.js';
import { chooseSingleThread, recordProductTime, singleThreadAvailable, singleThreaded } from '../src/ops/wasm-pool.js';
import type { WasmBackendLike } from '../src/ops/wasm-heap.js';

type Case = [number[], number[], boolean, boolean];
const CASES: Case[] = [
  [[5, 7], [7, 3], false, false],
  [[7, 5], [7, 3], true, false],
  [[5, 7], [3, 7], false, true],
  [[7, 5], [3, 7], true, true],
  [[4, 5, 7], [7, 3], false, false], // B shared: folded into one 2-D call
  [[4, 7, 5], [7, 3], true, false],
  [[4, 5, 7], [4, 7, 3], false, false],
  [[2, 3, 5, 7], [2, 3, 3, 7], false, true], // attention q·kᵀ
  [[2, 3, 7, 5], [2, 3, 7, 4], true, false],
  [[5, 7], [4, 7, 3], false, false], // A broadcast
  [[1, 5, 7], [4, 7, 3], false, false],
  [[6, 33, 70], [6, 70, 65], false, false],
  [[6, 70, 33], [6, 65, 70], true, true],
  [[1, 1, 9], [1, 9, 1], false, false],
  // 2-D products computed as (Bᵀ·Aᵀ)ᵀ (a narrow packed operand): weight gradients xᵀ·dy with more outputs than inputs
  [[64, 8], [64, 40], true, false],
  [[6, 30], [70, 30], false, true],
  [[30, 6], [70, 30], true, true],
  [[5, 12], [12, 90], false, false],
];

function data(shape: number[], rng: Rng): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => rng.normal());
}

interface Result {
  y: Float32Array;
  da: Float32Array;
  db: Float32Array;
}

function run([sa, sb, ta, tb]: Case, a: Float32Array, b: Float32Array, dy: (shape: number[]) => Float32Array): Result {
  return tf.tidy(() => {
    const A = tf.tensor(a, sa);
    const B = tf.tensor(b, sb);
    const y = tf.matMul(A, B, ta, tb);
    const g = tf.tensor(dy(y.shape), y.shape);
    const [da, db] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, w, ta, tb), g)))([A, B]);
    return { y: y.dataSync() as Float32Array, da: da!.dataSync() as Float32Array, db: db!.dataSync() as Float32Array };
  });
}

function relErr(x: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(x[i]! - ref[i]!));
    den = Math.max(den, Math.abs(ref[i]!));
  }
  return num / Math.max(den, 1e-12);
}

describe('wasm matmul and transpose overrides', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('are installed by initBackend on wasm', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(wasmMatMulInstalled()).toBe(true);
  });

  it('matMul values and gradients equal the cpu backend for every flag/batch combination', async () => {
    const rng = new Rng(7);
    const inputs = CASES.map(([sa, sb]) => ({ a: data(sa, rng), b: data(sb, rng) }));
    const dyFor = (i: number) => (shape: number[]) => data(shape, new Rng(100 + i));
    await tf.setBackend('wasm');
    const fast = CASES.map((c, i) => run(c, inputs[i]!.a, inputs[i]!.b, dyFor(i)));
    await initBackend({ backend: 'cpu', log: false });
    const ref = CASES.map((c, i) => run(c, inputs[i]!.a, inputs[i]!.b, dyFor(i)));
    await tf.setBackend('wasm');
    CASES.forEach((c, i) => {
      const label = JSON.stringify(c);
      expect(fast[i]!.y.length, label).toBe(ref[i]!.y.length);
      expect(relErr(fast[i]!.y, ref[i]!.y), `${label} y`).toBeLessThan(1e-5);
      expect(relErr(fast[i]!.da, ref[i]!.da), `${label} dA`).toBeLessThan(1e-5);
      expect(relErr(fast[i]!.db, ref[i]!.db), `${label} dB`).toBeLessThan(1e-5);
    });
  });

  it('transpose equals the cpu backend for assorted permutations', async () => {
    const rng = new Rng(3);
    const cases: Array<[number[], number[]]> = [
      [[3, 4, 5], [2, 0, 1]],
      [[2, 8, 3, 16], [0, 2, 1, 3]],
      [[7, 9], [1, 0]],
      [[2, 3, 4, 5], [0, 1, 3, 2]],
      [[2, 3, 4, 5], [3, 2, 1, 0]],
      [[65, 130], [1, 0]],
    ];
    const xs = cases.map(([s]) => data(s, rng));
    await tf.setBackend('wasm');
    const fast = cases.map(([s, p], i) => tf.tidy(() => tf.transpose(tf.tensor(xs[i]!, s), p).dataSync()));
    await initBackend({ backend: 'cpu', log: false });
    const ref = cases.map(([s, p], i) => tf.tidy(() => tf.transpose(tf.tensor(xs[i]!, s), p).dataSync()));
    await tf.setBackend('wasm');
    cases.forEach((c, i) => expect(Array.from(fast[i]!), JSON.stringify(c)).toEqual(Array.from(ref[i]!)));
  });

  it('does not leak tensors over repeated forward+backward steps', () => {
    const a = tf.randomNormal([2, 3, 17, 8]);
    const b = tf.randomNormal([2, 3, 17, 8]);
    const step = () =>
      tf.tidy(() => {
        const [ga, gb] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, w, false, true))))([a, b]);
        return tf.add(tf.sum(ga!), tf.sum(gb!));
      }).dispose();
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
    b.dispose();
  });
});

describe('small batched products on the calling thread (wasm-pool.ts)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('finds the pool slot of the threaded build and restores the pool, also when the call throws', () => {
    const backend = tf.backend() as unknown as WasmBackendLike & { wasm: { _get_threads_count(): number } };
    const threads = backend.wasm._get_threads_count();
    expect(threads).toBeGreaterThan(1); // initBackend lifts tfjs's thread cap on this 2-core machine
    expect(singleThreadAvailable(backend)).toBe(true);
    expect(singleThreaded(backend, () => backend.wasm._get_threads_count())).toBe(-1); // no pool inside
    expect(() =>
      singleThreaded(backend, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(backend.wasm._get_threads_count()).toBe(threads);
  });

  it('gives the same products with and without the pool (attention-sized batches)', () => {
    const rng = new Rng(11);
    const a = tf.tensor(data([2, 4, 64, 32], rng), [2, 4, 64, 32]);
    const b = tf.tensor(data([2, 4, 64, 32], rng), [2, 4, 64, 32]);
    const once = () => tf.tidy(() => [tf.matMul(a, b, false, true), tf.matMul(a, b, true, false)].map((t) => (t.dataSync() as Float32Array).slice()));
    setSmallMatMulSingleThread(false);
    const pooled = once();
    setSmallMatMulSingleThread(true);
    const single = once();
    pooled.forEach((p, i) => expect(relErr(single[i]!, p)).toBeLessThan(1e-6));
    setSmallMatMulSingleThread('auto');
    expect(relErr(once()[0]!, pooled[0]!)).toBeLessThan(1e-6);
    a.dispose();
    b.dispose();
  });

  it("'auto' times both ways per shape, keeps the faster and retries the other every 32nd call", () => {
    setSmallMatMulSingleThread('auto');
    const key = 'test-shape';
    expect(chooseSingleThread(key)).toBe(true);
    recordProductTime(key, true, 2);
    expect(chooseSingleThread(key)).toBe(false);
    recordProductTime(key, false, 1);
    const picks = Array.from({ length: 64 }, () => chooseSingleThread(key));
    expect(picks.filter((p) => p).length).toBe(2); // the slower way, twice in 64 calls
    for (let i = 0; i < 10; i++) recordProductTime(key, false, 5); // the pool got slow (a loaded machine)
    expect(chooseSingleThread(key)).toBe(true);
    setSmallMatMulSingleThread(false);
    expect(chooseSingleThread(key)).toBe(false);
    setSmallMatMulSingleThread('auto');
  });

  it('reads no address from a binary that does not match', () => {
    expect(poolAddressFromBinary(new Uint8Array([1, 2, 3]))).toBeNull();
    expect(poolAddressFromBinary(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]))).toBeNull();
  });
});

describe('heapOffset', () => {
  it('reads pointers past 2 GiB (negative from malloc) as unsigned', async () => {
    const { heapOffset } = await import('../src/ops/wasm-heap.js');
    const dataId = {};
    const fake = { dataIdMap: { get: (d: object) => (d === dataId ? { id: 1, memoryOffset: -2147483648 + 64 } : undefined) } };
    expect(heapOffset(fake as never, { dataId, shape: [1], dtype: 'float32' } as never)).toBe(2 ** 31 + 64);
  });
});
