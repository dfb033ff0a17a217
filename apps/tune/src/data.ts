/**
 * Batches for tuning and evaluation. Every batch is a pure function of (seed, step) — the clip order, the
 * sampled grid, the frame indices and the crops — so a resumed run sees exactly the batches the
 * uninterrupted run would have seen.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@flux/core';
import { MovingMnist, normalizeFrames, type MovingMnistConfig } from '@flux/video';

import { gridTokens, patchSizeOf, type TuneConfig } from './config.js';
import { drawGrid, sampleFrameIndices } from './sampling-adapter.js';

export type Split = 'train' | 'val' | 'test';

/** A labelled clip source the trainer and the evaluator read from. */
export interface ClipDataset {
  readonly count: number;
  readonly numClasses: number;
  readonly classNames: string[];
  readonly clipLength: number;
  /** Renders clips `indices` at F frames given per clip, side `size`: uint8 [B, F, size, size, 3] and labels. */
  batch(
    indices: readonly number[],
    frames: (b: number) => readonly number[],
    size: number,
    crop?: (b: number) => { scale: number; x: number; y: number } | undefined,
    flip?: (b: number) => boolean,
  ): { data: Uint8Array; shape: [number, number, number, number, number]; labels: Int32Array };
}

/** The embedded Moving-MNIST default as a {@link ClipDataset}. */
export function movingMnistDataset(split: Split, cfg: Pick<TuneConfig, 'clipLength' | 'clipSize' | 'trainClips' | 'valClips'> & { testClips?: number; seed?: number }): ClipDataset {
  const count = split === 'train' ? cfg.trainClips : split === 'val' ? cfg.valClips : (cfg.testClips ?? 2000);
  const mmCfg: MovingMnistConfig = { split, seed: cfg.seed ?? 0, size: cfg.clipSize, length: cfg.clipLength, count };
  const mm = new MovingMnist(mmCfg);
  return {
    count,
    numClasses: mm.numClasses,
    classNames: mm.classNames,
    clipLength: mm.length,
    batch(indices, frames, size, crop, flip) {
      if (!crop && !flip) {
        const b = mm.batch(indices, { frames: (_m, i) => frames(i), size });
        return { data: b.data, shape: b.shape as [number, number, number, number, number], labels: b.labels };
      }
      // Per-clip crops/flips: render one clip at a time. (A flip mirrors the motion; the label is not changed —
      // keep flip off for direction labels.)
      const F = frames(0).length;
      const clipBytes = F * size * size * 3;
      const data = new Uint8Array(indices.length * clipBytes);
      const labels = new Int32Array(indices.length);
      indices.forEach((idx, i) => {
        const c = crop?.(i);
        const f = flip?.(i) ?? false;
        const S = mm.size;
        const side = c ? Math.round(S * c.scale) : S;
        const rect = c ? { x: Math.round(c.x * (S - side)), y: Math.round(c.y * (S - side)), width: side, height: side } : undefined;
        const clip = mm.clip(idx, { indices: frames(i), size, ...(rect ? { crop: rect } : {}), ...(f ? { flip: true } : {}) });
        data.set(clip.data, i * clipBytes);
        labels[i] = clip.label;
      });
      return { data, shape: [indices.length, F, size, size, 3], labels };
    },
  };
}

/** Opens the dataset named by `cfg.data` for a split. */
export function openDataset(split: Split, cfg: TuneConfig, extra: { testClips?: number } = {}): ClipDataset {
  if (cfg.data === 'moving-mnist') return movingMnistDataset(split, { ...cfg, ...extra });
  throw new Error(`data '${cfg.data}': only the embedded 'moving-mnist' default is wired into flux-tune in this version (user manifests: see the README)`);
}

/** One training batch: the input tensor, labels, and what was sampled. */
export interface TrainBatch {
  video: tf.Tensor5D;
  labels: tf.Tensor1D;
  frames: number;
  size: number;
  /** Tokens of the sampled grid before selection. */
  tokens: number;
  clipIndices: number[];
}

/** Clip indices of training step `step`: consecutive slices of seeded per-epoch permutations. */
export function stepClipIndices(step: number, batchSize: number, count: number, seed: number): number[] {
  const out: number[] = [];
  let pos = step * batchSize;
  let epoch = -1;
  let order: number[] = [];
  while (out.length < batchSize) {
    const e = Math.floor(pos / count);
    if (e !== epoch) {
      epoch = e;
      order = new Rng(`order/${seed}/${e}`).shuffle(Array.from({ length: count }, (_, i) => i));
    }
    out.push(order[pos % count]!);
    pos++;
  }
  return out;
}

/** Normalised float32 tensor [B, F, R, R, 3] from uint8 pixels (ImageNet mean/std). */
export function toVideoTensor(data: Uint8Array, shape: readonly number[]): tf.Tensor5D {
  const x = normalizeFrames(data, 'imagenet');
  return tf.tensor5d(x, shape as [number, number, number, number, number], 'float32');
}

/** Builds the batch of step `step` for a run (fixed grid or flexi-sampled). */
export function trainBatch(step: number, cfg: TuneConfig, dataset: ClipDataset): TrainBatch {
  const rng = new Rng(`batch/${cfg.seed}/${step}`);
  const patch = patchSizeOf(cfg);
  const grid = cfg.mode === 'fixed' ? { frames: cfg.frames, size: cfg.size } : drawGrid(cfg, rng);
  const clipIndices = stepClipIndices(step, cfg.batchSize, dataset.count, cfg.seed);
  const frameLists = clipIndices.map(() => sampleFrameIndices(dataset.clipLength, grid.frames, 'train', rng));
  const crops = cfg.cropScales.length ? clipIndices.map(() => ({ scale: rng.choice(cfg.cropScales), x: rng.next(), y: rng.next() })) : null;
  const flips = cfg.flip ? clipIndices.map(() => rng.bernoulli(0.5)) : null;
  const b = dataset.batch(clipIndices, (i) => frameLists[i]!, grid.size, crops ? (i) => crops[i] : undefined, flips ? (i) => flips[i]! : undefined);
  return {
    video: toVideoTensor(b.data, b.shape),
    labels: tf.tensor1d(b.labels, 'int32'),
    frames: grid.frames,
    size: grid.size,
    tokens: gridTokens(grid.frames, grid.size, patch),
    clipIndices,
  };
}

/** Evaluation batches: clips [start, start+B) at a fixed grid with TSN centre frames. */
export function evalBatch(dataset: ClipDataset, indices: readonly number[], frames: number, size: number): { video: tf.Tensor5D; labels: Int32Array } {
  const fr = sampleFrameIndices(dataset.clipLength, frames, 'eval');
  const b = dataset.batch(indices, () => fr, size);
  return { video: toVideoTensor(b.data, b.shape), labels: b.labels };
}
