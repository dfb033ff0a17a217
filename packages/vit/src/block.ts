/**
 * One FluxViT transformer block: RMSNorm pre-norm, attention (qk-norm, LPE), LayerScale, MLP with GELU,
 * stochastic depth (drop-path) in training.
 */
import { biasGelu, linear, residual, rmsNorm } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { attention } from './attention.js';
import type { ParamGetter } from './types.js';

export interface BlockOptions {
  numHeads: number;
  eps: number;
  /** Whether `ls1.gamma` / `ls2.gamma` exist. */
  layerScale: boolean;
  mlpActivation: 'gelu' | 'gelu_tanh';
  /** Per-sample keep masks [B,1,1] (already divided by the keep probability) for the two branches. */
  dropPath?: [tf.Tensor, tf.Tensor] | null;
  returnClsAttention?: boolean;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (flash-attn's FusedMLP `gelu_approx`). */
function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** MLP `fc2(act(fc1(x)))` of block `prefix` (`blocks.i.mlp`). */
export function mlp(x: tf.Tensor3D, P: ParamGetter, prefix: string, activation: 'gelu' | 'gelu_tanh' = 'gelu'): tf.Tensor3D {
  return tf.tidy(() => {
    const h = linear(x, P(`${prefix}.fc1.weight`) as tf.Tensor2D);
    const b1 = P(`${prefix}.fc1.bias`) as tf.Tensor1D;
    const a = activation === 'gelu' ? biasGelu(h, b1) : geluTanh(tf.add(h, b1));
    return linear(a, P(`${prefix}.fc2.weight`) as tf.Tensor2D, P(`${prefix}.fc2.bias`) as tf.Tensor1D) as tf.Tensor3D;
  });
}

/** Block `blocks.{index}` on x [B, N, C]. */
export function block(x: tf.Tensor3D, P: ParamGetter, index: number, o: BlockOptions): { out: tf.Tensor3D; clsAttention?: tf.Tensor2D } {
  const pre = `blocks.${index}`;
  let cls: tf.Tensor2D | undefined;
  const out = tf.tidy(() => {
    const g1 = o.layerScale ? (P(`${pre}.ls1.gamma`) as tf.Tensor1D) : null;
    const g2 = o.layerScale ? (P(`${pre}.ls2.gamma`) as tf.Tensor1D) : null;
    const a = attention(rmsNorm(x, P(`${pre}.norm1.weight`) as tf.Tensor1D, o.eps) as tf.Tensor3D, P, `${pre}.attn`, o.numHeads, o.eps, o.returnClsAttention);
    if (a.clsAttention) cls = tf.keep(a.clsAttention);
    const y1 = o.dropPath ? tf.mul(a.out, o.dropPath[0]) : a.out;
    const h = residual(x, y1, g1) as tf.Tensor3D;
    const m = mlp(rmsNorm(h, P(`${pre}.norm2.weight`) as tf.Tensor1D, o.eps) as tf.Tensor3D, P, `${pre}.mlp`, o.mlpActivation);
    const y2 = o.dropPath ? tf.mul(m, o.dropPath[1]) : m;
    return residual(h, y2, g2) as tf.Tensor3D;
  });
  return { out, clsAttention: cls };
}
