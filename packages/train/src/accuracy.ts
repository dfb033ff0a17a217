/** Accuracy of a model on a dataset at one input grid and token count (training validation and flux-eval). */
import * as tf from '@tensorflow/tfjs-core';
import type { FluxViT } from '@flux/vit';

import type { ClipDataset } from './data.js';
import { evalBatch } from './data.js';
import { headFor } from './head-for.js';

export { headFor };

export interface AccuracyOptions {
  frames: number;
  size: number;
  /** Tokens kept (omit: all tokens of the grid). */
  k?: number;
  /** Head index (default: {@link headFor}(k)). */
  head?: number;
  /** Clip indices to evaluate (default 0…clips−1). */
  indices?: readonly number[];
  clips?: number;
  batchSize?: number;
  /** Also return which clips were top-1 correct (for paired comparisons over clips). */
  perClip?: boolean;
}

export interface Accuracy {
  top1: number;
  top5: number;
  n: number;
  /** Clips whose logits held a NaN or ±Inf: counted as wrong at every k. */
  nonFinite: number;
  /** Top-1 correctness per evaluated clip (1/0, in `indices` order), with `perClip`. */
  correct?: Uint8Array;
}

/**
 * Counts correct top-1 and top-5 predictions of logits [B, C] against labels. A row holding any NaN or ±Inf is
 * wrong at every k (a broken model must not score: comparisons with NaN are all false, which would rank the
 * label first) and is counted in `nonFinite`.
 */
export function topkCorrect(logits: Float32Array, C: number, labels: ArrayLike<number>, correct?: Uint8Array, offset = 0): { top1: number; top5: number; nonFinite: number } {
  let top1 = 0;
  let top5 = 0;
  let nonFinite = 0;
  for (let b = 0; b < labels.length; b++) {
    const y = labels[b]!;
    const row = logits.subarray(b * C, (b + 1) * C);
    let finite = true;
    for (let c = 0; c < C; c++) if (!Number.isFinite(row[c]!)) finite = false;
    if (!finite) {
      nonFinite++;
      continue;
    }
    const target = row[y]!;
    let rank = 0;
    for (let c = 0; c < C; c++) if (row[c]! > target || (row[c] === target && c < y)) rank++;
    if (rank === 0) {
      top1++;
      if (correct) correct[offset + b] = 1;
    }
    if (rank < 5) top5++;
  }
  return { top1, top5, nonFinite };
}

/** Top-1/top-5 accuracy (fractions) over the chosen clips. */
export async function evaluateAccuracy(model: FluxViT, dataset: ClipDataset, options: AccuracyOptions): Promise<Accuracy> {
  const indices = options.indices ?? Array.from({ length: Math.min(options.clips ?? dataset.count, dataset.count) }, (_, i) => i);
  const B = options.batchSize ?? 32;
  const head = options.head ?? headFor(options.k, model.config.headTokenCounts);
  let top1 = 0;
  let top5 = 0;
  let nonFinite = 0;
  const correct = options.perClip ? new Uint8Array(indices.length) : undefined;
  for (let s = 0; s < indices.length; s += B) {
    const idx = indices.slice(s, s + B);
    const { video, labels } = await evalBatch(dataset, idx, options.frames, options.size);
    const logits = tf.tidy(() => {
      const out = model.forward(video, { ...(options.k !== undefined ? { k: options.k } : {}), head, training: false });
      return out.logits;
    });
    video.dispose();
    const data = logits.dataSync() as Float32Array;
    const C = logits.shape[logits.shape.length - 1]!;
    logits.dispose();
    const r = topkCorrect(data, C, labels, correct, s);
    top1 += r.top1;
    top5 += r.top5;
    nonFinite += r.nonFinite;
  }
  const n = indices.length;
  return { top1: top1 / n, top5: top5 / n, n, nonFinite, ...(correct ? { correct } : {}) };
}
