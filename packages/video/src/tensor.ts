/**
 * From uint8 RGB frames to the float tensor a model eats: [.., H, W, 3] normalised per channel.
 * The conversion is one JS loop into a Float32Array (faster than tfjs elementwise ops on CPU backends).
 */
import * as tf from '@tensorflow/tfjs-core';

/** ImageNet channel mean (RGB, 0..1 scale). */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel std (RGB, 0..1 scale). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** 'imagenet' (default): (x/255 − mean)/std; 'unit': x/255; or explicit per-channel mean/std on the 0..1 scale. */
export type Normalization = 'imagenet' | 'unit' | { mean: readonly number[]; std: readonly number[] };

/** Converts RGB uint8 (channel fastest, 3 channels) to normalised float32. */
export function normalizeFrames(data: Uint8Array, normalization: Normalization = 'imagenet', out?: Float32Array): Float32Array {
  if (data.length % 3 !== 0) throw new RangeError(`normalizeFrames: length ${data.length} is not a multiple of 3 (RGB)`);
  const res = out ?? new Float32Array(data.length);
  if (res.length !== data.length) throw new RangeError(`normalizeFrames: output length ${res.length} ≠ ${data.length}`);
  let mean: readonly number[];
  let std: readonly number[];
  if (normalization === 'imagenet') {
    mean = IMAGENET_MEAN;
    std = IMAGENET_STD;
  } else if (normalization === 'unit') {
    mean = [0, 0, 0];
    std = [1, 1, 1];
  } else {
    mean = normalization.mean;
    std = normalization.std;
    if (mean.length !== 3 || std.length !== 3 || std.some((s) => !(s > 0))) throw new RangeError('normalizeFrames: mean/std need 3 entries and std > 0');
  }
  // (x/255 − m)/s = x·a + b per channel.
  const a0 = 1 / (255 * std[0]), a1 = 1 / (255 * std[1]), a2 = 1 / (255 * std[2]);
  const b0 = -mean[0] / std[0], b1 = -mean[1] / std[1], b2 = -mean[2] / std[2];
  for (let i = 0; i < data.length; i += 3) {
    res[i] = data[i] * a0 + b0;
    res[i + 1] = data[i + 1] * a1 + b1;
    res[i + 2] = data[i + 2] * a2 + b2;
  }
  return res;
}

/**
 * A float32 tensor of shape `shape` (e.g. [F,H,W,3] for a clip or [B,F,H,W,3] for a batch) from RGB uint8 frames.
 * The caller owns (and disposes) the tensor.
 */
export function framesToTensor(
  frames: { data: Uint8Array; shape: readonly number[] },
  normalization: Normalization = 'imagenet',
): tf.Tensor {
  const n = frames.shape.reduce((a, b) => a * b, 1);
  if (n !== frames.data.length) throw new RangeError(`framesToTensor: shape [${frames.shape.join(',')}] holds ${n} values, data has ${frames.data.length}`);
  if (frames.shape[frames.shape.length - 1] !== 3) throw new RangeError('framesToTensor: last dimension must be 3 (RGB)');
  return tf.tensor(normalizeFrames(frames.data, normalization), [...frames.shape], 'float32');
}
