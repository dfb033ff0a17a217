/**
 * Video-text contrastive loss (VTC): symmetric InfoNCE on L2-normalised features with a learnable temperature,
 * and soft targets where several clips of a batch share a caption (rows with equal captions share the target
 * mass, as InternVideo2's criterion does with `idx`); plus the Flux-Multi form — one VTC per token count and a
 * smooth-L1 self-distillation of the smaller counts' features to the largest.
 */
import { l2Normalize, smoothL1, stopGradient } from '@flux/train';
import * as tf from '@tensorflow/tfjs-core';

/** Temperature floor (InternVideo2 clamps the learnable temperature at 0.01, i.e. logit scale ≤ 100). */
export const MIN_TEMPERATURE = 0.01;
/** Initial temperature (CLIP's 0.07). */
export const INIT_TEMPERATURE = 0.07;

/**
 * Soft targets [B, B]: T[i][j] = 1/|{j' : g[j'] = g[i]}| where g[j] = g[i], else 0 (one-hot on the diagonal when
 * every caption is distinct). `groups` are caption ids (equal id ⇔ equal caption).
 */
export function softTargets(groups: ArrayLike<number>): Float32Array {
  const b = groups.length;
  const t = new Float32Array(b * b);
  for (let i = 0; i < b; i++) {
    let n = 0;
    for (let j = 0; j < b; j++) if (groups[j] === groups[i]) n++;
    for (let j = 0; j < b; j++) if (groups[j] === groups[i]) t[i * b + j] = 1 / n;
  }
  return t;
}

/** Caption ids of a batch: equal strings get equal ids (first-seen order). */
export function captionGroups(captions: readonly string[]): Int32Array {
  const ids = new Map<string, number>();
  return Int32Array.from(captions.map((c) => {
    if (!ids.has(c)) ids.set(c, ids.size);
    return ids.get(c)!;
  }));
}

/**
 * Symmetric InfoNCE: logits = norm(v)·norm(t)ᵀ / max(τ, 0.01); loss = ½ (CE_rows(logits, T) + CE_rows(logitsᵀ, T)),
 * T the soft targets of `groups` (default: every caption distinct). `temperature` is a scalar tensor (a variable
 * when learnable).
 */
export function vtcLoss(video: tf.Tensor2D, text: tf.Tensor2D, temperature: tf.Tensor, groups?: ArrayLike<number>): tf.Scalar {
  const [b, d] = video.shape;
  if (text.shape[0] !== b || text.shape[1] !== d) throw new RangeError(`vtcLoss: video [${video.shape.join(',')}] and text [${text.shape.join(',')}] features differ in shape`);
  if (groups && groups.length !== b) throw new RangeError(`vtcLoss: ${groups.length} caption groups for a batch of ${b}`);
  return tf.tidy(() => {
    const temp = tf.maximum(temperature, MIN_TEMPERATURE);
    const logits = tf.div(tf.matMul(l2Normalize(video), l2Normalize(text), false, true), temp) as tf.Tensor2D;
    const targets = tf.tensor2d(softTargets(groups ?? Int32Array.from({ length: b }, (_, i) => i)), [b, b]);
    const ce = (l: tf.Tensor2D) => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(l, 1), targets), 1)));
    return tf.mul(tf.add(ce(logits), ce(tf.transpose(logits) as tf.Tensor2D)), 0.5) as tf.Scalar;
  });
}

export interface FluxMultiVtcParts {
  total: tf.Scalar;
  /** VTC of each token count, largest first. */
  vtc: tf.Scalar[];
  /** Smooth-L1 of each smaller count's normalised feature to the largest's (stop-gradient). */
  distill: tf.Scalar[];
}

/**
 * Flux-Multi CLIP loss: Σⱼ VTC(vⱼ, t) + w · Σⱼ≥1 SmoothL1(norm(vⱼ), stopGrad(norm(v₀))), v₀ the largest count's
 * video feature. The caller disposes the parts.
 */
export function fluxMultiVtcLoss(videos: tf.Tensor2D[], text: tf.Tensor2D, temperature: tf.Tensor, groups: ArrayLike<number> | undefined, distillWeight = 1): FluxMultiVtcParts {
  if (!videos.length) throw new RangeError('fluxMultiVtcLoss: no video features');
  const vtc = videos.map((v) => vtcLoss(v, text, temperature, groups));
  const target = tf.tidy(() => stopGradient(l2Normalize(videos[0]!)));
  const distill = videos.slice(1).map((v) => tf.tidy(() => smoothL1(l2Normalize(v), target)));
  target.dispose();
  const total = tf.tidy(() => {
    let t = tf.addN(vtc) as tf.Scalar;
    if (distill.length && distillWeight > 0) t = tf.add(t, tf.mul(tf.addN(distill), distillWeight)) as tf.Scalar;
    return t;
  });
  return { total, vtc, distill };
}
