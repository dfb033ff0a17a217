/**
 * The data pipeline of every stage: labelled clip sources (`@flux/video`: the embedded Moving-MNIST, manifests
 * of real video files decoded with ffmpeg) and batches built with `@flux/sampling` (flexi-sampled or fixed
 * grids, TSN frame indices, multi-scale crops and flips). Every batch is a pure function of (seed, step) — the
 * clip order, the grid, the frame indices and the crops — so a resumed run sees exactly the batches the
 * uninterrupted run would have seen.
 */
import fs from 'node:fs';

import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@flux/core';
import { FlexiSampler, MULTI_SCALE_CROP_SCALES, cropPlan, fixedGrid, frameIndices, type CropPlan, type FlexiSamplingConfig, type GridPlan, type PlanSampler } from '@flux/sampling';
import { MOVING_MNIST_TASKS, MovingMnist, ProbeCache, decodeFrames, loadManifest, normalizeFrames, type MovingMnistConfig, type QaItem, type VideoItem } from '@flux/video';

export type Split = 'train' | 'val' | 'test';

/** Pixels and labels of one batch: uint8 [B, F, size, size, 3]. */
export interface ClipBatch {
  data: Uint8Array;
  shape: [number, number, number, number, number];
  labels: Int32Array;
}

/** Frame count and frame size of a source clip. */
export interface ClipInfo {
  frames: number;
  width: number;
  height: number;
}

/** A labelled clip source the trainers and the evaluators read from. */
export interface ClipDataset {
  readonly count: number;
  readonly numClasses: number;
  readonly classNames: string[];
  /** Frame count and size of clips `indices` (video files are probed once and cached). */
  info(indices: readonly number[]): ClipInfo[] | Promise<ClipInfo[]>;
  /** The canonical caption of clips `indices` (video-text training), where the source has captions. */
  captions?(indices: readonly number[]): string[] | Promise<string[]>;
  /** Multiple-choice questions about clips `indices` (the chat probe), where the source has them. */
  questions?(indices: readonly number[]): QaItem[][] | Promise<QaItem[][]>;
  /**
   * Renders or decodes clips `indices` at the frames given per clip, `size`×`size` pixels; `crop(b)` (source
   * pixels, with a flip flag — a `@flux/sampling` CropPlan) replaces the default centred square.
   */
  batch(indices: readonly number[], frames: (b: number) => readonly number[], size: number, crop?: (b: number) => CropPlan | undefined): ClipBatch | Promise<ClipBatch>;
}

/** Sizes of the embedded Moving-MNIST splits. */
export interface MovingMnistSizes {
  /** Frames of every clip. */
  clipLength: number;
  /** Side of every clip in pixels. */
  clipSize: number;
  trainClips: number;
  valClips: number;
  testClips?: number;
  seed?: number;
  /** A named task of `@flux/video`'s MOVING_MNIST_TASKS (default 'directions'). */
  task?: string;
}

/** The embedded Moving-MNIST default as a {@link ClipDataset}. */
export function movingMnistDataset(split: Split, cfg: MovingMnistSizes): ClipDataset {
  const count = split === 'train' ? cfg.trainClips : split === 'val' ? cfg.valClips : (cfg.testClips ?? 2000);
  const task = cfg.task ?? 'directions';
  if (!Object.hasOwn(MOVING_MNIST_TASKS, task)) throw new RangeError(`unknown Moving-MNIST task ${JSON.stringify(task)} (known: ${Object.keys(MOVING_MNIST_TASKS).join(', ')})`);
  const mmCfg: MovingMnistConfig = { ...MOVING_MNIST_TASKS[task], split, seed: cfg.seed ?? 0, size: cfg.clipSize, length: cfg.clipLength, count };
  const mm = new MovingMnist(mmCfg);
  return {
    count,
    numClasses: mm.numClasses,
    classNames: mm.classNames,
    info: (indices) => indices.map(() => ({ frames: mm.length, width: mm.size, height: mm.size })),
    captions: (indices) => indices.map((i) => mm.meta(i).caption),
    questions: (indices) => indices.map((i) => mm.meta(i).qa),
    batch(indices, frames, size, crop) {
      if (!crop) {
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
        const c = crop(i);
        const rect = c ? { x: c.x, y: c.y, width: c.width, height: c.height } : undefined;
        const clip = mm.clip(idx, { indices: frames(i), size, ...(rect ? { crop: rect } : {}), ...(c?.flip ? { flip: true } : {}) });
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
    info: (indices) => Promise.all(indices.map(async (i) => { const v = await infoOf(i); return { frames: v.frames, width: v.width, height: v.height }; })),
    ...(items.every((it) => it.captions?.length)
      ? { captions: (indices: readonly number[]) => indices.map((i) => items[i]!.captions![0]!) }
      : {}),
    async batch(indices, frames, size, crop) {
      const F = frames(0).length;
      const clipBytes = F * size * size * 3;
      const data = new Uint8Array(indices.length * clipBytes);
      const labels = new Int32Array(indices.length);
      let next = 0;
      const worker = async () => {
        for (let b = next++; b < indices.length; b = next++) {
          const item = items[indices[b]!]!;
          const c = crop?.(b);
          const rect = c ? { x: c.x, y: c.y, width: c.width, height: c.height } : undefined;
          const clip = await decodeFrames(item.path, frames(b), size, { info: await infoOf(indices[b]!), threads: 1, ...(rect ? { crop: rect } : {}), ...(c?.flip ? { flip: true } : {}) });
          data.set(clip.data, b * clipBytes);
          labels[b] = item.label!;
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, indices.length) }, worker));
      return { data, shape: [indices.length, F, size, size, 3], labels };
    },
  };
}

/** Where a run's clips come from: the embedded Moving-MNIST (with its sizes) or manifests per split. */
export interface DataSpec extends MovingMnistSizes {
  /** `moving-mnist` or the training manifest. */
  data: string;
  /** Validation manifest (default: the training manifest). */
  valData: string | null;
  /** Test manifest (default: the validation manifest, else the training manifest). */
  testData: string | null;
  /** Seed of the embedded data's clips (default 0) — fixed across run seeds, so every seed trains and tests on the same clips. */
  dataSeed?: number;
}

/**
 * Opens the dataset of a split: the embedded Moving-MNIST, or the manifests `data` (train), `valData` (val;
 * default: the train manifest) and `testData` (test; default: the val manifest). Val and test use the train
 * manifest's class list.
 */
export function openDataset(split: Split, spec: DataSpec, extra: { testClips?: number } = {}): ClipDataset {
  if (spec.data === 'moving-mnist') return movingMnistDataset(split, { ...spec, ...extra, seed: spec.dataSeed ?? 0 });
  const file = split === 'train' ? spec.data : split === 'val' ? (spec.valData ?? spec.data) : (spec.testData ?? spec.valData ?? spec.data);
  const limit = split === 'test' ? extra.testClips : undefined;
  const classes = split === 'train' ? undefined : manifestDataset(spec.data).classNames;
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
  /** The crop of each clip (null: the default centred square). */
  crops: (CropPlan | null)[];
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

/** How a run samples its training clips. */
export interface ClipSampling {
  seed: number;
  batchSize: number;
  /** A fixed grid (the baselines) or flexi-sampling (`@flux/sampling`'s FlexiSamplingConfig). */
  grid: { frames: number; resolution: number; patch: number } | FlexiSamplingConfig;
  /** Multi-scale crop scales of the short side (TSN); empty or absent: no random crop. */
  cropScales?: readonly number[];
  /** Horizontal flip with probability ½ (off for direction labels). */
  flip?: boolean;
}

/** What {@link gridSampling} builds a {@link ClipSampling} from (the flat keys every stage's config shares). */
export interface GridSamplingSpec {
  /** One fixed F×R grid (the baselines) instead of flexi-sampling. */
  fixed: boolean;
  seed: number;
  batchSize: number;
  frames: number;
  size: number;
  patch: number;
  flexiFrames: readonly [number, number, number];
  flexiSizes: readonly [number, number, number];
  tokenThreshold: readonly [number, number];
  cropScales?: readonly number[];
  flip?: boolean;
}

/** The sampling of a run's training clips: the fixed `frames`×`size` grid, or flexi-sampling over the ranges under the token threshold. */
export function gridSampling(s: GridSamplingSpec): ClipSampling {
  const range = ([min, max, step]: readonly [number, number, number]) => ({ min, max, step });
  return {
    seed: s.seed,
    batchSize: s.batchSize,
    grid: s.fixed
      ? { frames: s.frames, resolution: s.size, patch: s.patch }
      : { frames: range(s.flexiFrames), resolution: range(s.flexiSizes), patch: s.patch, tokens: { low: s.tokenThreshold[0], high: s.tokenThreshold[1] } },
    ...(s.cropScales ? { cropScales: s.cropScales } : {}),
    ...(s.flip !== undefined ? { flip: s.flip } : {}),
  };
}

function isFlexi(g: ClipSampling['grid']): g is FlexiSamplingConfig {
  return typeof (g as FlexiSamplingConfig).frames === 'object';
}

/**
 * Training batches of a dataset: per step a grid from the sampler (seeded by the step), the clips of that step
 * ({@link stepClipIndices}), TSN training frame indices and optional multi-scale crops and flips — all from
 * `@flux/sampling`.
 */
export class ClipBatcher {
  readonly sampling: ClipSampling;
  readonly dataset: ClipDataset;
  /** Every grid the sampler can draw. */
  readonly grids: GridPlan[];
  private readonly patch: number;

  constructor(sampling: ClipSampling, dataset: ClipDataset) {
    if (!Number.isInteger(sampling.batchSize) || sampling.batchSize < 1) throw new RangeError(`ClipBatcher: batchSize must be an integer ≥ 1, got ${sampling.batchSize}`);
    this.sampling = sampling;
    this.dataset = dataset;
    const g = sampling.grid;
    this.patch = g.patch;
    this.grids = isFlexi(g) ? new FlexiSampler(g, 0).all() : [fixedGrid(g.frames, g.resolution, g.patch)];
    if (sampling.cropScales?.length) cropPlan({ width: 8, height: 8 }, new Rng(0), { scales: sampling.cropScales }); // validates the scales
  }

  private sampler(rng: Rng): PlanSampler {
    const g = this.sampling.grid;
    return isFlexi(g) ? new FlexiSampler(g, rng) : { draw: () => ({ ...this.grids[0]! }), all: () => this.grids };
  }

  /** The batch of step `step`. */
  async batch(step: number): Promise<TrainBatch> {
    const { seed, batchSize } = this.sampling;
    const rng = new Rng(`batch/${seed}/${step}`);
    const grid = this.sampler(rng).draw();
    const clipIndices = stepClipIndices(step, batchSize, this.dataset.count, seed);
    const infos = await this.dataset.info(clipIndices);
    const frameLists = clipIndices.map((_, i) => frameIndices(infos[i]!.frames, grid.frames, 'train', rng));
    const scales = this.sampling.cropScales?.length ? this.sampling.cropScales : null;
    const flip = this.sampling.flip ?? false;
    const crops: (CropPlan | null)[] = clipIndices.map((_, i) => (scales || flip ? cropPlan(infos[i]!, rng, { scales: scales ?? [1], flip }) : null));
    const b = await this.dataset.batch(clipIndices, (i) => frameLists[i]!, grid.resolution, scales || flip ? (i) => crops[i] ?? undefined : undefined);
    return {
      video: toVideoTensor(b.data, b.shape),
      labels: tf.tensor1d(b.labels, 'int32'),
      frames: grid.frames,
      size: grid.resolution,
      tokens: grid.tokens,
      clipIndices,
      crops,
    };
  }
}

/** The default multi-scale crop scales of the paper (TSN), for configs that turn crops on. */
export const DEFAULT_CROP_SCALES: readonly number[] = MULTI_SCALE_CROP_SCALES;

/** Evaluation batches: clips `indices` at a fixed grid, TSN centre frames, the default centred square. */
export async function evalBatch(dataset: ClipDataset, indices: readonly number[], frames: number, size: number): Promise<{ video: tf.Tensor5D; labels: Int32Array }> {
  const infos = await dataset.info(indices);
  const b = await dataset.batch(indices, (i) => frameIndices(infos[i]!.frames, frames, 'eval'), size);
  return { video: toVideoTensor(b.data, b.shape), labels: b.labels };
}
