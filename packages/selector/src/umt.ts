/**
 * The Unmasked-Teacher student mask: keep N − ⌊ρN⌋ of the teacher's tokens, sampled without replacement with
 * probability proportional to the teacher's CLS→patch attention.
 */
import type { Rng } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { rngFor } from './rng.js';

/** Options of {@link umtMask}. */
export interface UmtMaskOptions {
  /** Mask ratio ρ in [0, 1): the student keeps N − ⌊ρN⌋ tokens. Default 0.8. */
  ratio?: number;
  /** Seed: the same seed and attention give the same mask. Without it, a process-wide stream is used. */
  seed?: number;
  /** Generator (advanced; takes precedence over `seed`). */
  rng?: Rng;
}

/** Tokens the student keeps out of N at mask ratio ρ: N − ⌊ρN⌋. */
export function umtKeepCount(n: number, ratio = 0.8): number {
  checkRatio(ratio);
  return n - Math.floor(ratio * n);
}

/**
 * Weighted sampling without replacement of `keep` of `n` items (Efraimidis–Spirakis: the `keep` largest keys
 * log(u)/w — the same law as drawing one at a time ∝ weight among those left). Items of weight 0 are drawn
 * only when the positive ones run out, then uniformly. Returns sorted indices.
 */
export function weightedSampleWithoutReplacement(weights: ArrayLike<number>, offset: number, n: number, keep: number, rng: Rng): Int32Array {
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const w = weights[offset + i];
    if (!(w >= 0) || w === Infinity) {
      throw new RangeError(`umtMask: attention must be finite and ≥ 0, got ${w} at index ${i}`);
    }
    let u = rng.next();
    while (u === 0) u = rng.next();
    // Positive weights: key in (−∞, 0). Zero weights: below every positive key, random order among them.
    keys[i] = w > 0 ? Math.log(u) / w : -1e300 * (1 + u);
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => keys[b] - keys[a] || a - b);
  return Int32Array.from(order.slice(0, keep)).sort();
}

/**
 * UMT student mask. `attention` [B,F,L] (teacher CLS→patch attention per frame, e.g. the last block's, mean
 * over heads; any non-negative weights) → int32 [B, N − ⌊ρN⌋] kept indices into the flattened F·L axis,
 * sorted ascending; sampled ∝ attention without replacement, seeded.
 */
export function umtMask(attention: tf.Tensor, options: UmtMaskOptions = {}): tf.Tensor2D {
  const { indices, batch, keep } = umtMaskIndices(attention, options);
  return tf.tensor2d(indices, [batch, keep], 'int32');
}

/** {@link umtMask} returning a plain Int32Array (row-major [batch, keep]). */
export function umtMaskIndices(attention: tf.Tensor, options: UmtMaskOptions = {}): { indices: Int32Array; batch: number; keep: number } {
  if (attention.rank !== 3) throw new RangeError(`umtMask: attention must be [B,F,L], got shape [${attention.shape.join(',')}]`);
  const ratio = options.ratio ?? 0.8;
  const [b, f, l] = attention.shape as [number, number, number];
  const n = f * l;
  const keep = umtKeepCount(n, ratio);
  const rng = rngFor(options, 'umtMask');
  const w = attention.dataSync();
  const out = new Int32Array(b * keep);
  for (let r = 0; r < b; r++) out.set(weightedSampleWithoutReplacement(w, r * n, n, keep, rng), r * keep);
  return { indices: out, batch: b, keep };
}

function checkRatio(ratio: number): void {
  if (!(ratio >= 0 && ratio < 1)) throw new RangeError(`umtMask: ratio must be in [0, 1), got ${ratio}`);
}
