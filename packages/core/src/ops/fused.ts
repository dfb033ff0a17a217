/**
 * The ViT's elementwise chains and linear layers as single ops.
 *
 * CONTRACT (used by @flux/vit, @flux/umt, the apps and the core bench): the signatures below are fixed.
 *
 * On the `cpu` and `wasm` backends each op is one Flux kernel forward and one backward (plain JS loops
 * over the tensors' memory, see kernels.ts), wired together with `tf.customGrad`; gradients flow to every
 * input (weights, biases and gammas sum over all leading axes). On backends without Flux kernels
 * (tensorflow, webgl, webgpu) each op is a composition of tfjs ops with a hand-written gradient that saves
 * only what it needs (composed.ts). For inputs neither covers (non-float32, broadcasting shapes, empty
 * tensors), and when the fused paths are switched off, the op runs the composed-tfjs reference in
 * reference.ts with tfjs's own gradients, which is also what the tests compare against.
 */
import * as tf from '@tensorflow/tfjs-core';

import * as composed from './composed.js';
import { registerFluxKernels } from './kernels.js';
import * as ref from './reference.js';
import { installWasmSegmentSum } from './segment-sum.js';

registerFluxKernels();
installWasmSegmentSum();

let enabled = true;

/** Turns the fused kernels and compositions on or off (off: every op runs the composed reference). For comparisons. */
export function setFusedKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** Whether the fused kernels run on the active backend (cpu or wasm, and not disabled). */
export function fusedKernelsAvailable(): boolean {
  return enabled && tf.getKernel('FluxRmsNorm', tf.getBackend()) != null;
}

type Save = tf.GradSaveFunc;
type Grad = { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };

function run(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number | boolean> = {}): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
  return Array.isArray(out) ? out : [out as tf.Tensor];
}

function custom(f: (...args: Array<tf.Tensor | Save>) => Grad): (...xs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
}

/** float32 non-empty x of rank ≥ 1, every per-channel vector [C] float32: the shapes both fused paths cover. */
function covered(x: tf.Tensor, vecs: Array<tf.Tensor | null | undefined>): boolean {
  if (x.dtype !== 'float32' || x.rank < 1 || x.size === 0) return false;
  const C = x.shape[x.rank - 1];
  for (const v of vecs) {
    if (v != null && (v.dtype !== 'float32' || v.rank !== 1 || v.shape[0] !== C)) return false;
  }
  return true;
}

/** Fused-kernel path usable: Flux kernels on this backend and the inputs covered. */
function fast(x: tf.Tensor, ...vecs: Array<tf.Tensor | null | undefined>): boolean {
  return fusedKernelsAvailable() && covered(x, vecs);
}

/** Composed-with-gradient path (composed.ts): a backend without Flux kernels, the inputs covered. */
function viaComposed(x: tf.Tensor, ...vecs: Array<tf.Tensor | null | undefined>): boolean {
  return enabled && tf.getKernel('FluxRmsNorm', tf.getBackend()) == null && covered(x, vecs);
}

/**
 * The parameters below take any `tf.Tensor` (what `tf.variable`, `tf.randomNormal` or a loaded state dict give a
 * TypeScript user) and check their rank at run time.
 */
function rank2(t: tf.Tensor, what: string): tf.Tensor2D {
  if (t == null || t.rank !== 2) throw new RangeError(`${what} must be 2-D, got ${t == null ? String(t) : `shape [${t.shape.join(',')}]`}`);
  return t as tf.Tensor2D;
}
function rank1<T extends tf.Tensor | null | undefined>(t: T, what: string): tf.Tensor1D | Exclude<T, tf.Tensor> {
  if (t != null && t.rank !== 1) throw new RangeError(`${what} must be 1-D, got shape [${t.shape.join(',')}]`);
  return t as tf.Tensor1D | Exclude<T, tf.Tensor>;
}

/** `x @ weight (+ bias)` over the last axis. `weight` is [in, out] (tfjs order, not PyTorch's [out, in]). */
export function linear(x: tf.Tensor, weightIn: tf.Tensor, biasIn?: tf.Tensor | null): tf.Tensor {
  const weight = rank2(weightIn, 'linear: weight [in, out]');
  const bias = rank1(biasIn, 'linear: bias [out]');
  const outDim = weight.shape[1];
  const shapesOk = x.rank >= 1 && weight.dtype === 'float32' && weight.rank === 2 && x.shape[x.rank - 1] === weight.shape[0];
  const biasOk = bias != null && bias.dtype === 'float32' && bias.rank === 1 && bias.shape[0] === outDim;
  if (shapesOk && (bias == null || biasOk) && viaComposed(x)) return composed.linear(x, weight, bias);
  if (!bias || !shapesOk || !biasOk || !fast(x)) return ref.linear(x, weight, bias);
  const inDim = x.shape[x.rank - 1];
  const lead = x.shape.slice(0, -1);
  return custom((xx, w, b, save) => {
    const x2 = tf.reshape(xx as tf.Tensor, [-1, inDim]);
    const mm = tf.matMul(x2 as tf.Tensor2D, w as tf.Tensor2D);
    const [y] = run('FluxBiasAdd', { x: mm, bias: b as tf.Tensor });
    (save as Save)([x2, w as tf.Tensor]);
    return {
      value: tf.reshape(y, [...lead, outDim]),
      gradFunc: (dy, [xs, ws]) => {
        const dy2 = tf.reshape(dy, [-1, outDim]) as tf.Tensor2D;
        const dx = tf.reshape(tf.matMul(dy2, ws as tf.Tensor2D, false, true), (xx as tf.Tensor).shape);
        const dw = tf.matMul(xs as tf.Tensor2D, dy2, true, false);
        const [db] = run('FluxSumRows', { x: dy2 });
        return [dx, dw, db];
      },
    };
  })(x, weight, bias);
}

/** RMSNorm over the last axis: `x / sqrt(mean(x²) + eps) * weight` (weight optional). */
export function rmsNorm(x: tf.Tensor, weightIn?: tf.Tensor | null, eps = 1e-6): tf.Tensor {
  const weight = rank1(weightIn, 'rmsNorm: weight');
  if (viaComposed(x, weight)) return composed.rmsNorm(x, weight, eps);
  if (!fast(x, weight)) return ref.rmsNorm(x, weight, eps);
  if (weight) {
    return custom((xx, w, save) => {
      const [y, rstd] = run('FluxRmsNorm', { x: xx as tf.Tensor, weight: w as tf.Tensor }, { eps });
      (save as Save)([xx as tf.Tensor, w as tf.Tensor, rstd]);
      return {
        value: y,
        gradFunc: (dy, [xs, ws, rs]) => run('FluxRmsNormGrad', { dy, x: xs, rstd: rs, weight: ws }),
      };
    })(x, weight);
  }
  return custom((xx, save) => {
    const [y, rstd] = run('FluxRmsNorm', { x: xx as tf.Tensor }, { eps });
    (save as Save)([xx as tf.Tensor, rstd]);
    return { value: y, gradFunc: (dy, [xs, rs]) => run('FluxRmsNormGrad', { dy, x: xs, rstd: rs }) };
  })(x);
}

/** LayerNorm over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: tf.Tensor, weightIn: tf.Tensor, biasIn: tf.Tensor, eps = 1e-5): tf.Tensor {
  const weight = rank1(weightIn, 'layerNorm: weight');
  const bias = rank1(biasIn, 'layerNorm: bias');
  if (weight && bias && viaComposed(x, weight, bias)) return composed.layerNorm(x, weight, bias, eps);
  if (!fast(x, weight, bias) || !weight || !bias) return ref.layerNorm(x, weight, bias, eps);
  return custom((xx, w, b, save) => {
    const [y, mean, rstd] = run('FluxLayerNorm', { x: xx as tf.Tensor, weight: w as tf.Tensor, bias: b as tf.Tensor }, { eps });
    (save as Save)([xx as tf.Tensor, w as tf.Tensor, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy, [xs, ws, ms, rs]) => run('FluxLayerNormGrad', { dy, x: xs, mean: ms, rstd: rs, weight: ws }),
    };
  })(x, weight, bias);
}

/**
 * Whether a gradient tape is recording (inside tf.grads / variableGrads / minimize). GELU then computes
 * its derivative in the forward pass and saves it instead of x, so the backward pass is one multiply.
 */
function recording(): boolean {
  const state = (tf.engine() as unknown as { state?: { gradientDepth?: number } }).state;
  return (state?.gradientDepth ?? 0) > 0;
}

function geluOp(x: tf.Tensor, bias: tf.Tensor1D | null): tf.Tensor {
  if (!recording()) {
    // Inference: no backward pass will run, so skip the derivative (gradients still work: see below).
    const inputs: Record<string, tf.Tensor> = bias ? { x, bias } : { x };
    return run('FluxBiasGelu', inputs)[0];
  }
  const f = (xx: tf.Tensor, b: tf.Tensor | null, save: Save): Grad => {
    const [y, d] = run('FluxBiasGeluTrain', b ? { x: xx, bias: b } : { x: xx });
    save([d]);
    return {
      value: y,
      gradFunc: (dy, [ds]) => run('FluxGeluBackward', { dy, deriv: ds }, { hasBias: b != null }),
    };
  };
  if (bias) return custom((xx, b, save) => f(xx as tf.Tensor, b as tf.Tensor, save as Save))(x, bias);
  return custom((xx, save) => f(xx as tf.Tensor, null, save as Save))(x);
}

/** Exact (erf) GELU, as PyTorch's `nn.GELU()`. */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (viaComposed(x)) return composed.gelu(x);
  if (!fast(x)) return ref.gelu(x);
  return geluOp(x, null);
}

/** `gelu(x + bias)`, bias over the last axis. */
export function biasGelu(x: tf.Tensor, biasIn: tf.Tensor): tf.Tensor {
  const bias = rank1(biasIn, 'biasGelu: bias');
  if (bias && viaComposed(x, bias)) return composed.biasGelu(x, bias);
  if (!fast(x, bias) || !bias) return ref.biasGelu(x, bias);
  return geluOp(x, bias);
}

/** Residual with optional LayerScale: `x + gamma ⊙ y` (gamma over the last axis). */
export function residual(x: tf.Tensor, y: tf.Tensor, gammaIn?: tf.Tensor | null): tf.Tensor {
  const gamma = rank1(gammaIn, 'residual: gamma');
  if (!fast(x, gamma) || y.dtype !== 'float32' || !tf.util.arraysEqual(x.shape, y.shape)) return ref.residual(x, y, gamma);
  if (gamma) {
    return custom((xx, yy, g, save) => {
      const [out] = run('FluxResidual', { x: xx as tf.Tensor, y: yy as tf.Tensor, gamma: g as tf.Tensor });
      (save as Save)([yy as tf.Tensor, g as tf.Tensor]);
      return {
        value: out,
        gradFunc: (dy, [ys, gs]) => {
          const [dyy, dg] = run('FluxResidualGrad', { dy, y: ys, gamma: gs });
          return [tf.clone(dy), dyy, dg];
        },
      };
    })(x, y, gamma);
  }
  return custom((xx, yy) => {
    const [out] = run('FluxResidual', { x: xx as tf.Tensor, y: yy as tf.Tensor });
    return { value: out, gradFunc: (dy) => [tf.clone(dy), tf.clone(dy)] };
  })(x, y);
}

/** Per-channel affine `x ⊙ scale (+ bias)` over the last axis (a depthwise 1×1 projection: gpe_proj, lpe). */
export function channelAffine(x: tf.Tensor, scale: tf.Tensor1D, bias?: tf.Tensor1D | null): tf.Tensor {
  if (!fast(x, scale, bias) || !scale) return ref.channelAffine(x, scale, bias);
  if (bias) {
    return custom((xx, s, b, save) => {
      const [y] = run('FluxChannelAffine', { x: xx as tf.Tensor, scale: s as tf.Tensor, bias: b as tf.Tensor });
      (save as Save)([xx as tf.Tensor, s as tf.Tensor]);
      return { value: y, gradFunc: (dy, [xs, ss]) => run('FluxChannelAffineGrad', { dy, x: xs, scale: ss }, { hasBias: true }) };
    })(x, scale, bias);
  }
  return custom((xx, s, save) => {
    const [y] = run('FluxChannelAffine', { x: xx as tf.Tensor, scale: s as tf.Tensor });
    (save as Save)([xx as tf.Tensor, s as tf.Tensor]);
    return { value: y, gradFunc: (dy, [xs, ss]) => run('FluxChannelAffineGrad', { dy, x: xs, scale: ss }, { hasBias: false }) };
  })(x, scale);
}

/** Softmax and its gradient through the Flux kernels (cpu, wasm): `scaledSoftmax` and the attention op. */
const kernelSoftmax: composed.SoftmaxImpl = {
  // On wasm tfjs's own Softmax (C++, exp in SIMD) beats a JS loop's exp; the backward pass is ours.
  forward: (s, scale) =>
    tf.getBackend() === 'wasm' ? tf.softmax(scale === 1 ? s : tf.mul(s, scale)) : run('FluxScaledSoftmax', { x: s }, { scale })[0]!,
  backward: (dy, y, scale) => run('FluxScaledSoftmaxGrad', { dy, y }, { scale })[0]!,
};

/** `softmax(x * scale)` over the last axis. */
export function scaledSoftmax(x: tf.Tensor, scale = 1): tf.Tensor {
  if (viaComposed(x)) return composed.scaledSoftmax(x, scale);
  if (!fast(x)) return ref.scaledSoftmax(x, scale);
  return custom((xx, save) => {
    const y = kernelSoftmax.forward(xx as tf.Tensor, scale);
    (save as Save)([y]);
    return { value: y, gradFunc: (dy, [ys]) => kernelSoftmax.backward(dy, ys!, scale) };
  })(x);
}

/**
 * Scaled dot-product attention `softmax(q·kᵀ·scale)·v`: q [..., N, d], k [..., M, d], v [..., M, dv] with
 * equal leading dims → [..., N, dv]. One differentiable op that saves q, k, v and the probabilities for its
 * gradient and frees the scores (tfjs's own gradient of the composition keeps every intermediate).
 */
export function scaledDotAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale: number): tf.Tensor {
  const ok =
    enabled && q.rank >= 2 && q.rank === k.rank && q.rank === v.rank && [q, k, v].every((t) => t.dtype === 'float32' && t.size > 0) &&
    tf.util.arraysEqual(q.shape.slice(0, -2), k.shape.slice(0, -2)) && tf.util.arraysEqual(k.shape.slice(0, -1), v.shape.slice(0, -1)) &&
    q.shape[q.rank - 1] === k.shape[k.rank - 1];
  if (!ok) return ref.scaledDotAttention(q, k, v, scale);
  return composed.attention(q, k, v, scale, fusedKernelsAvailable() ? kernelSoftmax : undefined);
}

/**
 * Row gather per batch: `x` [B, N, C], `indices` int32 [B, K] → [B, K, C]. Differentiable w.r.t. `x`
 * on every backend (wasm lacks UnsortedSegmentSum, the gradient of gather; core registers one).
 */
export function gatherRows(x: tf.Tensor3D, indices: tf.Tensor2D): tf.Tensor3D {
  if (!fast(x) || x.rank !== 3 || indices.rank !== 2 || indices.dtype !== 'int32' || indices.shape[0] !== x.shape[0]) {
    return ref.gatherRows(x, indices);
  }
  const n = x.shape[1];
  return custom((xx, ii, save) => {
    const [y] = run('FluxGatherRows', { x: xx as tf.Tensor, indices: ii as tf.Tensor });
    (save as Save)([ii as tf.Tensor]);
    return {
      value: y,
      gradFunc: (dy, [is]) => [run('FluxScatterRows', { dy, indices: is }, { n })[0], tf.zeros(is.shape)],
    };
  })(x, indices) as tf.Tensor3D;
}
