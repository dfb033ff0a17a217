/** Losses of Flux-FT tuning. All return scalar tensors; call inside `tf.tidy` / a gradient function. */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Cross-entropy with label smoothing, as PyTorch's `F.cross_entropy(logits, y, label_smoothing=ε)`:
 * the target is `(1 − ε)·onehot(y) + ε/C`, averaged over the batch.
 */
export function labelSmoothedCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D | Int32Array | number[], smoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const [, C] = logits.shape;
    const y = labels instanceof tf.Tensor ? labels : tf.tensor1d(Array.from(labels), 'int32');
    const logp = tf.logSoftmax(logits);
    const target = tf.add(tf.mul(tf.cast(tf.oneHot(tf.cast(y, 'int32'), C), 'float32'), 1 - smoothing), smoothing / C);
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logp), -1))) as tf.Scalar;
  });
}

/** PyTorch's `F.smooth_l1_loss(x, y, beta)` with mean reduction: `0.5 d²/β` where |d| < β, else `|d| − β/2`. */
export function smoothL1(x: tf.Tensor, y: tf.Tensor, beta = 1): tf.Scalar {
  return tf.tidy(() => {
    // 0.5·min(d, β)²/β + (d − min(d, β)) equals both branches and is differentiable with basic ops.
    const d = tf.abs(tf.sub(x, y));
    const m = tf.minimum(d, beta);
    return tf.mean(tf.add(tf.div(tf.mul(tf.square(m), 0.5), beta), tf.sub(d, m))) as tf.Scalar;
  });
}

/**
 * Identity in the forward pass, zero gradient in the backward pass (tfjs-core has no `stopGradient`).
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad(((a: tf.Tensor) => ({ value: tf.clone(a), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as T;
}

/** L2-normalises over the last axis (`F.normalize(x, dim=-1)`, eps 1e-12 on the norm). */
export function l2Normalize(x: tf.Tensor, eps = 1e-12): tf.Tensor {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), -1, true)), eps)));
}

/** One head's output in a Flux-Multi step: logits and the pooled feature it came from. */
export interface HeadOutput {
  logits: tf.Tensor2D;
  pooled: tf.Tensor2D;
}

/**
 * A distillation decoder for one smaller token count: maps its pooled feature into the space of the
 * largest count's (FluxViT's `final_clip_decoder_for_projs.{j}`, or a plain linear map).
 */
export type DistillDecoder = (pooled: tf.Tensor2D) => tf.Tensor;

export interface FluxMultiLossParts {
  total: tf.Scalar;
  /** Cross-entropy per head (largest count first). */
  ce: tf.Scalar[];
  /** Self-distillation term per smaller count (heads 1…n−1). */
  distill: tf.Scalar[];
}

/**
 * The Flux-Multi objective (DESIGN.md "Flux-FT tuning"): heads ordered by token count, largest first;
 *
 * `total = Σⱼ CEⱼ + w · Σ_{j≥1} SmoothL1(norm(decⱼ(fⱼ)), stopGrad(norm(f₀)))`
 *
 * where fⱼ is head j's pooled feature and f₀ that of the largest count (a fixed target: no gradient flows
 * into the largest count through the distillation term). `decoders[j-1]` belongs to head j.
 */
export function fluxMultiLoss(
  heads: HeadOutput[],
  labels: tf.Tensor1D | Int32Array | number[],
  decoders: DistillDecoder[],
  options: { smoothing?: number; distillWeight?: number; beta?: number } = {},
): FluxMultiLossParts {
  if (heads.length === 0) throw new Error('fluxMultiLoss needs at least one head');
  if (decoders.length < heads.length - 1) throw new Error(`fluxMultiLoss: ${heads.length} heads need ${heads.length - 1} decoders, got ${decoders.length}`);
  const smoothing = options.smoothing ?? 0;
  const w = options.distillWeight ?? 1;
  const ce = heads.map((h) => labelSmoothedCrossEntropy(h.logits, labels, smoothing));
  const distill: tf.Scalar[] = [];
  if (heads.length > 1 && w !== 0) {
    const target = tf.tidy(() => l2Normalize(stopGradient(heads[0]!.pooled)));
    for (let j = 1; j < heads.length; j++) {
      const dec = decoders[j - 1]!;
      distill.push(
        tf.tidy(() => {
          const pred = l2Normalize(dec(heads[j]!.pooled));
          return smoothL1(pred, target, options.beta ?? 1);
        }),
      );
    }
    target.dispose();
  }
  const total = tf.tidy(() => {
    let t: tf.Tensor = tf.addN(ce);
    if (distill.length) t = tf.add(t, tf.mul(tf.addN(distill), w));
    return t as tf.Scalar;
  });
  return { total, ce, distill };
}
