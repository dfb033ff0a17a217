import { MOVING_MNIST_TASKS } from '@flux/video';

import { ConfigError } from '../cli.js';
import { gridSampling, type ClipSampling } from '../data.js';

/**
 * The configuration of one tuning run: a flat, JSON-serialisable object. Defaults are the embedded
 * default job (Moving-MNIST, fluxvit_tiny sized for a 2-core CPU); a `--config file.json` and CLI flags
 * override them, in that order.
 */

export type TuneMode = 'fixed' | 'single' | 'multi';

export interface TuneConfig {
  /** `fixed`: the baseline (one F×R grid, all tokens); `single`: flexi-sampling + selector at one K; `multi`: Flux-Multi. */
  mode: TuneMode;
  /** FluxViT variant from the registry. */
  model: string;
  /** Architecture overrides on top of the variant (FluxViTConfig fields: embedDim, depth, patchSize, …). */
  modelOverrides: Record<string, unknown>;
  /** Start from these weights (a `.safetensors` file or a run directory); null trains from scratch. */
  init: string | null;
  /** `moving-mnist` (embedded, no downloads) or the training manifest (Kinetics CSV `path label`, SSv2 JSON, or a folder of class folders). */
  data: string;
  /** With the embedded data: the task (`@flux/video` MOVING_MNIST_TASKS: 'directions', the original 8 motion classes, or 'pair', 16 classes). */
  task: string;
  /** Validation manifest (with a manifest `data`); null: validate on `data`'s clips. */
  valData: string | null;
  /** Test manifest for flux-eval (with a manifest `data`); null: `valData`, else `data`. */
  testData: string | null;
  /** Training clips used from the dataset (Moving-MNIST: the train split's size). */
  trainClips: number;
  /** Validation clips (Moving-MNIST val split: digits disjoint from train and test). */
  valClips: number;
  /** Frames of every source clip (Moving-MNIST) — the sampler picks F of them. */
  clipLength: number;
  /** Side of the source clips in pixels (Moving-MNIST). */
  clipSize: number;
  /** Fixed grid: frames F and side R of the input (the baseline's grid and the evaluation's full grid). */
  frames: number;
  size: number;
  /** Flexi-sampling: frames from `[min, max]` step `step`. */
  flexiFrames: [number, number, number];
  /** Flexi-sampling: sides from `[min, max]` step `step` (multiples of the patch size). */
  flexiSizes: [number, number, number];
  /** Flexi-sampling token threshold `[low, high]` on F·(R/p)² (before selection). */
  tokenThreshold: [number, number];
  /** Tokens kept by the selector: one count (`single`) or the Flux-Multi counts, largest first. */
  tokenCounts: number[];
  /** Selector (group-dynamic is the paper default). */
  selector: string;
  steps: number;
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  /** Layer-wise learning-rate decay (BEiT/VideoMAE rule, as the official tuning scripts' `--layer_decay`); 1 turns it off. */
  layerDecay: number;
  /** Global gradient-norm clip (0 disables). */
  clipGrad: number;
  labelSmoothing: number;
  /** Weight of the Flux-Multi self-distillation terms. */
  distillWeight: number;
  /** Stochastic depth rate of the last block (overrides the variant's dropPathRate). */
  dropPath: number;
  /** Multi-scale crop augmentation (scales of the short side); [] disables. */
  cropScales: number[];
  /** Horizontal flip augmentation (off for direction tasks such as Moving-MNIST). */
  flip: boolean;
  seed: number;
  /** Save a checkpoint every N steps (and always at the end). */
  checkpointEvery: number;
  /** Checkpoints kept in the run directory (older ones are pruned; the newest good one is never removed). */
  keepCheckpoints: number;
  /** Evaluate on the validation clips every N steps (0: only at the end). */
  evalEvery: number;
  /** Clips evaluated at each validation (≤ valClips). */
  evalClips: number;
  /** tfjs backend: auto (tensorflow-gpu → tensorflow → wasm threads → wasm → cpu) or a name. */
  backend: string;
}

export const DEFAULT_TUNE_CONFIG: TuneConfig = {
  mode: 'multi',
  model: 'fluxvit_tiny',
  // CPU-scale from scratch: LayerScale off and positional embeddings ×4 (measured: with LayerScale 1e-5 and
  // unit pos-embed every arm stayed at chance for 250+ steps; with these, Flux-Multi leaves chance by ~100);
  // max pooling in the projectors (measured: with the release's mean-query attention pool the all-token
  // baseline stayed at chance for 300 steps — its pooled feature hardly varies across clips — and reached
  // only 44 % after 600; with the max pool it reaches 61 % at 300).
  modelOverrides: { patchSize: 16, embedDim: 64, depth: 4, numHeads: 4, clipEmbedDim: 64, clipNumHeads: 4, maxFrames: 16, maxGrid: 4, layerScaleInit: 0, posEmbedInitScale: 4, clipPool: 'max' },
  init: null,
  data: 'moving-mnist',
  task: 'directions',
  valData: null,
  testData: null,
  trainClips: 10_000,
  valClips: 1_000,
  clipLength: 16,
  clipSize: 64,
  frames: 8,
  size: 64,
  flexiFrames: [4, 16, 2],
  flexiSizes: [32, 64, 16],
  tokenThreshold: [64, 256],
  tokenCounts: [64, 40, 24],
  selector: 'group-dynamic',
  steps: 600,
  batchSize: 16,
  lr: 1e-3,
  minLr: 1e-5,
  warmupSteps: 30,
  weightDecay: 0.05,
  beta1: 0.9,
  beta2: 0.999,
  layerDecay: 1,
  clipGrad: 1,
  labelSmoothing: 0.1,
  distillWeight: 1,
  dropPath: 0,
  cropScales: [],
  flip: false,
  seed: 0,
  checkpointEvery: 100,
  keepCheckpoints: 2,
  evalEvery: 0,
  evalClips: 256,
  backend: 'auto',
};


const MODES: TuneMode[] = ['fixed', 'single', 'multi'];

/** Merges layers of partial configs onto the defaults (later wins; `modelOverrides` merge key by key) and validates. */
export function resolveTuneConfig(...layers: Partial<TuneConfig>[]): TuneConfig {
  let cfg: TuneConfig = { ...DEFAULT_TUNE_CONFIG, modelOverrides: { ...DEFAULT_TUNE_CONFIG.modelOverrides } };
  for (const layer of layers) {
    const unknown = Object.keys(layer).filter((k) => !Object.hasOwn(DEFAULT_TUNE_CONFIG, k));
    if (unknown.length) throw new ConfigError(`unknown config key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${Object.keys(DEFAULT_TUNE_CONFIG).join(', ')})`);
    const defined = Object.fromEntries(Object.entries(layer).filter(([, v]) => v !== undefined)) as Partial<TuneConfig>;
    cfg = { ...cfg, ...defined, modelOverrides: { ...cfg.modelOverrides, ...(defined.modelOverrides ?? {}) } };
  }
  validateTuneConfig(cfg);
  return cfg;
}

/** The patch size the run's model will use. */
export function patchSizeOf(cfg: TuneConfig): number {
  const p = cfg.modelOverrides.patchSize;
  return typeof p === 'number' ? p : 8;
}

/** Tokens of an F×R grid. */
export function gridTokens(frames: number, size: number, patch: number): number {
  return frames * Math.floor(size / patch) ** 2;
}

/** Upper bounds of the integer settings (a typo like 1e20 must fail validation, not crash V8 later). */
const LIMITS: Partial<Record<keyof TuneConfig, number>> = {
  batchSize: 65_536,
  clipLength: 100_000,
  clipSize: 8192,
  frames: 4096,
  size: 8192,
  keepCheckpoints: 1_000_000,
  seed: 2 ** 32 - 1,
};

/** Bytes above which one training batch (float32 video) is refused as absurd. */
const MAX_BATCH_BYTES = 16 * 2 ** 30;

export function validateTuneConfig(c: TuneConfig): void {
  const errs: string[] = [];
  const posInt = (k: keyof TuneConfig, min = 1, max = LIMITS[k] ?? 1e9) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) errs.push(`${k} must be an integer in [${min}, ${max}] (got ${JSON.stringify(v)})`);
  };
  const num = (k: keyof TuneConfig, lo: number, hi = Infinity) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) errs.push(`${k} must be a number in [${lo}, ${hi}] (got ${JSON.stringify(v)})`);
  };
  if (!MODES.includes(c.mode)) errs.push(`mode must be one of ${MODES.join(', ')} (got ${JSON.stringify(c.mode)})`);
  for (const k of ['steps', 'batchSize', 'trainClips', 'valClips', 'clipLength', 'clipSize', 'frames', 'size', 'checkpointEvery', 'evalClips'] as const) posInt(k);
  for (const k of ['warmupSteps', 'evalEvery', 'keepCheckpoints', 'seed'] as const) posInt(k, 0);
  num('lr', 0);
  num('minLr', 0);
  num('weightDecay', 0);
  num('beta1', 0, 1);
  num('beta2', 0, 1);
  num('clipGrad', 0);
  num('layerDecay', 1e-6, 1);
  num('labelSmoothing', 0, 1);
  num('distillWeight', 0);
  num('dropPath', 0, 0.99);
  if (!(c.lr > 0)) errs.push('lr must be > 0');
  const patch = patchSizeOf(c);
  if (c.size % patch !== 0) errs.push(`size ${c.size} is not a multiple of the patch size ${patch}`);
  const triple = (k: 'flexiFrames' | 'flexiSizes') => {
    const v = c[k];
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => !Number.isInteger(x) || x < 1 || x > 8192) || v[0] > v[1]) errs.push(`${k} must be [min, max, step] integers in [1, 8192] with min ≤ max (got ${JSON.stringify(v)})`);
  };
  triple('flexiFrames');
  triple('flexiSizes');
  if (Array.isArray(c.flexiSizes) && c.flexiSizes.length === 3) {
    for (let r = c.flexiSizes[0]; r <= c.flexiSizes[1]; r += c.flexiSizes[2]) if (r % patch !== 0) errs.push(`flexiSizes value ${r} is not a multiple of the patch size ${patch}`);
  }
  if (!Array.isArray(c.tokenThreshold) || c.tokenThreshold.length !== 2 || !(c.tokenThreshold[0] <= c.tokenThreshold[1])) errs.push(`tokenThreshold must be [low, high] with low ≤ high (got ${JSON.stringify(c.tokenThreshold)})`);
  if (!Array.isArray(c.tokenCounts) || c.tokenCounts.length === 0 || c.tokenCounts.some((k) => !Number.isInteger(k) || k < 1)) errs.push(`tokenCounts must be positive integers (got ${JSON.stringify(c.tokenCounts)})`);
  else {
    if (c.mode === 'single' && c.tokenCounts.length !== 1) errs.push(`mode single takes one token count (got ${c.tokenCounts.length})`);
    if (c.mode === 'multi' && c.tokenCounts.length < 2) errs.push('mode multi needs at least two token counts');
    if (c.tokenCounts.some((k, i) => i > 0 && k >= c.tokenCounts[i - 1]!)) errs.push(`tokenCounts must be strictly decreasing (largest first), got ${JSON.stringify(c.tokenCounts)}`);
  }
  if (!Array.isArray(c.cropScales) || c.cropScales.some((s) => !(s > 0 && s <= 1))) errs.push('cropScales must be numbers in (0, 1]');
  if (typeof c.task !== 'string' || !Object.hasOwn(MOVING_MNIST_TASKS, c.task)) errs.push(`task must be one of ${Object.keys(MOVING_MNIST_TASKS).join(', ')} (got ${JSON.stringify(c.task)})`);
  if (typeof c.data !== 'string' || !c.data) errs.push(`data must be 'moving-mnist' or a manifest path (got ${JSON.stringify(c.data)})`);
  for (const k of ['valData', 'testData'] as const) {
    const v = c[k];
    if (v !== null && (typeof v !== 'string' || !v)) errs.push(`${k} must be a manifest path or null (got ${JSON.stringify(v)})`);
    else if (v !== null && c.data === 'moving-mnist') errs.push(`${k} needs a manifest 'data' (the embedded Moving-MNIST has its own splits)`);
  }
  if (c.evalClips > c.valClips) errs.push(`evalClips ${c.evalClips} exceeds valClips ${c.valClips}`);
  if (!errs.length) {
    const F = c.mode === 'fixed' ? c.frames : Math.max(c.frames, c.flexiFrames[1]);
    const R = c.mode === 'fixed' ? c.size : Math.max(c.size, c.flexiSizes[1]);
    const bytes = c.batchSize * F * R * R * 3 * 4;
    if (bytes > MAX_BATCH_BYTES) errs.push(`a batch of ${c.batchSize} clips × ${F} frames × ${R}² pixels needs ${(bytes / 2 ** 30).toFixed(1)} GiB as float32 (limit ${MAX_BATCH_BYTES / 2 ** 30} GiB): lower batchSize, frames or size`);
    if (c.tokenCounts.some((k) => k > 1e7)) errs.push(`tokenCounts must be ≤ 10000000 (got ${JSON.stringify(c.tokenCounts)})`);
  }
  if (errs.length) throw new ConfigError(`invalid tune config:\n  - ${errs.join('\n  - ')}`);
}

/** How a run samples its training clips (`@flux/sampling` grids, TSN frames, crops, flips). */
export function samplingOf(cfg: TuneConfig): ClipSampling {
  return gridSampling({ ...cfg, fixed: cfg.mode === 'fixed', patch: patchSizeOf(cfg) });
}

/** Token counts of the model's heads for a config: the full fixed grid for the baseline, else tokenCounts. */
export function headCountsOf(cfg: TuneConfig): number[] {
  return cfg.mode === 'fixed' ? [gridTokens(cfg.frames, cfg.size, patchSizeOf(cfg))] : [...cfg.tokenCounts];
}
