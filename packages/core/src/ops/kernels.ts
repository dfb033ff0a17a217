/**
 * Forward and backward kernels of the ViT's elementwise chains, each one pass over rows of the last axis
 * (plain JS loops over typed arrays; registered for `cpu` and `wasm` by {@link registerFluxKernels}).
 *
 * Conventions: `C` is the last-axis size, a "row" is one last-axis vector; per-channel parameter gradients
 * (weight, bias, gamma, scale) sum over every row and accumulate in float64. Row statistics saved for the
 * backward pass (rstd, mean) are float32 tensors of shape [rows].
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

import { lastDim, registerFluxKernel, rowsOf, withF64Accumulators, type Arr, type FluxKernelSpec } from './kernel-host.js';

type Ins = Array<Arr | undefined>;
type Infos = Array<TensorInfo | undefined>;

const num = (attrs: NamedAttrMap, k: string): number => attrs[k] as number;

// ---------------------------------------------------------------------------------------------- exp, erf

// Math.exp costs ~10 ns in V8; these stay at a few ns and within float32 precision.

const LN2 = Math.LN2;
const INV_LN2 = 1 / Math.LN2;
const POW2_BIAS = 1100;
/** POW2[k + POW2_BIAS] = 2^k for k in [-1100, 1023] (subnormals and 0 at the low end). */
const POW2 = new Float64Array(POW2_BIAS + 1024);
for (let k = 0; k < POW2.length; k++) POW2[k] = Math.pow(2, k - POW2_BIAS);

/**
 * e^v by range reduction v = k·ln2 + r, |r| ≤ ln2/2, and a degree-7 Taylor polynomial for e^r
 * (relative error < 1e-8, far below float32's 6e-8). NaN stays NaN, −∞ gives 0, overflow gives ∞.
 */
export function fastExp(v: number): number {
  if (!(v > -745)) return v !== v ? v : 0;
  if (v > 709) return Infinity;
  const k = Math.floor(v * INV_LN2 + 0.5);
  const r = v - k * LN2;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (1 / 5040)))))));
  return p * POW2[k + POW2_BIAS];
}

/**
 * erf(z): a rational minimax fit on [−4, 4] (Eigen's float erf; absolute error < 7e-8, no exp) for
 * z ≥ −2, and 1 − erfc(|z|) from Numerical Recipes' Chebyshev fit of erfc (relative error < 1.2e-7) below,
 * so GELU's negative tail 0.5·x·erfc(|x|/√2) keeps relative accuracy.
 */
export function erf(z: number): number {
  if (z < -2) {
    const a = -z;
    const t = 1 / (1 + 0.5 * a);
    const r =
      t *
      fastExp(
        -a * a -
          1.26551223 +
          t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
    return r - 1;
  }
  if (z > 4) return 1;
  if (z !== z) return z;
  const z2 = z * z;
  let p = -2.72614225801306e-10;
  p = p * z2 + 2.77068142495902e-8;
  p = p * z2 - 2.10102402082508e-6;
  p = p * z2 - 5.69250639462346e-5;
  p = p * z2 - 7.34990630326855e-4;
  p = p * z2 - 2.95459980854025e-3;
  p = p * z2 - 1.60960333262415e-2;
  let q = -1.45660718464996e-5;
  q = q * z2 - 2.13374055278905e-4;
  q = q * z2 - 1.68282697438203e-3;
  q = q * z2 - 7.37332916720468e-3;
  q = q * z2 - 1.42647390514189e-2;
  return (z * p) / q;
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** gelu(v) = v·Φ(v). */
function geluAt(v: number): number {
  return 0.5 * v * (1 + erf(v * SQRT1_2));
}

// ---------------------------------------------------------------------------------------------- specs

const sameAsFirst = (ins: Infos) => [{ shape: ins[0]!.shape }];
const rowVec = (t: TensorInfo) => [rowsOf(t.shape)];
const chanVec = (t: TensorInfo) => [lastDim(t.shape)];

/** Σ over rows of column c, written to out (float64 accumulation). */
function storeColumnSums(acc: Float64Array, out: Arr): void {
  for (let c = 0; c < acc.length; c++) out[c] = acc[c];
}

const rmsNorm: FluxKernelSpec = {
  name: 'FluxRmsNorm',
  inputs: ['x', 'weight'],
  outputs: (ins) => [{ shape: ins[0]!.shape }, { shape: rowVec(ins[0]!) }],
  run([x, w], [y, rstd], [xi], attrs) {
    const C = lastDim(xi!.shape);
    const R = rowsOf(xi!.shape);
    const eps = num(attrs, 'eps');
    for (let r = 0, o = 0; r < R; r++, o += C) {
      let s = 0;
      for (let c = 0; c < C; c++) {
        const v = x![o + c];
        s += v * v;
      }
      const ri = Math.fround(1 / Math.sqrt(s / C + eps));
      rstd[r] = ri;
      if (w) for (let c = 0; c < C; c++) y[o + c] = Math.fround(x![o + c] * ri) * w[c];
      else for (let c = 0; c < C; c++) y[o + c] = x![o + c] * ri;
    }
  },
  runSimd([x, w], [y, rstd], [xi], attrs, k) {
    const C = lastDim(xi!.shape);
    if (!w || C % 4 !== 0) return false;
    k.rmsNorm(x!.byteOffset, w.byteOffset, y.byteOffset, rstd.byteOffset, rowsOf(xi!.shape), C, num(attrs, 'eps'));
    return true;
  },
};

const rmsNormGrad: FluxKernelSpec = {
  name: 'FluxRmsNormGrad',
  inputs: ['dy', 'x', 'rstd', 'weight'],
  outputs: (ins) => (ins[3] ? [{ shape: ins[0]!.shape }, { shape: chanVec(ins[0]!) }] : [{ shape: ins[0]!.shape }]),
  run([dy, x, rstd, w], [dx, dw], [dyi]) {
    const C = lastDim(dyi!.shape);
    const R = rowsOf(dyi!.shape);
    const acc = w ? new Float64Array(C) : null;
    for (let r = 0, o = 0; r < R; r++, o += C) {
      const ri = rstd![r];
      let dot = 0;
      if (w) {
        for (let c = 0; c < C; c++) {
          const d = dy![o + c];
          const xh = x![o + c] * ri;
          dot += d * w[c] * xh;
          acc![c] += d * xh;
        }
        const m = dot / C;
        for (let c = 0; c < C; c++) dx[o + c] = ri * (dy![o + c] * w[c] - x![o + c] * ri * m);
      } else {
        for (let c = 0; c < C; c++) dot += dy![o + c] * x![o + c];
        const m = (dot * ri * ri) / C;
        for (let c = 0; c < C; c++) dx[o + c] = ri * (dy![o + c] - x![o + c] * m);
      }
    }
    if (acc) storeColumnSums(acc, dw);
  },
  runSimd([dy, x, rstd, w], [dx, dw], [dyi], _attrs, k, backend) {
    const C = lastDim(dyi!.shape);
    if (!w || C % 4 !== 0) return false;
    withF64Accumulators(backend, C, [dw], ([acc]) =>
      k.rmsNormGrad(dy!.byteOffset, x!.byteOffset, rstd!.byteOffset, w.byteOffset, dx.byteOffset, acc!, rowsOf(dyi!.shape), C),
    );
    return true;
  },
};

const layerNorm: FluxKernelSpec = {
  name: 'FluxLayerNorm',
  inputs: ['x', 'weight', 'bias'],
  outputs: (ins) => [{ shape: ins[0]!.shape }, { shape: rowVec(ins[0]!) }, { shape: rowVec(ins[0]!) }],
  run([x, w, b], [y, mean, rstd], [xi], attrs) {
    const C = lastDim(xi!.shape);
    const R = rowsOf(xi!.shape);
    const eps = num(attrs, 'eps');
    for (let r = 0, o = 0; r < R; r++, o += C) {
      let s = 0;
      for (let c = 0; c < C; c++) s += x![o + c];
      const mu = Math.fround(s / C);
      let q = 0;
      for (let c = 0; c < C; c++) {
        const d = x![o + c] - mu;
        q += d * d;
      }
      const ri = Math.fround(1 / Math.sqrt(q / C + eps));
      mean[r] = mu;
      rstd[r] = ri;
      for (let c = 0; c < C; c++) y[o + c] = (x![o + c] - mu) * ri * w![c] + b![c];
    }
  },
};

const layerNormGrad: FluxKernelSpec = {
  name: 'FluxLayerNormGrad',
  inputs: ['dy', 'x', 'mean', 'rstd', 'weight'],
  outputs: (ins) => [{ shape: ins[0]!.shape }, { shape: chanVec(ins[0]!) }, { shape: chanVec(ins[0]!) }],
  run([dy, x, mean, rstd, w], [dx, dw, db], [dyi]) {
    const C = lastDim(dyi!.shape);
    const R = rowsOf(dyi!.shape);
    const accW = new Float64Array(C);
    const accB = new Float64Array(C);
    for (let r = 0, o = 0; r < R; r++, o += C) {
      const mu = mean![r];
      const ri = rstd![r];
      let sg = 0;
      let sgx = 0;
      for (let c = 0; c < C; c++) {
        const d = dy![o + c];
        const xh = (x![o + c] - mu) * ri;
        const g = d * w![c];
        sg += g;
        sgx += g * xh;
        accW[c] += d * xh;
        accB[c] += d;
      }
      const mg = sg / C;
      const mgx = sgx / C;
      for (let c = 0; c < C; c++) dx[o + c] = ri * (dy![o + c] * w![c] - mg - (x![o + c] - mu) * ri * mgx);
    }
    storeColumnSums(accW, dw);
    storeColumnSums(accB, db);
  },
};

const biasGelu: FluxKernelSpec = {
  name: 'FluxBiasGelu',
  inputs: ['x', 'bias'],
  outputs: sameAsFirst,
  run([x, b], [y], [xi]) {
    const n = y.length;
    if (!b) {
      for (let i = 0; i < n; i++) y[i] = geluAt(x![i]);
      return;
    }
    const C = lastDim(xi!.shape);
    for (let o = 0; o < n; o += C) for (let c = 0; c < C; c++) y[o + c] = geluAt(Math.fround(x![o + c] + b[c]));
  },
  runSimd([x, b], [y], [xi], _attrs, k) {
    const C = lastDim(xi!.shape);
    if (!b || C % 4 !== 0) return false;
    k.biasGelu(x!.byteOffset, b.byteOffset, y.byteOffset, 0, rowsOf(xi!.shape), C);
    return true;
  },
};

/**
 * Training-mode forward: y = gelu(x + b) and the derivative d = gelu'(x + b), computed in the same pass
 * (erf is shared), so the backward pass is a single multiply. d replaces x as the saved tensor.
 */
const biasGeluTrain: FluxKernelSpec = {
  name: 'FluxBiasGeluTrain',
  inputs: ['x', 'bias'],
  outputs: (ins) => [{ shape: ins[0]!.shape }, { shape: ins[0]!.shape }],
  run([x, b], [y, d], [xi]) {
    const n = y.length;
    const C = lastDim(xi!.shape);
    for (let o = 0; o < n; o += C) {
      for (let c = 0; c < C; c++) {
        const v = b ? Math.fround(x![o + c] + b[c]) : x![o + c];
        const cdf = 0.5 * (1 + erf(v * SQRT1_2));
        y[o + c] = v * cdf;
        d[o + c] = cdf + v * INV_SQRT_2PI * fastExp(-0.5 * v * v);
      }
    }
  },
  runSimd([x, b], [y, d], [xi], _attrs, k) {
    const C = lastDim(xi!.shape);
    if (!b || C % 4 !== 0) return false;
    k.biasGelu(x!.byteOffset, b.byteOffset, y.byteOffset, d.byteOffset, rowsOf(xi!.shape), C);
    return true;
  },
};

/** dx = dy ⊙ d (d = gelu' saved by FluxBiasGeluTrain); with `hasBias`, also db = Σ_rows dx. */
const geluBackward: FluxKernelSpec = {
  name: 'FluxGeluBackward',
  inputs: ['dy', 'deriv'],
  outputs: (ins, attrs) => (attrs.hasBias ? [{ shape: ins[0]!.shape }, { shape: chanVec(ins[0]!) }] : [{ shape: ins[0]!.shape }]),
  run([dy, d], [dx, db], [dyi], attrs) {
    const n = dx.length;
    if (!attrs.hasBias) {
      for (let i = 0; i < n; i++) dx[i] = dy![i] * d![i];
      return;
    }
    const C = lastDim(dyi!.shape);
    const acc = new Float64Array(C);
    for (let o = 0; o < n; o += C) {
      for (let c = 0; c < C; c++) {
        const g = Math.fround(dy![o + c] * d![o + c]);
        dx[o + c] = g;
        acc[c] += g;
      }
    }
    storeColumnSums(acc, db);
  },
  runSimd([dy, d], [dx, db], [dyi], attrs, k, backend) {
    const C = lastDim(dyi!.shape);
    if (C % 4 !== 0) return false;
    const R = rowsOf(dyi!.shape);
    if (!attrs.hasBias) k.colGrad(dy!.byteOffset, d!.byteOffset, 0, dx.byteOffset, 0, 0, R, C, 2);
    else withF64Accumulators(backend, C, [db], ([acc]) => k.colGrad(dy!.byteOffset, d!.byteOffset, 0, dx.byteOffset, acc!, 0, R, C, 2));
    return true;
  },
};

const residual: FluxKernelSpec = {
  name: 'FluxResidual',
  inputs: ['x', 'y', 'gamma'],
  outputs: sameAsFirst,
  run([x, y, g], [out], [xi]) {
    const n = out.length;
    if (!g) {
      for (let i = 0; i < n; i++) out[i] = x![i] + y![i];
      return;
    }
    const C = lastDim(xi!.shape);
    for (let o = 0; o < n; o += C) for (let c = 0; c < C; c++) out[o + c] = x![o + c] + Math.fround(y![o + c] * g[c]);
  },
  runSimd([x, y, g], [out], [xi], _attrs, k) {
    const C = lastDim(xi!.shape);
    if (!g || C % 4 !== 0) return false;
    k.rowOp(x!.byteOffset, y!.byteOffset, g.byteOffset, out.byteOffset, rowsOf(xi!.shape), C, 0);
    return true;
  },
};

/** Gradients of `x + gamma⊙y` w.r.t. y and gamma (w.r.t. x it is dy itself). */
const residualGrad: FluxKernelSpec = {
  name: 'FluxResidualGrad',
  inputs: ['dy', 'y', 'gamma'],
  outputs: (ins) => [{ shape: ins[0]!.shape }, { shape: chanVec(ins[0]!) }],
  run([dy, y, g], [dyy, dg], [dyi]) {
    const C = lastDim(dyi!.shape);
    const n = dyy.length;
    const acc = new Float64Array(C);
    for (let o = 0; o < n; o += C) {
      for (let c = 0; c < C; c++) {
        const d = dy![o + c];
        dyy[o + c] = d * g![c];
        acc[c] += d * y![o + c];
      }
    }
    storeColumnSums(acc, dg);
  },
  runSimd([dy, y, g], [dyy, dg], [dyi], _attrs, k, backend) {
    const C = lastDim(dyi!.shape);
    if (C % 4 !== 0) return false;
    withF64Accumulators(backend, C, [dg], ([acc]) =>
      k.colGrad(dy!.byteOffset, y!.byteOffset, g!.byteOffset, dyy.byteOffset, acc!, 0, rowsOf(dyi!.shape), C, 0),
    );
    return true;
  },
};

const channelAffine: FluxKernelSpec = {
  name: 'FluxChannelAffine',
  inputs: ['x', 'scale', 'bias'],
  outputs: sameAsFirst,
  run([x, s, b], [y], [xi]) {
    const C = lastDim(xi!.shape);
    const n = y.length;
    if (b) for (let o = 0; o < n; o += C) for (let c = 0; c < C; c++) y[o + c] = Math.fround(x![o + c] * s![c]) + b[c];
    else for (let o = 0; o < n; o += C) for (let c = 0; c < C; c++) y[o + c] = x![o + c] * s![c];
  },
  runSimd([x, s, b], [y], [xi], _attrs, k) {
    const C = lastDim(xi!.shape);
    if (!b || C % 4 !== 0) return false;
    k.rowOp(x!.byteOffset, s!.byteOffset, b.byteOffset, y.byteOffset, rowsOf(xi!.shape), C, 1);
    return true;
  },
};

const channelAffineGrad: FluxKernelSpec = {
  name: 'FluxChannelAffineGrad',
  inputs: ['dy', 'x', 'scale'],
  outputs: (ins, attrs) =>
    attrs.hasBias
      ? [{ shape: ins[0]!.shape }, { shape: chanVec(ins[0]!) }, { shape: chanVec(ins[0]!) }]
      : [{ shape: ins[0]!.shape }, { shape: chanVec(ins[0]!) }],
  run([dy, x, s], [dx, ds, db], [dyi], attrs) {
    const C = lastDim(dyi!.shape);
    const n = dx.length;
    const accS = new Float64Array(C);
    const accB = attrs.hasBias ? new Float64Array(C) : null;
    for (let o = 0; o < n; o += C) {
      for (let c = 0; c < C; c++) {
        const d = dy![o + c];
        dx[o + c] = d * s![c];
        accS[c] += d * x![o + c];
        if (accB) accB[c] += d;
      }
    }
    storeColumnSums(accS, ds);
    if (accB) storeColumnSums(accB, db);
  },
  runSimd([dy, x, s], [dx, ds, db], [dyi], attrs, k, backend) {
    const C = lastDim(dyi!.shape);
    if (C % 4 !== 0) return false;
    withF64Accumulators(backend, C, attrs.hasBias ? [ds, db] : [ds], ([accS, accB]) =>
      k.colGrad(dy!.byteOffset, x!.byteOffset, s!.byteOffset, dx.byteOffset, accS!, accB ?? 0, rowsOf(dyi!.shape), C, 1),
    );
    return true;
  },
};

const scaledSoftmax: FluxKernelSpec = {
  name: 'FluxScaledSoftmax',
  inputs: ['x'],
  outputs: sameAsFirst,
  run([x], [y], [xi], attrs) {
    const C = lastDim(xi!.shape);
    const n = y.length;
    const scale = num(attrs, 'scale');
    for (let o = 0; o < n; o += C) {
      let m = -Infinity;
      for (let c = 0; c < C; c++) {
        const v = x![o + c] * scale;
        y[o + c] = v; // the row stays in L1 for the next two passes
        if (v > m) m = v;
      }
      m = Math.fround(m);
      let s = 0;
      for (let c = 0; c < C; c++) {
        const e = fastExp(y[o + c] - m);
        y[o + c] = e;
        s += e;
      }
      const inv = 1 / s;
      for (let c = 0; c < C; c++) y[o + c] *= inv;
    }
  },
};

/** dx = scale · y ⊙ (g − Σ g⊙y) per row. */
const scaledSoftmaxGrad: FluxKernelSpec = {
  name: 'FluxScaledSoftmaxGrad',
  inputs: ['dy', 'y'],
  outputs: sameAsFirst,
  run([dy, y], [dx], [dyi], attrs) {
    const C = lastDim(dyi!.shape);
    const n = dx.length;
    const scale = num(attrs, 'scale');
    for (let o = 0; o < n; o += C) {
      let s = 0;
      for (let c = 0; c < C; c++) s += dy![o + c] * y![o + c];
      for (let c = 0; c < C; c++) dx[o + c] = scale * y![o + c] * (dy![o + c] - s);
    }
  },
  runSimd([dy, y], [dx], [dyi], attrs, k) {
    const C = lastDim(dyi!.shape);
    if (C % 4 !== 0) return false;
    k.softmaxGrad(dy!.byteOffset, y!.byteOffset, dx.byteOffset, rowsOf(dyi!.shape), C, num(attrs, 'scale'));
    return true;
  },
};

const biasAdd: FluxKernelSpec = {
  name: 'FluxBiasAdd',
  inputs: ['x', 'bias'],
  outputs: sameAsFirst,
  run([x, b], [y], [xi]) {
    const C = lastDim(xi!.shape);
    const n = y.length;
    for (let o = 0; o < n; o += C) for (let c = 0; c < C; c++) y[o + c] = x![o + c] + b![c];
  },
  runSimd([x, b], [y], [xi], _attrs, k) {
    const C = lastDim(xi!.shape);
    if (C % 4 !== 0) return false;
    k.rowOp(x!.byteOffset, 0, b!.byteOffset, y.byteOffset, rowsOf(xi!.shape), C, 2);
    return true;
  },
};

/** Σ over all rows: [..., C] → [C]. */
const sumRows: FluxKernelSpec = {
  name: 'FluxSumRows',
  inputs: ['x'],
  outputs: (ins) => [{ shape: chanVec(ins[0]!) }],
  run([x], [out], [xi]) {
    const C = lastDim(xi!.shape);
    const n = x!.length;
    const acc = new Float64Array(C);
    for (let o = 0; o < n; o += C) for (let c = 0; c < C; c++) acc[c] += x![o + c];
    storeColumnSums(acc, out);
  },
  runSimd([x], [out], [xi], _attrs, k, backend) {
    const C = lastDim(xi!.shape);
    if (C % 4 !== 0) return false;
    withF64Accumulators(backend, C, [out], ([acc]) => k.colGrad(x!.byteOffset, 0, 0, 0, acc!, 0, rowsOf(xi!.shape), C, 3));
    return true;
  },
};

function checkIndex(i: number, n: number): void {
  if (!(i >= 0 && i < n)) throw new Error(`gatherRows: index ${i} is not in [0, ${n - 1}]`);
}

/** x [B, N, C], indices [B, K] → [B, K, C]. */
const gatherRows: FluxKernelSpec = {
  name: 'FluxGatherRows',
  inputs: ['x', 'indices'],
  outputs: (ins) => [{ shape: [ins[0]!.shape[0], ins[1]!.shape[1], ins[0]!.shape[2]] }],
  run([x, idx], [out], [xi, ii]) {
    const [B, N, C] = xi!.shape;
    const K = ii!.shape[1];
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        const i = idx![b * K + k];
        checkIndex(i, N);
        const src = (b * N + i) * C;
        const dst = (b * K + k) * C;
        if (C >= 32) out.set(x!.subarray(src, src + C), dst);
        else for (let c = 0; c < C; c++) out[dst + c] = x![src + c];
      }
    }
  },
};

/** The gradient of gatherRows: dy [B, K, C] scattered (summed) into [B, N, C]. */
const scatterRows: FluxKernelSpec = {
  name: 'FluxScatterRows',
  inputs: ['dy', 'indices'],
  outputs: (ins, attrs) => [{ shape: [ins[0]!.shape[0], num(attrs, 'n'), ins[0]!.shape[2]] }],
  run([dy, idx], [dx], [dyi, ii], attrs) {
    const [B, K, C] = dyi!.shape;
    const N = num(attrs, 'n');
    dx.fill(0);
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < ii!.shape[1]; k++) {
        const i = idx![b * K + k];
        checkIndex(i, N);
        const dst = (b * N + i) * C;
        const src = (b * K + k) * C;
        for (let c = 0; c < C; c++) dx[dst + c] += dy![src + c];
      }
    }
  },
};

export const FLUX_KERNELS: readonly FluxKernelSpec[] = [
  rmsNorm,
  rmsNormGrad,
  layerNorm,
  layerNormGrad,
  biasGelu,
  biasGeluTrain,
  geluBackward,
  residual,
  residualGrad,
  channelAffine,
  channelAffineGrad,
  scaledSoftmax,
  scaledSoftmaxGrad,
  biasAdd,
  sumRows,
  gatherRows,
  scatterRows,
];

let registered = false;

/** Registers every Flux kernel for `cpu` and `wasm` (idempotent). */
export function registerFluxKernels(): void {
  if (registered) return;
  for (const spec of FLUX_KERNELS) registerFluxKernel(spec);
  registered = true;
}
