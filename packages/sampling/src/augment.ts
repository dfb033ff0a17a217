/**
 * Flux augmentation of a whole batch in one call: TSN frame choice, multi-scale crop + flip to R×R,
 * normalisation — and the patch split a patch embedding consumes.
 */
import type { Rng } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { applyCrop, cropPlan, normalize, type CropOptions, type CropPlan, type NormalizeOptions } from './crop.js';
import { frameIndices, type FrameIndexOptions } from './frames.js';
import { defaultRng } from './rng.js';

/** Options of {@link augmentBatch}. */
export interface AugmentOptions {
  /** `'train'` (default): random frames per segment, random crop and flip; `'eval'`: centres, no flip. */
  mode?: 'train' | 'eval';
  /** Generator for frames and crops (default: a process-wide seeded stream). */
  rng?: Rng;
  crop?: Omit<CropOptions, 'mode'>;
  frames?: FrameIndexOptions;
  /** Normalisation, or `false` to keep the input's pixel scale. Default: 0..255 input, ImageNet mean/std. */
  normalize?: NormalizeOptions | false;
}

/**
 * Applies one sampling grid to a batch of decoded clips. `clips` [B,N,H,W,C] (pixels, any dtype) and a
 * grid `{ frames: F, resolution: R }` (e.g. `sampler.draw()`) → `video` float32 [B,F,R,R,C], plus the
 * frame indices and crop of every clip.
 */
export function augmentBatch(
  clips: tf.Tensor,
  grid: { frames: number; resolution: number },
  options: AugmentOptions = {},
): { video: tf.Tensor5D; indices: number[][]; crops: CropPlan[] } {
  if (clips.rank !== 5) throw new RangeError(`augmentBatch: clips must be [B,N,H,W,C], got shape [${clips.shape.join(',')}]`);
  const [b, n, h, w, c] = clips.shape;
  const mode = options.mode ?? 'train';
  const rng = options.rng ?? defaultRng;
  const indices = Array.from({ length: b }, () => frameIndices(n, grid.frames, mode, rng, options.frames));
  const crops = Array.from({ length: b }, () => cropPlan({ width: w, height: h }, rng, { ...options.crop, mode }));
  const video = tf.tidy(() => {
    const flat = Int32Array.from(indices.flatMap((row, bi) => row.map((t) => bi * n + t)));
    const picked = tf.reshape(tf.gather(tf.reshape(clips, [b * n, h, w, c]), flat), [b, grid.frames, h, w, c]);
    const cropped = applyCrop(picked, crops, grid.resolution);
    return (options.normalize === false ? cropped : normalize(cropped, options.normalize)) as tf.Tensor5D;
  });
  return { video, indices, crops };
}

/**
 * Splits frames into non-overlapping p×p patches: [B,F,R,R,C] → [B,F,L,p·p·C] with L = (R/p)², patches in
 * row-major order and each patch flattened (row, column, channel) — channel fastest, the order FluxViT's
 * Dual Patch Norm and patch projection expect.
 */
export function patchify(video: tf.Tensor, patch: number): tf.Tensor4D {
  if (video.rank !== 5) throw new RangeError(`patchify: video must be [B,F,H,W,C], got shape [${video.shape.join(',')}]`);
  const [b, f, h, w, c] = video.shape;
  if (!Number.isInteger(patch) || patch < 1 || h % patch !== 0 || w % patch !== 0) {
    throw new RangeError(`patchify: patch (${patch}) must divide the frame size ${h}×${w}`);
  }
  const gh = h / patch;
  const gw = w / patch;
  return tf.tidy(() => {
    const x = tf.reshape(video, [b * f, gh, patch, gw, patch * c]);
    return tf.reshape(tf.transpose(x, [0, 1, 3, 2, 4]), [b, f, gh * gw, patch * patch * c]) as tf.Tensor4D;
  });
}
