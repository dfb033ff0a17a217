/**
 * Multi-head self-attention of a FluxViT block: qkv without bias, RMSNorm over the full width on q and k
 * (`attn.q_norm`, `attn.k_norm`), and the local PE on V — `proj(softmax(QKᵀ/√d)·V + lpe(V))`, lpe a
 * per-channel depthwise projection (`attn.lpe`). Works for any batch size (the release's `.squeeze()`
 * drops the batch axis at B = 1).
 */
import { channelAffine, linear, rmsNorm, scaledSoftmax } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import type { ParamGetter } from './types.js';

let attentionChunk = 2 ** 24;

/** The current attention chunk (elements); a checkpointed block's backward goes clip by clip above twice this. */
export function getAttentionChunk(): number {
  return attentionChunk;
}

/**
 * Sets the largest [rows, N, N] attention-score tensor computed at once (elements; default 2²⁴ = 64 MB of
 * float32); returns the previous value. Smaller bounds peak memory, larger means fewer, bigger matmuls.
 */
export function setAttentionChunk(elements: number): number {
  if (!(elements >= 1)) throw new RangeError(`setAttentionChunk: expected ≥ 1, got ${elements}`);
  const prev = attentionChunk;
  attentionChunk = elements;
  return prev;
}

/** Splits [B, N, H·d] into per-head [B·H, N, d]. */
export function splitHeads(x: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [b, n, c] = x.shape;
  const d = c / heads;
  return tf.reshape(tf.transpose(tf.reshape(x, [b, n, heads, d]), [0, 2, 1, 3]), [b * heads, n, d]);
}

/** Merges per-head [B·H, N, d] back into [B, N, H·d]. */
export function mergeHeads(x: tf.Tensor3D, batch: number): tf.Tensor3D {
  const [bh, n, d] = x.shape;
  const heads = bh / batch;
  return tf.reshape(tf.transpose(tf.reshape(x, [batch, heads, n, d]), [0, 2, 1, 3]), [batch, n, heads * d]);
}

export interface AttentionOutput {
  out: tf.Tensor3D;
  /** CLS → token attention averaged over heads [B, N] (only when requested). */
  clsAttention?: tf.Tensor2D;
}

/** Self-attention of block `prefix` (e.g. `blocks.3.attn`) on normalised tokens x [B, N, C]. */
export function attention(x: tf.Tensor3D, P: ParamGetter, prefix: string, numHeads: number, eps: number, returnClsAttention = false): AttentionOutput {
  const [b, n, c] = x.shape;
  const d = c / numHeads;
  let cls: tf.Tensor2D | undefined;
  const out = tf.tidy(() => {
    const qkv = linear(x, P(`${prefix}.qkv.weight`) as tf.Tensor2D) as tf.Tensor3D;
    let q = tf.slice(qkv, [0, 0, 0], [b, n, c]);
    let k = tf.slice(qkv, [0, 0, c], [b, n, c]);
    const v = tf.slice(qkv, [0, 0, 2 * c], [b, n, c]);
    q = rmsNorm(q, P(`${prefix}.q_norm.weight`) as tf.Tensor1D, eps) as tf.Tensor3D;
    k = rmsNorm(k, P(`${prefix}.k_norm.weight`) as tf.Tensor1D, eps) as tf.Tensor3D;
    const qh = splitHeads(q, numHeads);
    const kh = splitHeads(k, numHeads);
    const vh = splitHeads(v, numHeads);
    // Attention in chunks of (clip, head) rows so that no [rows, N, N] score tensor passes `attentionChunk`
    // elements (the wasm heap is addressed up to 2 GB; ViT-S at 2048 tokens is 100 MB of scores per clip).
    const bh = b * numHeads;
    const rows = Math.max(1, Math.min(bh, Math.floor(attentionChunk / (n * n))));
    const ctxParts: tf.Tensor3D[] = [];
    const clsParts: tf.Tensor[] = [];
    for (let r0 = 0; r0 < bh; r0 += rows) {
      const r = Math.min(rows, bh - r0);
      const part = <T extends tf.Tensor3D>(t: T) => (r === bh ? t : tf.slice(t, [r0, 0, 0], [r, n, d]));
      // Each chunk in its own scope: without a gradient tape its scores are freed before the next one.
      const [c, row] = tf.tidy(() => {
        const probs = scaledSoftmax(tf.matMul(part(qh), part(kh), false, true), 1 / Math.sqrt(d)) as tf.Tensor3D; // [r, N, N]
        const ctxPart = tf.matMul(probs, part(vh));
        return [ctxPart, returnClsAttention ? tf.reshape(tf.slice(probs, [0, 0, 0], [r, 1, n]), [r, n]) : ctxPart] as const;
      });
      ctxParts.push(c as tf.Tensor3D);
      if (returnClsAttention) clsParts.push(row);
    }
    if (returnClsAttention) {
      const row = tf.reshape(clsParts.length === 1 ? clsParts[0]! : tf.concat(clsParts, 0), [b, numHeads, n]);
      cls = tf.keep(tf.mean(row, 1) as tf.Tensor2D);
    }
    const ctx = mergeHeads(ctxParts.length === 1 ? ctxParts[0]! : (tf.concat(ctxParts, 0) as tf.Tensor3D), b);
    const lpe = channelAffine(v, P(`${prefix}.lpe.depthwise_conv.weight`) as tf.Tensor1D, P(`${prefix}.lpe.depthwise_conv.bias`) as tf.Tensor1D);
    return linear(tf.add(ctx, lpe), P(`${prefix}.proj.weight`) as tf.Tensor2D, P(`${prefix}.proj.bias`) as tf.Tensor1D) as tf.Tensor3D;
  });
  return { out, clsAttention: cls };
}
