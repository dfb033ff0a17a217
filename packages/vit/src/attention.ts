/**
 * Multi-head self-attention of a FluxViT block: qkv without bias, RMSNorm over the full width on q and k
 * (`attn.q_norm`, `attn.k_norm`), and the local PE on V — `proj(softmax(QKᵀ/√d)·V + lpe(V))`, lpe a
 * per-channel depthwise projection (`attn.lpe`). Works for any batch size (the release's `.squeeze()`
 * drops the batch axis at B = 1).
 */
import { channelAffine, linear, rmsNorm, scaledDotAttention, scaledSoftmax } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import type { ParamGetter } from './types.js';

let attentionChunk: number | null = null;

/**
 * Whether the active backend keeps tensors in a bounded heap: wasm addresses at most 2 GB (4 GB with
 * unsigned pointers), and the pure-JS cpu backend is only for small work. Native backends (tensorflow,
 * tensorflow-gpu) and the GPU backends get larger defaults for chunks and for when to checkpoint.
 */
export function boundedHeap(): boolean {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu';
}

/**
 * The current attention chunk (elements): the one set by {@link setAttentionChunk}, else the backend's
 * default — 2²⁴ (64 MB of float32 scores) on wasm and cpu, 2²⁸ elsewhere. A checkpointed block's backward
 * goes clip by clip above twice this.
 */
export function getAttentionChunk(): number {
  return attentionChunk ?? (boundedHeap() ? 2 ** 24 : 2 ** 28);
}

/**
 * Sets the largest [rows, N, N] attention-score tensor computed at once (elements; `null` restores the
 * backend's default, see {@link getAttentionChunk}); returns the previous setting. Smaller bounds peak
 * memory, larger means fewer, bigger matmuls.
 */
export function setAttentionChunk(elements: number | null): number | null {
  if (elements !== null && !(elements >= 1)) throw new RangeError(`setAttentionChunk: expected ≥ 1 or null, got ${elements}`);
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
    // Attention in chunks of (clip, head) rows so that no [rows, N, N] score tensor passes the attention
    // chunk (the wasm heap is addressed up to 2 GB; ViT-S at 2048 tokens is 100 MB of scores per clip). The
    // attention op keeps only the probabilities for the backward pass and frees the scores.
    const bh = b * numHeads;
    const scale = 1 / Math.sqrt(d);
    const rows = Math.max(1, Math.min(bh, Math.floor(getAttentionChunk() / (n * n))));
    const ctxParts: tf.Tensor3D[] = [];
    for (let r0 = 0; r0 < bh; r0 += rows) {
      const r = Math.min(rows, bh - r0);
      const part = <T extends tf.Tensor3D>(t: T) => (r === bh ? t : tf.slice(t, [r0, 0, 0], [r, n, d]));
      ctxParts.push(scaledDotAttention(part(qh), part(kh), part(vh), scale) as tf.Tensor3D);
    }
    if (returnClsAttention) {
      // The CLS row of the probabilities (for the UMT mask), recomputed: one query row against every key.
      const row = tf.tidy(() => scaledSoftmax(tf.matMul(tf.slice(qh, [0, 0, 0], [bh, 1, d]), kh, false, true), scale));
      cls = tf.keep(tf.mean(tf.reshape(row, [b, numHeads, n]), 1) as tf.Tensor2D);
    }
    const ctx = mergeHeads(ctxParts.length === 1 ? ctxParts[0]! : (tf.concat(ctxParts, 0) as tf.Tensor3D), b);
    const lpe = channelAffine(v, P(`${prefix}.lpe.depthwise_conv.weight`) as tf.Tensor1D, P(`${prefix}.lpe.depthwise_conv.bias`) as tf.Tensor1D);
    return linear(tf.add(ctx, lpe), P(`${prefix}.proj.weight`) as tf.Tensor2D, P(`${prefix}.proj.bias`) as tf.Tensor1D) as tf.Tensor3D;
  });
  return { out, clsAttention: cls };
}
