/**
 * Spatial augmentation: multi-scale crop and horizontal flip parameters (TSN's MultiScaleCrop, used by the
 * paper), applied to frame tensors with one `cropAndResize`, and ImageNet normalisation.
 */
import type { Rng } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { defaultRng } from './rng.js';

/** ImageNet channel mean (RGB, on 0..1 pixels). */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviation (RGB, on 0..1 pixels). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** The paper's crop scales, as fractions of the frame's short side. */
export const MULTI_SCALE_CROP_SCALES: readonly number[] = [1, 0.875, 0.75, 0.66];

/**
 * A crop rectangle in source pixels plus a flip flag. Shaped like @flux/video's `CropRect`, so the same plan
 * can drive ffmpeg decoding (`decodeFrames(file, idx, R, { crop: plan, flip: plan.flip })`) or {@link applyCrop}.
 */
export interface CropPlan {
  x: number;
  y: number;
  width: number;
  height: number;
  flip: boolean;
}

/** Options of {@link cropPlan}. */
export interface CropOptions {
  /** `'train'` (default): random multi-scale crop and flip; `'eval'`: centred square of the short side, no flip. */
  mode?: 'train' | 'eval';
  /** Crop side scales of the short side (default 1, 0.875, 0.75, 0.66). */
  scales?: readonly number[];
  /** Largest index distance between the width scale and the height scale (default 1, as TSN). */
  maxDistort?: number;
  /** Horizontal flip with probability ½ in training (default true; turn off for direction-sensitive tasks like SSv2). */
  flip?: boolean;
}

/**
 * A crop for a `width × height` frame. Training: width and height are ⌊short·sᵢ⌋ and ⌊short·sⱼ⌋ for scales
 * with |i − j| ≤ maxDistort, at a uniformly random position, flipped with probability ½. Evaluation: the
 * centred square of the short side, never flipped. One plan serves every frame of a clip.
 */
export function cropPlan(frame: { width: number; height: number }, rng?: Rng, options: CropOptions = {}): CropPlan {
  const { width: W, height: H } = frame;
  if (!Number.isInteger(W) || W < 1 || !Number.isInteger(H) || H < 1) {
    throw new RangeError(`cropPlan: frame size must be positive integers, got ${W}×${H}`);
  }
  const mode = options.mode ?? 'train';
  if (mode !== 'train' && mode !== 'eval') throw new RangeError(`cropPlan: mode must be 'train' or 'eval', got ${JSON.stringify(mode)}`);
  const short = Math.min(W, H);
  if (mode === 'eval') return { x: Math.floor((W - short) / 2), y: Math.floor((H - short) / 2), width: short, height: short, flip: false };
  const scales = options.scales ?? MULTI_SCALE_CROP_SCALES;
  if (scales.length === 0 || scales.some((s) => !(s > 0 && s <= 1))) {
    throw new RangeError(`cropPlan: scales must be a non-empty list in (0, 1], got ${JSON.stringify(scales)}`);
  }
  const maxDistort = options.maxDistort ?? 1;
  if (!Number.isInteger(maxDistort) || maxDistort < 0) throw new RangeError(`cropPlan: maxDistort must be an integer ≥ 0, got ${maxDistort}`);
  const r = rng ?? defaultRng;
  const sides = scales.map((s) => Math.max(1, Math.floor(short * s)));
  const pairs: [number, number][] = [];
  for (let i = 0; i < sides.length; i++) for (let j = 0; j < sides.length; j++) if (Math.abs(i - j) <= maxDistort) pairs.push([sides[i], sides[j]]);
  const [cw, ch] = r.choice(pairs);
  const x = r.int(W - cw + 1);
  const y = r.int(H - ch + 1);
  const flip = (options.flip ?? true) && r.bernoulli(0.5);
  return { x, y, width: cw, height: ch, flip };
}

/**
 * Crops, resizes (bilinear, pixel centres of the crop's corners map to the output's corners) and optionally
 * flips frames. `x`: one clip [F,H,W,C] with one plan, or a batch [B,F,H,W,C] with one plan per clip (or one
 * for all). Returns float32 [F,size,size,C] or [B,F,size,size,C].
 */
export function applyCrop(x: tf.Tensor, plans: CropPlan | readonly CropPlan[], size: number): tf.Tensor {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`applyCrop: size must be an integer ≥ 1, got ${size}`);
  if (x.rank !== 4 && x.rank !== 5) throw new RangeError(`applyCrop: x must be [F,H,W,C] or [B,F,H,W,C], got shape [${x.shape.join(',')}]`);
  const batched = x.rank === 5;
  const [b, f, h, w, c] = batched ? x.shape : [1, ...x.shape];
  const list = Array.isArray(plans) ? (plans as readonly CropPlan[]) : Array.from({ length: b }, () => plans as CropPlan);
  if (list.length !== b) throw new RangeError(`applyCrop: ${list.length} crop plans for a batch of ${b} clips`);
  const boxes = new Float32Array(b * f * 4);
  const sy = h > 1 ? 1 / (h - 1) : 0;
  const sx = w > 1 ? 1 / (w - 1) : 0;
  list.forEach((p, bi) => {
    if (!(p.x >= 0 && p.y >= 0 && p.width >= 1 && p.height >= 1 && p.x + p.width <= w && p.y + p.height <= h)) {
      throw new RangeError(`applyCrop: crop ${JSON.stringify(p)} does not fit a ${w}×${h} frame`);
    }
    const y1 = p.y * sy;
    const y2 = (p.y + p.height - 1) * sy;
    let x1 = p.x * sx;
    let x2 = (p.x + p.width - 1) * sx;
    if (p.flip) [x1, x2] = [x2, x1]; // a reversed box samples the mirrored crop
    for (let t = 0; t < f; t++) boxes.set([y1, x1, y2, x2], (bi * f + t) * 4);
  });
  return tf.tidy(() => {
    const images = tf.cast(tf.reshape(x, [b * f, h, w, c]), 'float32') as tf.Tensor4D;
    const boxInd = tf.range(0, b * f, 1, 'int32') as tf.Tensor1D;
    const out = tf.image.cropAndResize(images, tf.tensor2d(boxes, [b * f, 4]), boxInd, [size, size], 'bilinear');
    return tf.reshape(out, batched ? [b, f, size, size, c] : [f, size, size, c]);
  });
}

/** Options of {@link normalize}. */
export interface NormalizeOptions {
  /** Divide by this first (default 255: 0..255 pixels; use 1 for pixels already in 0..1). */
  scale?: number;
  mean?: readonly number[];
  std?: readonly number[];
}

/** `(x / scale − mean) / std` per channel (last axis), float32. Defaults: 0..255 input, ImageNet mean/std. */
export function normalize(x: tf.Tensor, options: NormalizeOptions = {}): tf.Tensor {
  const scale = options.scale ?? 255;
  const mean = options.mean ?? IMAGENET_MEAN;
  const std = options.std ?? IMAGENET_STD;
  const c = x.shape[x.rank - 1];
  if (mean.length !== c || std.length !== c) throw new RangeError(`normalize: mean/std have ${mean.length}/${std.length} channels, x has ${c}`);
  if (!(scale > 0) || std.some((s) => !(s > 0))) throw new RangeError(`normalize: scale and std must be > 0, got scale ${scale}, std ${JSON.stringify(std)}`);
  return tf.tidy(() => {
    const m = tf.tensor1d(mean.map((v) => v * scale));
    const inv = tf.tensor1d(std.map((s) => 1 / (s * scale)));
    return tf.mul(tf.sub(tf.cast(x, 'float32'), m), inv);
  });
}
