/**
 * Global positional embedding: 3D sin-cos init (MVD / the release's `get_3d_sincos_pos_embed`) and the
 * resize to the input grid — linear over T, bicubic over H and W, with PyTorch `F.interpolate`
 * semantics (`align_corners=False`, cubic a = −0.75, border-clamped taps). The resize is written as
 * small interpolation matrices applied with matmuls, so it is differentiable and runs on every backend
 * (the release calls `.cuda()` here and has no CPU path).
 */
import * as tf from '@tensorflow/tfjs-core';

function sincos1d(dim: number, pos: number): Float64Array {
  // [sin(pos·ω_0..), cos(pos·ω_0..)], ω_d = 1 / 10000^(d / (dim/2)) (computed in float32 as numpy does)
  const half = dim / 2;
  const out = new Float64Array(dim);
  for (let d = 0; d < half; d++) {
    const omega = Math.fround(1 / Math.pow(10000, Math.fround(d / half)));
    const a = Math.fround(pos * omega);
    out[d] = Math.sin(a);
    out[half + d] = Math.cos(a);
  }
  return out;
}

/**
 * 3D sin-cos table [(cls?) + T·G·G, dim], row-major: first dim/4 channels encode t, the rest the 2-D
 * spatial position (first half the column w, second half the row h — numpy meshgrid 'xy' order, as the
 * release). The CLS row (if any) is zeros.
 */
export function sincos3d(dim: number, grid: number, frames: number, clsToken: boolean): Float32Array {
  if (dim % 4 !== 0) throw new Error(`sincos3d: dim ${dim} must be divisible by 4`);
  const dt = dim / 4;
  const ds = dim - dt;
  const rows = frames * grid * grid + (clsToken ? 1 : 0);
  const out = new Float32Array(rows * dim);
  let r = clsToken ? 1 : 0;
  for (let t = 0; t < frames; t++) {
    const et = sincos1d(dt, t);
    for (let h = 0; h < grid; h++) {
      const eh = sincos1d(ds / 2, h);
      for (let w = 0; w < grid; w++) {
        const ew = sincos1d(ds / 2, w);
        const base = r * dim;
        out.set(et, base);
        out.set(ew, base + dt);
        out.set(eh, base + dt + ds / 2);
        r++;
      }
    }
  }
  return out;
}

/** PyTorch `interpolate(mode='linear', align_corners=False)` as a matrix [outSize, inSize]. */
export function linearResizeMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const l1 = src - i0;
    m[o * inSize + i0] += 1 - l1;
    m[o * inSize + i1] += l1;
  }
  return m;
}

const CUBIC_A = -0.75;
function cubic1(x: number): number {
  return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
}
function cubic2(x: number): number {
  return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A;
}

/** PyTorch `interpolate(mode='bicubic', align_corners=False)` along one axis as a matrix [outSize, inSize]. */
export function cubicResizeMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = (o + 0.5) * scale - 0.5; // no clamp for cubic (PyTorch area_pixel_compute_source_index)
    const i = Math.floor(src);
    const t = src - i;
    const w = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
    for (let k = 0; k < 4; k++) {
      const idx = Math.min(Math.max(i - 1 + k, 0), inSize - 1);
      m[o * inSize + idx] += w[k]!;
    }
  }
  return m;
}

/** Kronecker product of row-major matrices a [ar, ac] and b [br, bc] → [ar·br, ac·bc]. */
function kron(a: Float32Array, ar: number, ac: number, b: Float32Array, br: number, bc: number): Float32Array {
  const out = new Float32Array(ar * br * ac * bc);
  const cols = ac * bc;
  for (let i = 0; i < ar; i++)
    for (let j = 0; j < ac; j++) {
      const av = a[i * ac + j]!;
      if (av === 0) continue;
      for (let k = 0; k < br; k++)
        for (let l = 0; l < bc; l++) out[(i * br + k) * cols + j * bc + l] = av * b[k * bc + l]!;
    }
  return out;
}

/** Grid of a positional table: frames × rows × cols. */
export interface Grid3 {
  t: number;
  h: number;
  w: number;
}

/**
 * Resizes patch positions `pos` [T0·H0·W0, C] (t, h, w row-major) to [T·H·W, C]: linear over T, then
 * bicubic over (H, W). Identity axes are skipped.
 */
export function resizePosEmbed(pos: tf.Tensor2D, from: Grid3, to: Grid3): tf.Tensor2D {
  return tf.tidy(() => {
    const C = pos.shape[1];
    let x: tf.Tensor2D = pos;
    const s0 = from.h * from.w;
    if (from.t !== to.t) {
      const m = tf.tensor2d(linearResizeMatrix(from.t, to.t), [to.t, from.t]);
      x = tf.reshape(tf.matMul(m, tf.reshape(x, [from.t, s0 * C])), [to.t * s0, C]);
    }
    if (from.h !== to.h || from.w !== to.w) {
      const mh = cubicResizeMatrix(from.h, to.h);
      const mw = cubicResizeMatrix(from.w, to.w);
      const m = tf.tensor2d(kron(mh, to.h, from.h, mw, to.w, from.w), [to.h * to.w, s0]);
      // [T, S0, C] → [S0, T·C] → m @ → [S, T, C] → [T, S, C]
      const xt = tf.reshape(tf.transpose(tf.reshape(x, [to.t, s0, C]), [1, 0, 2]), [s0, to.t * C]);
      const y = tf.reshape(tf.matMul(m, xt), [to.h * to.w, to.t, C]);
      x = tf.reshape(tf.transpose(y, [1, 0, 2]), [to.t * to.h * to.w, C]);
    }
    return x === pos ? tf.clone(pos) : x;
  });
}
