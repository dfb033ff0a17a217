import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { testBackends } from '@flux/vitest-config/backends';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { initBackend } from '../src/backend.js';
import '../src/gradients.js';
import {
  biasGelu,
  channelAffine,
  composed,
  fusedKernelsAvailable,
  gatherRows,
  gelu,
  layerNorm,
  linear,
  reference,
  residual,
  rmsNorm,
  scaledDotAttention,
  scaledSoftmax,
  setFusedKernelsEnabled,
} from '../src/ops/index.js';
import { Rng } from '../src/run/rng.js';

/** cpu and wasm (Flux kernels), and tensorflow (the composed path of composed.ts) where tfjs-node loads. */
const BACKENDS = testBackends();
const KERNEL_BACKENDS = ['cpu', 'wasm'] as const;
type BackendName = (typeof BACKENDS)[number];

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  await initBackend({ backend: 'cpu', log: false });
}, 60_000);

afterAll(async () => {
  setFusedKernelsEnabled(true);
  await tf.setBackend('cpu');
});

interface Input {
  shape: number[];
  data: Float32Array | Int32Array;
  dtype: 'float32' | 'int32';
}

function randn(rng: Rng, shape: number[], std = 1, mean = 0): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal(mean, std);
  return { shape, data, dtype: 'float32' };
}

function ints(rng: Rng, shape: number[], hi: number): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.int(hi);
  return { shape, data, dtype: 'int32' };
}

type Op = (...xs: tf.Tensor[]) => tf.Tensor;

interface Result {
  y: Float32Array;
  grads: Float32Array[];
}

/** Runs `op` on `backend`: forward values and gradients of Σ(up ⊙ op(...)) w.r.t. every float input. */
async function evaluate(backend: BackendName, op: Op, inputs: Input[], up: Float32Array): Promise<Result> {
  await tf.setBackend(backend);
  const ts = inputs.map((i) => tf.tensor(i.data, i.shape, i.dtype));
  const floats = ts.filter((t) => t.dtype === 'float32');
  const call = (fs: tf.Tensor[]) => {
    let k = 0;
    return op(...ts.map((t) => (t.dtype === 'float32' ? fs[k++] : t)));
  };
  const yT = call(floats);
  const y = yT.dataSync() as Float32Array;
  const upT = tf.tensor(up, yT.shape);
  const grads = tf.grads((...fs: tf.Tensor[]) => tf.sum(tf.mul(call(fs), upT)))(floats);
  const out = { y: y.slice(), grads: grads.map((g) => (g.dataSync() as Float32Array).slice()) };
  tf.dispose([...ts, yT, upT, ...grads]);
  return out;
}

function expectClose(actual: Float32Array, expected: Float32Array, what: string, tol = 2e-5): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  // Relative to the largest expected magnitude, floored at 1e-2: with C = 1 a norm's gradient is pure
  // cancellation (≈ eps/x²) and both implementations carry ~1e-7 absolute float32 noise there.
  let scale = 1e-2;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  expect(worst / scale, `${what}: max |Δ| ${worst} at ${at} (${actual[at]} vs ${expected[at]}), scale ${scale}`).toBeLessThan(tol);
}

interface Case {
  name: string;
  fused: Op;
  ref: Op;
  /** The same op through composed.ts (run on cpu below, so that path is checked where tensorflow is absent). */
  composed?: Op;
  inputs: (rng: Rng, shape: number[]) => Input[];
  tol?: number;
}

const C = (shape: number[]) => shape[shape.length - 1];

const CASES: Case[] = [
  {
    name: 'linear',
    fused: (x, w, b) => linear(x, w as tf.Tensor2D, b as tf.Tensor1D),
    ref: (x, w, b) => reference.linear(x, w as tf.Tensor2D, b as tf.Tensor1D),
    composed: (x, w, b) => composed.linear(x, w as tf.Tensor2D, b as tf.Tensor1D),
    inputs: (r, s) => [randn(r, s), randn(r, [C(s), 11], 0.3), randn(r, [11])],
  },
  {
    name: 'linear (no bias)',
    fused: (x, w) => linear(x, w as tf.Tensor2D),
    ref: (x, w) => reference.linear(x, w as tf.Tensor2D),
    composed: (x, w) => composed.linear(x, w as tf.Tensor2D),
    inputs: (r, s) => [randn(r, s), randn(r, [C(s), 6], 0.3)],
  },
  {
    name: 'rmsNorm',
    fused: (x, w) => rmsNorm(x, w as tf.Tensor1D),
    ref: (x, w) => reference.rmsNorm(x, w as tf.Tensor1D),
    composed: (x, w) => composed.rmsNorm(x, w as tf.Tensor1D),
    inputs: (r, s) => [randn(r, s, 2, 0.5), randn(r, [C(s)], 0.5, 1)],
  },
  {
    name: 'rmsNorm (no weight, eps 1e-2)',
    fused: (x) => rmsNorm(x, null, 1e-2),
    ref: (x) => reference.rmsNorm(x, null, 1e-2),
    composed: (x) => composed.rmsNorm(x, null, 1e-2),
    inputs: (r, s) => [randn(r, s)],
  },
  {
    name: 'layerNorm',
    fused: (x, w, b) => layerNorm(x, w as tf.Tensor1D, b as tf.Tensor1D),
    ref: (x, w, b) => reference.layerNorm(x, w as tf.Tensor1D, b as tf.Tensor1D),
    composed: (x, w, b) => composed.layerNorm(x, w as tf.Tensor1D, b as tf.Tensor1D),
    inputs: (r, s) => [randn(r, s, 1.5, 0.7), randn(r, [C(s)], 0.5, 1), randn(r, [C(s)])],
  },
  {
    name: 'gelu',
    fused: (x) => gelu(x),
    ref: (x) => reference.gelu(x),
    composed: (x) => composed.gelu(x),
    inputs: (r, s) => [randn(r, s, 2.5)],
  },
  {
    name: 'biasGelu',
    fused: (x, b) => biasGelu(x, b as tf.Tensor1D),
    ref: (x, b) => reference.biasGelu(x, b as tf.Tensor1D),
    composed: (x, b) => composed.biasGelu(x, b as tf.Tensor1D),
    inputs: (r, s) => [randn(r, s, 2), randn(r, [C(s)])],
  },
  {
    name: 'residual (gamma)',
    fused: (x, y, g) => residual(x, y, g as tf.Tensor1D),
    ref: (x, y, g) => reference.residual(x, y, g as tf.Tensor1D),
    inputs: (r, s) => [randn(r, s), randn(r, s), randn(r, [C(s)])],
  },
  {
    name: 'residual',
    fused: (x, y) => residual(x, y),
    ref: (x, y) => reference.residual(x, y),
    inputs: (r, s) => [randn(r, s), randn(r, s)],
  },
  {
    name: 'channelAffine (bias)',
    fused: (x, s, b) => channelAffine(x, s as tf.Tensor1D, b as tf.Tensor1D),
    ref: (x, s, b) => reference.channelAffine(x, s as tf.Tensor1D, b as tf.Tensor1D),
    inputs: (r, s) => [randn(r, s), randn(r, [C(s)]), randn(r, [C(s)])],
  },
  {
    name: 'channelAffine',
    fused: (x, s) => channelAffine(x, s as tf.Tensor1D),
    ref: (x, s) => reference.channelAffine(x, s as tf.Tensor1D),
    inputs: (r, s) => [randn(r, s), randn(r, [C(s)])],
  },
  {
    name: 'scaledSoftmax',
    fused: (x) => scaledSoftmax(x, 0.37),
    ref: (x) => reference.scaledSoftmax(x, 0.37),
    composed: (x) => composed.scaledSoftmax(x, 0.37),
    inputs: (r, s) => [randn(r, s, 3)],
  },
  {
    name: 'scaledSoftmax (scale 1)',
    fused: (x) => scaledSoftmax(x),
    ref: (x) => reference.scaledSoftmax(x),
    composed: (x) => composed.scaledSoftmax(x),
    inputs: (r, s) => [randn(r, s, 2)],
  },
];

const SHAPES: number[][] = [
  [5, 7],
  [3, 4, 13],
  [2, 3, 1, 33],
  [1, 64],
  [4, 1],
  [2, 6, 20], // last axis a multiple of 4: the wasm-SIMD kernels (simd.ts) on threaded wasm
];

describe('fused ops equal the composed reference (forward and every gradient)', () => {
  it('runs the fused kernels on cpu and wasm', async () => {
    for (const b of KERNEL_BACKENDS) {
      await tf.setBackend(b);
      expect(fusedKernelsAvailable(), b).toBe(true);
      const x = tf.ones([2, 4]);
      const prof = await tf.profile(() => tf.dispose([rmsNorm(x), scaledSoftmax(x, 2), biasGelu(x, tf.zeros([4]) as tf.Tensor1D)]));
      expect(prof.kernelNames, b).toEqual(expect.arrayContaining(['FluxRmsNorm', 'FluxBiasGelu']));
      // softmax's forward on wasm is tfjs's own Softmax kernel; its backward is always the Flux kernel
      const g = await tf.profile(() => tf.dispose(tf.grad((t: tf.Tensor) => scaledSoftmax(t, 2))(x)));
      expect(g.kernelNames, b).toContain('FluxScaledSoftmaxGrad');
      x.dispose();
    }
    await tf.setBackend('cpu');
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const rng = new Rng(`fused-${c.name}`);
      for (const shape of SHAPES) {
        const inputs = c.inputs(rng, shape);
        await tf.setBackend('cpu');
        const outShape = tf.tidy(() => c.ref(...inputs.map((i) => tf.tensor(i.data, i.shape, i.dtype))).shape);
        const up = randn(rng, outShape).data as Float32Array;
        const want = await evaluate('cpu', c.ref, inputs, up);
        const runs: Array<[string, BackendName, Op]> = BACKENDS.map((b) => [b, b, c.fused]);
        if (c.composed) runs.push(['cpu (composed.ts)', 'cpu', c.composed]);
        for (const [label, b, op] of runs) {
          const got = await evaluate(b, op, inputs, up);
          const tag = `${c.name} on ${label}, shape [${shape}]`;
          // A norm over C = 1 has a gradient of pure cancellation (≈ eps/x², see expectClose). The Flux kernels
          // accumulate in float64 and keep ~1e-7 absolute noise there; composed.ts's float32 formula
          // rstd·(g − x̂·mean(g·x̂)) (on tensorflow, or composed on cpu) keeps ~5e-7.
          const tol = (b === 'tensorflow' || label.includes('composed')) && C(shape) === 1 && /Norm/.test(c.name) ? 1e-4 : c.tol;
          expectClose(got.y, want.y, `${tag}: forward`, tol);
          expect(got.grads.length).toBe(want.grads.length);
          got.grads.forEach((g, i) => expectClose(g, want.grads[i], `${tag}: gradient of input ${i}`, tol));
        }
      }
    });
  }

  it('scaledDotAttention (batched heads, N ≠ M, dv ≠ d)', async () => {
    const rng = new Rng('attention');
    for (const [lead, N, M, d, dv, scale] of [
      [[2, 3], 5, 7, 4, 6, 0.5],
      [[1], 9, 9, 8, 8, 1 / Math.sqrt(8)],
      [[4], 1, 3, 2, 5, 1],
    ] as Array<[number[], number, number, number, number, number]>) {
      const inputs = [randn(rng, [...lead, N, d]), randn(rng, [...lead, M, d]), randn(rng, [...lead, M, dv])];
      const up = randn(rng, [...lead, N, dv]).data as Float32Array;
      const refOp: Op = (q, k, v) => reference.scaledDotAttention(q, k, v, scale);
      const want = await evaluate('cpu', refOp, inputs, up);
      const runs: Array<[string, BackendName, Op]> = BACKENDS.map((b) => [b, b, (q, k, v) => scaledDotAttention(q, k, v, scale)]);
      runs.push(['cpu (composed softmax)', 'cpu', (q, k, v) => composed.attention(q, k, v, scale)]);
      for (const [label, b, op] of runs) {
        const got = await evaluate(b, op, inputs, up);
        const tag = `attention on ${label}, q [${inputs[0].shape}]`;
        expectClose(got.y, want.y, `${tag}: forward`);
        got.grads.forEach((g, i) => expectClose(g, want.grads[i], `${tag}: gradient of input ${i}`));
      }
    }
  });

  it('the composed ops keep less for the backward pass than tfjs\'s gradient of the reference', async () => {
    // What stays alive between forward and backward: the tensors a tape holds after the forward (inputs excluded).
    const held = (f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): number => {
      let bytes = 0;
      tf.tidy(() => {
        const before = tf.memory().numBytes;
        tf.grad((t: tf.Tensor) => {
          const y = tf.sum(f(t));
          bytes = tf.memory().numBytes - before;
          return y;
        })(x);
      });
      return bytes;
    };
    const rng = new Rng('held');
    for (const b of BACKENDS) {
      await tf.setBackend(b);
      const x = tf.tensor(randn(rng, [2, 64, 8]).data, [2, 64, 8]);
      const refBytes = held((t) => reference.scaledDotAttention(t, t, t, 0.3), x);
      const opBytes = held((t) => composed.attention(t, t, t, 0.3), x);
      const probs = 2 * 64 * 64 * 4;
      // the op: the probabilities and a few [64, 8] tensors (q·scale, the output, what the tape clones); the
      // reference also keeps the scores and the scaled scores
      expect(opBytes, `${b}: composed ${opBytes} B vs reference ${refBytes} B`).toBeLessThanOrEqual(probs + 8 * x.size * 4);
      expect(refBytes, b).toBeGreaterThanOrEqual(3 * probs);
      x.dispose();
    }
    await tf.setBackend('cpu');
  });

  it('gatherRows (repeated and unsorted indices)', async () => {
    const rng = new Rng('gather-rows');
    for (const [B, N, Cn, K] of [
      [2, 7, 5, 4],
      [3, 5, 33, 9],
      [1, 1, 3, 2],
    ]) {
      const x = randn(rng, [B, N, Cn]);
      const idx = ints(rng, [B, K], N);
      const up = randn(rng, [B, K, Cn]).data as Float32Array;
      const want = await evaluate('cpu', (a, i) => reference.gatherRows(a as tf.Tensor3D, i as tf.Tensor2D), [x, idx], up);
      for (const b of BACKENDS) {
        const got = await evaluate(b, (a, i) => gatherRows(a as tf.Tensor3D, i as tf.Tensor2D), [x, idx], up);
        expectClose(got.y, want.y, `gatherRows on ${b}: forward`);
        expectClose(got.grads[0], want.grads[0], `gatherRows on ${b}: gradient`);
      }
    }
  });

  it('gelu / biasGelu give the same forward values with and without a gradient tape', async () => {
    const rng = new Rng('gelu-modes');
    const xi = randn(rng, [3, 5, 7], 3);
    const bi = randn(rng, [7]);
    for (const b of BACKENDS) {
      await tf.setBackend(b);
      const x = tf.tensor(xi.data, xi.shape);
      const bias = tf.tensor1d(bi.data as Float32Array);
      for (const op of [(t: tf.Tensor) => gelu(t), (t: tf.Tensor) => biasGelu(t, bias)]) {
        const plain = op(x);
        let taped: Float32Array | null = null;
        const g = tf.grad((t: tf.Tensor) => {
          const y = op(t);
          taped = (y.dataSync() as Float32Array).slice();
          return tf.sum(y);
        })(x);
        expect(Array.from(taped!)).toEqual(Array.from(plain.dataSync()));
        tf.dispose([plain, g]);
      }
      tf.dispose([x, bias]);
    }
  });

  it('falls back to the reference when disabled or for shapes the kernels do not cover', async () => {
    await tf.setBackend('cpu');
    setFusedKernelsEnabled(false);
    expect(fusedKernelsAvailable()).toBe(false);
    const x = tf.ones([2, 4]);
    const prof = await tf.profile(() => tf.dispose(rmsNorm(x)));
    expect(prof.kernelNames).not.toContain('FluxRmsNorm');
    setFusedKernelsEnabled(true);
    // Broadcast residual (y of another shape) runs the reference and keeps its semantics.
    const r = residual(x, tf.ones([4]));
    expect(Array.from(r.dataSync())).toEqual(new Array(8).fill(2));
    tf.dispose([x, r]);
  });
});

/** Central differences of L = Σ up ⊙ op(x) in float64 from the op's float32 outputs. */
function finiteDifference(op: Op, inputs: Input[], up: Float32Array, which: number, coords: number[], h: number): number[] {
  const loss = (inp: Input[]) =>
    tf.tidy(() => {
      const y = op(...inp.map((i) => tf.tensor(i.data, i.shape, i.dtype))).dataSync();
      let s = 0;
      for (let i = 0; i < y.length; i++) s += up[i] * y[i];
      return s;
    });
  return coords.map((k) => {
    const plus = inputs.map((i) => ({ ...i, data: i.data.slice() }));
    const minus = inputs.map((i) => ({ ...i, data: i.data.slice() }));
    plus[which].data[k] += h;
    minus[which].data[k] -= h;
    return (loss(plus) - loss(minus)) / (2 * h);
  });
}

describe('finite-difference gradient checks (every backend)', () => {
  const checks: Array<{ name: string; op: Op; inputs: (r: Rng) => Input[] }> = [
    { name: 'rmsNorm', op: (x, w) => rmsNorm(x, w as tf.Tensor1D), inputs: (r) => [randn(r, [3, 9], 1, 0.3), randn(r, [9], 0.5, 1)] },
    { name: 'scaledSoftmax', op: (x) => scaledSoftmax(x, 0.7), inputs: (r) => [randn(r, [2, 3, 7])] },
    { name: 'layerNorm', op: (x, w, b) => layerNorm(x, w as tf.Tensor1D, b as tf.Tensor1D), inputs: (r) => [randn(r, [4, 6]), randn(r, [6], 0.5, 1), randn(r, [6])] },
    { name: 'biasGelu', op: (x, b) => biasGelu(x, b as tf.Tensor1D), inputs: (r) => [randn(r, [5, 6], 1.5), randn(r, [6])] },
    { name: 'scaledDotAttention', op: (q, k, v) => scaledDotAttention(q, k, v, 0.6), inputs: (r) => [randn(r, [2, 4, 3]), randn(r, [2, 5, 3]), randn(r, [2, 5, 3])] },
  ];
  for (const ch of checks) {
    it(ch.name, async () => {
      const rng = new Rng(`fd-${ch.name}`);
      const inputs = ch.inputs(rng);
      const up = randn(rng, inputs[0].shape).data as Float32Array;
      for (const b of BACKENDS) {
        const got = await evaluate(b, ch.op, inputs, up);
        for (let which = 0; which < inputs.length; which++) {
          const size = inputs[which].data.length;
          const coords = [0, Math.floor(size / 2), size - 1, rng.int(size)];
          const fd = finiteDifference(ch.op, inputs, up, which, coords, 1e-2);
          coords.forEach((k, j) => {
            expect(Math.abs(got.grads[which][k] - fd[j]), `${ch.name} on ${b}: d/d input${which}[${k}] = ${got.grads[which][k]} vs fd ${fd[j]}`).toBeLessThan(
              3e-3 * (1 + Math.abs(fd[j])),
            );
          });
        }
      }
    });
  }
});

describe('gather gradient on wasm (UnsortedSegmentSum)', () => {
  it('tf.gather gradients on wasm equal cpu (axis 0 and 1, repeated indices)', async () => {
    const rng = new Rng('gather-grad');
    const x = randn(rng, [6, 5, 3]);
    for (const axis of [0, 1]) {
      const idx = ints(rng, [7], x.shape[axis]);
      const outShape = axis === 0 ? [7, 5, 3] : [6, 7, 3];
      const up = randn(rng, outShape).data as Float32Array;
      const op: Op = (a, i) => tf.gather(a, i, axis);
      const want = await evaluate('cpu', op, [x, idx], up);
      const got = await evaluate('wasm', op, [x, idx], up);
      expectClose(got.y, want.y, `gather axis ${axis}: forward`);
      expectClose(got.grads[0], want.grads[0], `gather axis ${axis}: gradient`);
    }
  });

  it('tf.unsortedSegmentSum on wasm matches cpu, dropping out-of-range ids', async () => {
    const rng = new Rng('segsum');
    const x = randn(rng, [8, 4]);
    const ids = { data: Int32Array.from([0, 2, 2, -1, 5, 1, 0, 9]) };
    const res: Float32Array[] = [];
    for (const b of KERNEL_BACKENDS) {
      await tf.setBackend(b);
      const t = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor(x.data, x.shape), tf.tensor1d(ids.data, 'int32'), 6));
      expect(t.shape).toEqual([6, 4]);
      res.push((t.dataSync() as Float32Array).slice());
      t.dispose();
    }
    expectClose(res[1], res[0], 'unsortedSegmentSum');
  });
});

describe('no tensor leaks', () => {
  for (const b of BACKENDS) {
    it(`forward + backward steps of a ViT-like chain on ${b}`, async () => {
      await tf.setBackend(b);
      const rng = new Rng(`leak-${b}`);
      const mk = (shape: number[], std = 1, mean = 0) => {
        const i = randn(rng, shape, std, mean);
        return tf.variable(tf.tensor(i.data, i.shape));
      };
      const x = tf.tensor(randn(rng, [2, 6, 8]).data, [2, 6, 8]) as tf.Tensor3D;
      const idx = tf.tensor2d([[0, 2, 5], [1, 1, 4]], [2, 3], 'int32');
      const p = {
        n1: mk([8], 0.1, 1),
        w1: mk([8, 16], 0.3),
        b1: mk([16]),
        w2: mk([16, 8], 0.3),
        b2: mk([8]),
        g: mk([8], 0.1),
        lw: mk([8], 0.1, 1),
        lb: mk([8]),
        s: mk([8]),
        sb: mk([8]),
      };
      const loss = () =>
        tf.tidy(() => {
          let h = gatherRows(channelAffine(x, p.s as tf.Tensor1D, p.sb as tf.Tensor1D) as tf.Tensor3D, idx);
          const a = scaledSoftmax(tf.matMul(h, h, false, true), 0.35);
          h = residual(h, tf.matMul(a, h) as tf.Tensor3D) as tf.Tensor3D;
          h = residual(h, scaledDotAttention(h, h, h, 0.5) as tf.Tensor3D) as tf.Tensor3D;
          const m = linear(biasGelu(linear(rmsNorm(h, p.n1 as tf.Tensor1D), p.w1 as tf.Tensor2D), p.b1 as tf.Tensor1D), p.w2 as tf.Tensor2D, p.b2 as tf.Tensor1D);
          h = residual(h, m, p.g as tf.Tensor1D) as tf.Tensor3D;
          return tf.mean(tf.square(gelu(layerNorm(h, p.lw as tf.Tensor1D, p.lb as tf.Tensor1D))));
        }) as tf.Scalar;
      const opt = tf.train.sgd(0.01);
      // one warm-up step (the optimizer creates its state)
      opt.minimize(loss);
      const before = tf.memory().numTensors;
      const ids = tf.engine().backend.numDataIds();
      for (let i = 0; i < 5; i++) {
        const { value, grads } = tf.variableGrads(loss);
        expect(Object.keys(grads)).toHaveLength(10);
        for (const g of Object.values(grads)) expect(tf.tidy(() => Number.isFinite(tf.sum(g).dataSync()[0]))).toBe(true);
        tf.dispose([value, ...Object.values(grads)]);
        // forward only (no tape)
        loss().dispose();
        opt.minimize(loss)?.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.engine().backend.numDataIds()).toBe(ids);
      tf.dispose([x, idx, ...Object.values(p)]);
      opt.dispose();
    });
  }
});

describe('parameters typed as any tf.Tensor, ranks checked at run time', () => {
  it('a wrong-rank weight or bias is a RangeError that names it', async () => {
    await initBackend({ backend: 'cpu', log: false });
    const x = tf.ones([2, 4]);
    expect(() => linear(x, tf.ones([4]))).toThrow(/^linear: weight \[in, out\] must be 2-D, got shape \[4\]$/);
    expect(() => linear(x, tf.ones([4, 3]), tf.ones([1, 3]))).toThrow(/linear: bias \[out\] must be 1-D, got shape \[1,3\]/);
    expect(() => rmsNorm(x, tf.ones([1, 4]))).toThrow(/rmsNorm: weight must be 1-D/);
    // What tf.reshape / tf.variable return (Tensor<Rank>) is accepted and computes.
    const w: tf.Tensor = tf.reshape(tf.ones([12]), [4, 3]);
    expect(linear(x, w).shape).toEqual([2, 3]);
  });
});
