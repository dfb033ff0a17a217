// The wasm-SIMD loops (src/ops/simd.ts) against the JS loops they replace and the composed reference:
// transposes (Transpose kernel and the matmul's explicit transposes), softmax's backward, GELU forward and
// derivative (including the erfc tail), residual / channel affine / bias add, and no tensor leak.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { initBackend } from '../src/backend.js';
import '../src/gradients.js';
import { biasGelu, channelAffine, gelu, linear, reference, residual, rmsNorm, scaledSoftmax, setSimdKernelsEnabled, simdKernels } from '../src/ops/index.js';
import type { WasmBackendLike } from '../src/ops/wasm-heap.js';
import { Rng } from '../src/run/rng.js';

function randn(rng: Rng, shape: number[], std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal(0, std)), shape);
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 1e-2;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

/** Values and gradients of `f` w.r.t. its inputs with the SIMD loops on or off. */
function run(on: boolean, f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], up: tf.Tensor): Float32Array[] {
  setSimdKernelsEnabled(on);
  try {
    return tf.tidy(() => {
      const y = f(...xs);
      const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), up)))(xs);
      return [y, ...gs].map((t) => (t.dataSync() as Float32Array).slice());
    });
  } finally {
    setSimdKernelsEnabled(true);
  }
}

let simd = false;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  simd = simdKernels(tf.backend() as unknown as WasmBackendLike) != null;
}, 60_000);

afterAll(() => setSimdKernelsEnabled(true));

describe('wasm-SIMD kernels', () => {
  it('are active on the threaded wasm build', () => {
    const report = tf.getBackend();
    expect(report).toBe('wasm');
    // Node ≥ 20 has SIMD and SharedArrayBuffer; initBackend picks the threaded build here.
    expect(simd).toBe(true);
  });

  it('transpose exactly as the JS loop (Transpose kernel and matmul transpose flags)', () => {
    const rng = new Rng('simd-transpose');
    for (const [shape, perm] of [
      [[8, 12], [1, 0]],
      [[3, 16, 4], [0, 2, 1]],
      [[2, 3, 64, 36], [0, 1, 3, 2]],
      [[5, 7], [1, 0]], // not multiples of 4: JS loop
      [[2, 5, 3, 8], [0, 2, 1, 3]], // head split/merge: strided runs of 8 floats (copyRows)
      [[4, 6, 12], [1, 0, 2]],
      [[2, 3, 4, 8], [2, 0, 1, 3]],
      [[3, 5, 6], [1, 0, 2]], // runs of 6 floats: JS copies
    ] as Array<[number[], number[]]>) {
      const x = randn(rng, shape);
      setSimdKernelsEnabled(false);
      const want = tf.tidy(() => tf.transpose(x, perm).dataSync() as Float32Array).slice();
      setSimdKernelsEnabled(true);
      const got = tf.tidy(() => tf.transpose(x, perm).dataSync() as Float32Array).slice();
      expect(got, `[${shape}] perm [${perm}]`).toEqual(want);
      x.dispose();
    }
    for (const [sa, sb, ta, tb] of [
      [[4, 32, 16], [4, 32, 8], true, false],
      [[4, 16, 32], [4, 8, 32], false, true],
      [[64, 128], [64, 20], true, false],
      [[6, 8, 12], [6, 16, 8], true, true],
    ] as Array<[number[], number[], boolean, boolean]>) {
      const a = randn(rng, sa);
      const b = randn(rng, sb);
      const f = (p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q, ta, tb);
      const up = tf.tidy(() => randn(rng, f(a, b).shape));
      const off = run(false, f, [a, b], up);
      const on = run(true, f, [a, b], up);
      on.forEach((t, i) => expect(maxRel(t, off[i]!), `matMul [${sa}]·[${sb}] ${ta}/${tb} output ${i}`).toBeLessThan(1e-6));
      tf.dispose([a, b, up]);
    }
  });

  it('slices and splits (strided row runs) exactly as the JS loop', () => {
    const rng = new Rng('simd-slice');
    const x = randn(rng, [6, 10, 48]);
    const xi = tf.cast(tf.mul(x, 100), 'int32');
    const parts = (on: boolean) => {
      setSimdKernelsEnabled(on);
      try {
        return tf.tidy(() =>
          [...tf.split(x, 3, -1), ...tf.split(x, [4, 44], -1), tf.slice(x, [1, 2, 8], [4, 5, 16]), tf.slice(xi, [0, 3, 4], [6, 2, 40]), tf.slice(x, [0, 0, 2], [6, 10, 6])].map((t) =>
            Array.from(t.dataSync() as Float32Array),
          ),
        );
      } finally {
        setSimdKernelsEnabled(true);
      }
    };
    expect(parts(true)).toEqual(parts(false));
    tf.dispose([x, xi]);
  });

  it('softmax backward and GELU (value and derivative, erfc tail) match the JS loops and the reference', () => {
    const rng = new Rng('simd-elementwise');
    const cases: Array<[string, (...xs: tf.Tensor[]) => tf.Tensor, (...xs: tf.Tensor[]) => tf.Tensor, () => tf.Tensor[]]> = [
      ['scaledSoftmax', (x) => scaledSoftmax(x, 0.35), (x) => reference.scaledSoftmax(x, 0.35), () => [randn(rng, [3, 5, 36], 3)]],
      ['biasGelu', (x, b) => biasGelu(x, b as tf.Tensor1D), (x, b) => reference.biasGelu(x, b as tf.Tensor1D), () => [randn(rng, [4, 9, 24], 4), randn(rng, [24])]],
      ['residual', (x, y, g) => residual(x, y, g as tf.Tensor1D), (x, y, g) => reference.residual(x, y, g as tf.Tensor1D), () => [randn(rng, [3, 7, 12]), randn(rng, [3, 7, 12]), randn(rng, [12])]],
      ['channelAffine', (x, s, b) => channelAffine(x, s as tf.Tensor1D, b as tf.Tensor1D), (x, s, b) => reference.channelAffine(x, s as tf.Tensor1D, b as tf.Tensor1D), () => [randn(rng, [5, 16]), randn(rng, [16]), randn(rng, [16])]],
      ['linear (bias add)', (x, w, b) => linear(x, w as tf.Tensor2D, b as tf.Tensor1D), (x, w, b) => reference.linear(x, w as tf.Tensor2D, b as tf.Tensor1D), () => [randn(rng, [2, 9, 12]), randn(rng, [12, 20], 0.3), randn(rng, [20])]],
      // Per-channel gradient sums (float64 accumulators in the SIMD loops) over many rows.
      ['rmsNorm', (x, w) => rmsNorm(x, w as tf.Tensor1D), (x, w) => reference.rmsNorm(x, w as tf.Tensor1D), () => [randn(rng, [6, 50, 32], 2), randn(rng, [32])]],
      ['rmsNorm small rows', (x, w) => rmsNorm(x, w as tf.Tensor1D, 1e-3), (x, w) => reference.rmsNorm(x, w as tf.Tensor1D, 1e-3), () => [randn(rng, [7, 8], 0.01), randn(rng, [8])]],
      ['residual, many rows', (x, y, g) => residual(x, y, g as tf.Tensor1D), (x, y, g) => reference.residual(x, y, g as tf.Tensor1D), () => [randn(rng, [64, 33, 16]), randn(rng, [64, 33, 16]), randn(rng, [16])]],
      ['channelAffine (no bias)', (x, s) => channelAffine(x, s as tf.Tensor1D), (x, s) => reference.channelAffine(x, s as tf.Tensor1D), () => [randn(rng, [9, 40, 20]), randn(rng, [20])]],
      ['gelu (no bias)', (x) => gelu(x), (x) => reference.gelu(x), () => [randn(rng, [5, 28], 3)]],
      ['linear, many rows (bias gradient)', (x, w, b) => linear(x, w as tf.Tensor2D, b as tf.Tensor1D), (x, w, b) => reference.linear(x, w as tf.Tensor2D, b as tf.Tensor1D), () => [randn(rng, [40, 50, 8]), randn(rng, [8, 12], 0.3), randn(rng, [12])]],
      [
        'biasGelu tail',
        (x, b) => biasGelu(x, b as tf.Tensor1D),
        (x, b) => reference.biasGelu(x, b as tf.Tensor1D),
        () => [tf.reshape(tf.linspace(-12, 12, 8 * 64), [8, 64]), tf.zeros([64])],
      ],
    ];
    for (const [name, fused, ref, make] of cases) {
      const xs = make();
      const up = tf.tidy(() => randn(rng, ref(...xs).shape));
      const off = run(false, fused, xs, up);
      const on = run(true, fused, xs, up);
      const want = tf.tidy(() => {
        const y = ref(...xs);
        const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(ref(...a), up)))(xs);
        return [y, ...gs].map((t) => (t.dataSync() as Float32Array).slice());
      });
      on.forEach((t, i) => {
        expect(maxRel(t, off[i]!), `${name} output ${i}: SIMD vs JS`).toBeLessThan(2e-6);
        expect(maxRel(t, want[i]!), `${name} output ${i}: SIMD vs reference`).toBeLessThan(2e-5);
      });
      tf.dispose([...xs, up]);
    }
  });

  it('keeps relative accuracy in GELU’s negative tail', () => {
    const x = tf.tensor2d([[-6, -7, -8, -9]]);
    const y = tf.tidy(() => biasGelu(x, tf.zeros([4]) as tf.Tensor1D).dataSync() as Float32Array).slice();
    // v·Φ(v) = v·erfc(−v/√2)/2 from Python's math.erfc
    [-5.919525870226207e-9, -8.958687807200846e-12, -4.9767684594174555e-15, -1.015729565358458e-18].forEach((w, i) =>
      expect(Math.abs(y[i]! / w - 1), `gelu(${-6 - i})`).toBeLessThan(1e-4),
    );
    x.dispose();
  });

  it('does not leak tensors over repeated steps', () => {
    const rng = new Rng('simd-leak');
    const x = randn(rng, [2, 16, 32]);
    const b = randn(rng, [32]);
    const step = () =>
      tf.tidy(() => {
        const f = (p: tf.Tensor, q: tf.Tensor) => {
          const h = residual(rmsNorm(biasGelu(p, q as tf.Tensor1D), q as tf.Tensor1D), channelAffine(p, q as tf.Tensor1D, q as tf.Tensor1D), q as tf.Tensor1D);
          return scaledSoftmax(tf.matMul(h, h, false, true), 0.2);
        };
        const gs = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(f(p, q)))([x, b]);
        gs[0]!.dataSync();
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, b]);
  });
});
