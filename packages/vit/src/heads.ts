/**
 * Heads: `clip_projector.{j}` attention pooling (query = mean of the tokens; LayerNorm on q, k and v
 * inputs; biased q/k/v projections; `clipNumHeads` heads; output `clipEmbedDim`) or, with `clipPool: 'max'`,
 * max pooling through the same `norm1_v` / `v` / `proj`; the shared `fc_norm`,
 * the classifiers `head.{j}`, and the `final_clip_decoder_for_projs.{j}` decoders (linear → LayerNorm → L2)
 * used by Flux-FT self-distillation.
 */
import { layerNorm, linear, scaledSoftmax } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { mergeHeads, splitHeads } from './attention.js';
import type { ParamGetter } from './types.js';

const LN_EPS = 1e-5;

/** Attention pooling `clip_projector.{j}`: tokens [B, N, C] → [B, clipEmbedDim]. */
export function attentionPool(x: tf.Tensor3D, P: ParamGetter, j: number, numHeads: number): tf.Tensor2D {
  return tf.tidy(() => {
    const pre = `clip_projector.${j}`;
    const [b, , c] = x.shape;
    const ln = (t: tf.Tensor, name: string) => layerNorm(t, P(`${pre}.${name}.weight`) as tf.Tensor1D, P(`${pre}.${name}.bias`) as tf.Tensor1D, LN_EPS);
    const lin = (t: tf.Tensor, name: 'q' | 'k' | 'v') =>
      linear(t, P(`${pre}.cross_attn.${name}.weight`) as tf.Tensor2D, P(`${pre}.cross_attn.${name}_bias`) as tf.Tensor1D) as tf.Tensor3D;
    const xq = tf.mean(x, 1, true);
    const q = splitHeads(lin(ln(xq, 'norm1_q'), 'q'), numHeads); // [B·h, 1, d]
    const k = splitHeads(lin(ln(x, 'norm1_k'), 'k'), numHeads);
    const v = splitHeads(lin(ln(x, 'norm1_v'), 'v'), numHeads);
    const d = c / numHeads;
    const probs = scaledSoftmax(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)) as tf.Tensor3D;
    const ctx = mergeHeads(tf.matMul(probs, v), b); // [B, 1, C]
    const out = linear(ctx, P(`${pre}.cross_attn.proj.weight`) as tf.Tensor2D, P(`${pre}.cross_attn.proj.bias`) as tf.Tensor1D);
    return tf.reshape(out, [b, out.shape[2]!]) as tf.Tensor2D;
  });
}

/**
 * Max pooling `clip_projector.{j}` (config `clipPool: 'max'`): channel-wise max over the tokens [B, N, C],
 * then `norm1_v` → `v` (+ `v_bias`) → `proj`: [B, clipEmbedDim].
 */
export function maxPool(x: tf.Tensor3D, P: ParamGetter, j: number): tf.Tensor2D {
  return tf.tidy(() => {
    const pre = `clip_projector.${j}`;
    const m = layerNorm(tf.max(x, 1), P(`${pre}.norm1_v.weight`) as tf.Tensor1D, P(`${pre}.norm1_v.bias`) as tf.Tensor1D, LN_EPS);
    const v = linear(m, P(`${pre}.cross_attn.v.weight`) as tf.Tensor2D, P(`${pre}.cross_attn.v_bias`) as tf.Tensor1D);
    return linear(v, P(`${pre}.cross_attn.proj.weight`) as tf.Tensor2D, P(`${pre}.cross_attn.proj.bias`) as tf.Tensor1D) as tf.Tensor2D;
  });
}

/** `head.{j}(fc_norm(pooled))`: pooled [B, D] → logits [B, numClasses]. */
export function classify(pooled: tf.Tensor2D, P: ParamGetter, j: number): tf.Tensor2D {
  return tf.tidy(() => {
    const h = layerNorm(pooled, P('fc_norm.weight') as tf.Tensor1D, P('fc_norm.bias') as tf.Tensor1D, LN_EPS);
    return linear(h, P(`head.${j}.weight`) as tf.Tensor2D, P(`head.${j}.bias`) as tf.Tensor1D) as tf.Tensor2D;
  });
}

/** `final_clip_decoder_for_projs.{j}`: L2-normalised LayerNorm(linear(pooled)) [B, D]. */
export function projDecoder(pooled: tf.Tensor2D, P: ParamGetter, j: number): tf.Tensor2D {
  return tf.tidy(() => {
    const pre = `final_clip_decoder_for_projs.${j}`;
    const h = linear(pooled, P(`${pre}.head.weight`) as tf.Tensor2D, P(`${pre}.head.bias`) as tf.Tensor1D);
    const n = layerNorm(h, P(`${pre}.norm.weight`) as tf.Tensor1D, P(`${pre}.norm.bias`) as tf.Tensor1D, LN_EPS);
    return tf.div(n, tf.norm(n, 'euclidean', -1, true)) as tf.Tensor2D;
  });
}
