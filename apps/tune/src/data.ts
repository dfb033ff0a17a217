/**
 * Batches for tuning and evaluation. Every batch is a pure function of (seed, step) — the clip order, the
 * sampled grid, the frame indices and the crops — so a resumed run sees exactly the batches the
 * uninterrupted run would have seen.
 */
import fs from 'node:fs';

import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@flux/core';
import { MovingMnist, ProbeCache, decodeFrames, loadManifest, normalizeFrames, type MovingMnistConfig, type VideoItem } from '@flux/video';

import { gridTokens, patchSizeOf, type TuneConfig } from './config.js';
import { drawGrid, sampleFrameIndices } from './sampling-adapter.js';

export type Split = 'train' | 'val' | 'test';

/** Pixels and labels of one batch: uint8 [B, F, size, size, 3]. */
export interface ClipBatch {
  data: Uint8Array;
  shape: [number, number, number, number, number];
  labels: Int32Array;
}

/** A labelled clip source the trainer and the evaluator read from. */
export interface ClipDataset {
  readonly count: number;
  readonly numClasses: number;
  readonly classNames: string[];
  /** Frames of each of clips `indices` (video files are probed once and cached). */
  lengths(indices: readonly number[]): number[] | Promise<number[]>;
  /** Renders or decodes clips `indices` at F frames given per clip, side `size`. */
  batch(
    indices: readonly number[],
    frames: (b: number) => readonly number[],
    size: number,
    crop?: (b: number) => { scale: number; x: number; y: number } | undefined,
    flip?: (b: number) => boolean,
  ): ClipBatch | Promise<ClipBatch>;
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
    lengths: (indices) => indices.map(() => mm.length),
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

/**
 * A dataset manifest (Kinetics-style CSV `path label`, SSv2 JSON, or a folder of class folders — `@flux/video`
 * `loadManifest`) as a {@link ClipDataset}. Frames are decoded with ffmpeg, exactly the sampled ones, two clips at a
 * time. `classes` fixes the class list (the train manifest's, for val and test). A clip that cannot be decoded
 * stops with an error that names the file and the cause.
 */
export function manifestDataset(file: string, options: { classes?: string[]; limit?: number; concurrency?: number } = {}): ClipDataset {
  if (!fs.existsSync(file)) throw new Error(`data '${file}': no such manifest file or folder`);
  const ds = loadManifest(file, options.classes ? { classes: options.classes } : {});
  const items: VideoItem[] = ds.items.slice(0, options.limit ?? ds.items.length);
  const unlabelled = items.filter((it) => it.label === undefined);
  if (unlabelled.length) throw new Error(`data '${file}': ${unlabelled.length} clips have no class label (first: ${unlabelled[0]!.path}); flux-tune needs a labelled manifest`);
  if (!items.length) {
    const why = ds.problems.slice(0, 3).map((p) => JSON.stringify(p)).join('; ');
    throw new Error(`data '${file}': no usable clips${why ? ` (${why})` : ''}`);
  }
  const classNames = options.classes ?? ds.classes;
  if (classNames.length < 2) throw new Error(`data '${file}': needs at least 2 classes, found ${classNames.length}`);
  const probes = new ProbeCache();
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const infoOf = (i: number) => probes.get(items[i]!.path, {});
  return {
    count: items.length,
    numClasses: classNames.length,
    classNames,
    lengths: (indices) => Promise.all(indices.map(async (i) => (await infoOf(i)).frames)),
    async batch(indices, frames, size, crop, flip) {
      const F = frames(0).length;
      const clipBytes = F * size * size * 3;
      const data = new Uint8Array(indices.length * clipBytes);
      const labels = new Int32Array(indices.length);
      let next = 0;
      const worker = async () => {
        for (let b = next++; b < indices.length; b = next++) {
          const item = items[indices[b]!]!;
          const c = crop?.(b);
          const rect = c ? { x: c.x * (1 - c.scale), y: c.y * (1 - c.scale), width: c.scale, height: c.scale, unit: 'fraction' as const } : undefined;
          const clip = await decodeFrames(item.path, frames(b), size, { info: await infoOf(indices[b]!), threads: 1, ...(rect ? { crop: rect } : {}), ...(flip?.(b) ? { flip: true } : {}) });
          data.set(clip.data, b * clipBytes);
          labels[b] = item.label!;
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, indices.length) }, worker));
      return { data, shape: [indices.length, F, size, size, 3], labels };
    },
  };
}

/**
 * Opens the dataset of a split: the embedded Moving-MNIST, or the manifests `cfg.data` (train), `cfg.valData`
 * (val; default: the train manifest) and `cfg.testData` (test; default: the val manifest). Val and test use the
 * train manifest's class list.
 */
export function openDataset(split: Split, cfg: TuneConfig, extra: { testClips?: number } = {}): ClipDataset {
  if (cfg.data === 'moving-mnist') return movingMnistDataset(split, { ...cfg, ...extra });
  const file = split === 'train' ? cfg.data : split === 'val' ? (cfg.valData ?? cfg.data) : (cfg.testData ?? cfg.valData ?? cfg.data);
  const limit = split === 'test' ? extra.testClips : undefined;
  const classes = split === 'train' ? undefined : manifestDataset(cfg.data).classNames;
  return manifestDataset(file, { ...(classes ? { classes } : {}), ...(limit !== undefined ? { limit } : {}) });
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
export async function trainBatch(step: number, cfg: TuneConfig, dataset: ClipDataset): Promise<TrainBatch> {
  const rng = new Rng(`batch/${cfg.seed}/${step}`);
  const patch = patchSizeOf(cfg);
  const grid = cfg.mode === 'fixed' ? { frames: cfg.frames, size: cfg.size } : drawGrid(cfg, rng);
  const clipIndices = stepClipIndices(step, cfg.batchSize, dataset.count, cfg.seed);
  const lengths = await dataset.lengths(clipIndices);
  const frameLists = clipIndices.map((_, i) => sampleFrameIndices(lengths[i]!, grid.frames, 'train', rng));
  const crops = cfg.cropScales.length ? clipIndices.map(() => ({ scale: rng.choice(cfg.cropScales), x: rng.next(), y: rng.next() })) : null;
  const flips = cfg.flip ? clipIndices.map(() => rng.bernoulli(0.5)) : null;
  const b = await dataset.batch(clipIndices, (i) => frameLists[i]!, grid.size, crops ? (i) => crops[i] : undefined, flips ? (i) => flips[i]! : undefined);
  return {
    video: toVideoTensor(b.data, b.shape),
    labels: tf.tensor1d(b.labels, 'int32'),
    frames: grid.frames,
    size: grid.size,
    tokens: gridTokens(grid.frames, grid.size, patch),
    clipIndices,
  };
}

/** Evaluation batches: clips `indices` at a fixed grid with TSN centre frames. */
export async function evalBatch(dataset: ClipDataset, indices: readonly number[], frames: number, size: number): Promise<{ video: tf.Tensor5D; labels: Int32Array }> {
  const lengths = await dataset.lengths(indices);
  const b = await dataset.batch(indices, (i) => sampleFrameIndices(lengths[i]!, frames, 'eval'), size);
  return { video: toVideoTensor(b.data, b.shape), labels: b.labels };
}
