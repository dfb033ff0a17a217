/**
 * Patch embedding with Dual Patch Norm (tubelet 1): RMSNorm over each raw flattened patch in (h w c)
 * order (`patch_embed.norm_before`), the patch projection (`patch_embed.proj`, a Conv3d (1,p,p) in
 * PyTorch = one matmul on flattened patches), then RMSNorm over channels (`patch_embed.norm`).
 */
import { linear, rmsNorm } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import type { ParamGetter } from './types.js';

/** Flattens [B,F,H,W,3] into patches [B, F, L, p·p·3] with L = (H/p)·(W/p), rows (hp, wp), columns (kh, kw, c). */
export function patchify(video: tf.Tensor5D, p: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, f, h, w, ch] = video.shape;
    if (h % p !== 0 || w % p !== 0) throw new Error(`patch size ${p} does not divide the input ${h}×${w}`);
    const hp = h / p;
    const wp = w / p;
    // [B·F·Hp, p, Wp, p·ch] → [B·F·Hp, Wp, p, p·ch] → [B, F, Hp·Wp, p·p·ch]
    const x = tf.reshape(video, [b * f * hp, p, wp, p * ch]);
    return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, f, hp * wp, p * p * ch]);
  });
}

/** Dual Patch Norm embedding of flattened patches [..., p·p·3] → tokens [..., C]. */
export function embedPatches<T extends tf.Tensor>(patches: T, P: ParamGetter, eps: number): T {
  return tf.tidy(() => {
    const pre = rmsNorm(patches, P('patch_embed.norm_before.weight') as tf.Tensor1D, eps);
    const proj = linear(pre, P('patch_embed.proj.weight') as tf.Tensor2D, P('patch_embed.proj.bias') as tf.Tensor1D);
    return rmsNorm(proj, P('patch_embed.norm.weight') as tf.Tensor1D, eps) as T;
  });
}

/** Patch embedding: video [B,F,H,W,3] → tokens [B, F, L, C]. */
export function patchEmbed(video: tf.Tensor5D, P: ParamGetter, patchSize: number, eps: number): tf.Tensor4D {
  return tf.tidy(() => embedPatches(patchify(video, patchSize), P, eps));
}
