/**
 * Composed-tfjs reference implementations of the fused-op contract (see fused.ts for the contract and the
 * fast kernels). Correct on every backend with gradients from tfjs; the fused ops fall back to these where
 * no Flux kernel is registered (tensorflow, webgl, webgpu) and tests compare against them.
 */
import * as tf from '@tensorflow/tfjs-core';

const SQRT1_2 = Math.SQRT1_2;

/** `x @ weight (+ bias)` over the last axis. `weight` is [in, out] (tfjs order, not PyTorch's [out, in]). */
export function linear(x: tf.Tensor, weight: tf.Tensor2D, bias?: tf.Tensor1D | null): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.rank - 1]!;
    const lead = x.shape.slice(0, -1);
    let y = tf.matMul(tf.reshape(x, [-1, inDim]), weight);
    if (bias) y = tf.add(y, bias);
    return tf.reshape(y, [...lead, weight.shape[1]]);
  });
}

/** RMSNorm over the last axis: `x / sqrt(mean(x²) + eps) * weight` (weight optional). */
export function rmsNorm(x: tf.Tensor, weight?: tf.Tensor1D | null, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), -1, true);
    const y = tf.mul(x, tf.rsqrt(tf.add(ms, eps)));
    return weight ? tf.mul(y, weight) : y;
  });
}

/** LayerNorm over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(y, weight), bias);
  });
}

/** Exact (erf) GELU, as PyTorch's `nn.GELU()`. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT1_2)), 1)));
}

/** `gelu(x + bias)`, bias over the last axis. */
export function biasGelu(x: tf.Tensor, bias: tf.Tensor1D): tf.Tensor {
  return tf.tidy(() => gelu(tf.add(x, bias)));
}

/** Residual with optional LayerScale: `x + gamma ⊙ y` (gamma over the last axis). */
export function residual(x: tf.Tensor, y: tf.Tensor, gamma?: tf.Tensor1D | null): tf.Tensor {
  return tf.tidy(() => tf.add(x, gamma ? tf.mul(y, gamma) : y));
}

/** Per-channel affine `x ⊙ scale (+ bias)` over the last axis (a depthwise 1×1 projection: gpe_proj, lpe). */
export function channelAffine(x: tf.Tensor, scale: tf.Tensor1D, bias?: tf.Tensor1D | null): tf.Tensor {
  return tf.tidy(() => {
    const y = tf.mul(x, scale);
    return bias ? tf.add(y, bias) : y;
  });
}

/** `softmax(x * scale)` over the last axis. */
export function scaledSoftmax(x: tf.Tensor, scale = 1): tf.Tensor {
  return tf.tidy(() => tf.softmax(scale === 1 ? x : tf.mul(x, scale)));
}

/** Scaled dot-product attention `softmax(q·kᵀ·scale)·v` over the last two axes. */
export function scaledDotAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale: number): tf.Tensor {
  return tf.tidy(() => tf.matMul(scaledSoftmax(tf.matMul(q, k, false, true), scale), v));
}

/**
 * Row gather per batch: `x` [B, N, C], `indices` int32 [B, K] → [B, K, C]. Differentiable w.r.t. `x`
 * on every backend (wasm lacks UnsortedSegmentSum, the gradient of gather; core registers one).
 */
export function gatherRows(x: tf.Tensor3D, indices: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, n, c] = x.shape;
    const k = indices.shape[1];
    // (a plain-number factor would upcast the int32 range to float32, which gather rejects)
    const offsets = tf.reshape(tf.range(0, b * n, n, 'int32'), [b, 1]);
    const flat = tf.reshape(tf.add(tf.cast(indices, 'int32'), offsets), [b * k]);
    return tf.reshape(tf.gather(tf.reshape(x, [b * n, c]), flat), [b, k, c]);
  });
}
