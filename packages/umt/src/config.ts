/**
 * The configuration of one pretraining run: flat and JSON-serialisable, like flux-tune's. Defaults are the
 * embedded default (Moving-MNIST, the fluxvit_tiny student of flux-tune's default, a CPU-sized recipe scaled
 * from the official distillation scripts: AdamW β (0.9, 0.98), eps 1e-6, wd 0.05, clip 5, cosine with
 * warmup, drop path 0.05).
 */
import { ConfigError, DEFAULT_TUNE_CONFIG, configRangeChecks, gridTokens } from '@flux/train';
import { MOVING_MNIST_TASKS } from '@flux/video';

import type { MaskSegments } from './mask.js';

export type PretrainMode = 'flux' | 'vanilla';

export interface PretrainConfig {
  /** `flux`: flexi-sampled clips, the teacher sees K_t group-dynamic tokens, Flux-Multi students; `vanilla`: UMT (fixed grid, the teacher sees every token, one student count). */
  mode: PretrainMode;
  /** Student: FluxViT variant and architecture overrides (as flux-tune's `model` / `modelOverrides`). */
  model: string;
  modelOverrides: Record<string, unknown>;
  /** Student init weights (`.safetensors`, official `.pth`, or a flux-tune/flux-pretrain run directory); null: random init. */
  studentInit: string | null;
  /** Teacher weights: a flux-tune run directory, or a `.safetensors` / official `.pth` file of `teacherModel`. */
  teacher: string | null;
  /** FluxViT variant of a teacher weights file, with overrides (ignored for a run directory, which records its own). */
  teacherModel: string;
  teacherOverrides: Record<string, unknown>;
  /** Data (labels are never read): `moving-mnist` or a training manifest. */
  data: string;
  task: string;
  trainClips: number;
  clipLength: number;
  clipSize: number;
  /** The fixed grid of vanilla UMT: F frames of R×R. */
  frames: number;
  size: number;
  /** Flux: flexi-sampling ranges [min, max, step] and the pool's token threshold [low, high]. */
  flexiFrames: [number, number, number];
  flexiSizes: [number, number, number];
  tokenThreshold: [number, number];
  /** K_t, the tokens the teacher sees (flux: chosen by the selector from the pool; vanilla: must be the grid's tokens, null = the grid's). */
  teacherTokens: number | null;
  /** Selector of the teacher's tokens. */
  selector: string;
  /** Student mask ratios ρ, one student forward each (Flux-Multi: several); null: [0.6, 0.7, 0.8] for flux, [0.8] for vanilla. */
  maskRatios: number[] | null;
  /** How the student mask splits the teacher's tokens: auto = per frame when the teacher saw every token, else per selector group. */
  maskSegments: 'auto' | MaskSegments;
  /** Aligned layers: the student's last N with N evenly spaced teacher layers. */
  alignLayers: number;
  /** Interval of the teacher layers (`L−1−⌊i·interval⌋`); null: L / (2N). */
  teacherInterval: number | null;
  /** Weights of the per-layer term (mean over layers) and of the pooled-feature term. */
  layerWeight: number;
  pooledWeight: number;
  steps: number;
  batchSize: number;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  clipGrad: number;
  dropPath: number;
  cropScales: number[];
  flip: boolean;
  seed: number;
  checkpointEvery: number;
  keepCheckpoints: number;
  backend: string;
}

export const DEFAULT_PRETRAIN_CONFIG: PretrainConfig = {
  mode: 'flux',
  model: DEFAULT_TUNE_CONFIG.model,
  modelOverrides: { ...DEFAULT_TUNE_CONFIG.modelOverrides },
  studentInit: null,
  teacher: null,
  teacherModel: DEFAULT_TUNE_CONFIG.model,
  teacherOverrides: {},
  data: 'moving-mnist',
  task: 'distract',
  trainClips: DEFAULT_TUNE_CONFIG.trainClips,
  clipLength: DEFAULT_TUNE_CONFIG.clipLength,
  clipSize: DEFAULT_TUNE_CONFIG.clipSize,
  frames: DEFAULT_TUNE_CONFIG.frames,
  size: DEFAULT_TUNE_CONFIG.size,
  flexiFrames: [4, 16, 2],
  flexiSizes: [32, 64, 16],
  // The pool holds 1–2× the teacher's tokens (the paper: T_thres (2048, 4096) around K_t = 2048).
  tokenThreshold: [128, 256],
  teacherTokens: null,
  selector: 'group-dynamic',
  maskRatios: null,
  maskSegments: 'auto',
  alignLayers: 6,
  teacherInterval: null,
  layerWeight: 1,
  pooledWeight: 1,
  steps: 400,
  batchSize: 16,
  lr: 1e-3,
  minLr: 1e-5,
  warmupSteps: 20,
  weightDecay: 0.05,
  beta1: 0.9,
  beta2: 0.98,
  eps: 1e-6,
  clipGrad: 5,
  dropPath: 0.05,
  cropScales: [],
  flip: false,
  seed: 0,
  checkpointEvery: 100,
  keepCheckpoints: 2,
  backend: 'auto',
};

/** Flux-Multi's default student mask ratios: keeps of 0.4, 0.3 and 0.2 of K_t — Table 14's 2048 : 1536 : 1024 proportions, anchored at UMT's ρ = 0.8. */
export const FLUX_MASK_RATIOS = [0.6, 0.7, 0.8] as const;
/** Vanilla UMT's mask ratio. */
export const UMT_MASK_RATIO = 0.8;

const SEGMENTS = ['auto', 'frame', 'group', 'clip'];

/** The patch size of the student. */
export function studentPatchSize(cfg: PretrainConfig): number {
  const p = cfg.modelOverrides.patchSize;
  return typeof p === 'number' ? p : 14;
}

/** The run's mask ratios (the mode's default when `maskRatios` is null). */
export function maskRatiosOf(cfg: PretrainConfig): number[] {
  return cfg.maskRatios ?? (cfg.mode === 'flux' ? [...FLUX_MASK_RATIOS] : [UMT_MASK_RATIO]);
}

/** K_t of the run (vanilla: the grid's tokens). */
export function teacherTokensOf(cfg: PretrainConfig): number {
  return cfg.teacherTokens ?? gridTokens(cfg.frames, cfg.size, studentPatchSize(cfg));
}

/** Merges partial configs onto the defaults (later wins; override objects merge key by key) and validates. */
export function resolvePretrainConfig(...layers: Partial<PretrainConfig>[]): PretrainConfig {
  let cfg: PretrainConfig = { ...DEFAULT_PRETRAIN_CONFIG, modelOverrides: { ...DEFAULT_PRETRAIN_CONFIG.modelOverrides }, teacherOverrides: {} };
  for (const layer of layers) {
    const unknown = Object.keys(layer).filter((k) => !Object.hasOwn(DEFAULT_PRETRAIN_CONFIG, k));
    if (unknown.length) throw new ConfigError(`unknown pretrain config key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${Object.keys(DEFAULT_PRETRAIN_CONFIG).join(', ')})`);
    const defined = Object.fromEntries(Object.entries(layer).filter(([, v]) => v !== undefined)) as Partial<PretrainConfig>;
    cfg = {
      ...cfg,
      ...defined,
      modelOverrides: { ...cfg.modelOverrides, ...(defined.modelOverrides ?? {}) },
      teacherOverrides: { ...cfg.teacherOverrides, ...(defined.teacherOverrides ?? {}) },
    };
  }
  validatePretrainConfig(cfg);
  return cfg;
}

export function validatePretrainConfig(c: PretrainConfig): void {
  const errs: string[] = [];
  const { int, num } = configRangeChecks(c, errs);
  if (c.mode !== 'flux' && c.mode !== 'vanilla') errs.push(`mode must be 'flux' or 'vanilla' (got ${JSON.stringify(c.mode)})`);
  for (const k of ['steps', 'trainClips', 'checkpointEvery', 'alignLayers'] as const) int(k, 1);
  int('batchSize', 1, 65_536);
  int('clipLength', 1, 100_000);
  int('clipSize', 1, 8192);
  int('frames', 1, 4096);
  int('size', 1, 8192);
  for (const k of ['warmupSteps', 'keepCheckpoints'] as const) int(k, 0);
  int('seed', 0, 2 ** 32 - 1);
  num('lr', 1e-12, 10);
  num('minLr', 0, 10);
  num('weightDecay', 0, 10);
  num('beta1', 0, 0.999999);
  num('beta2', 0, 0.999999);
  num('eps', 1e-12, 1);
  num('clipGrad', 0);
  num('dropPath', 0, 0.99);
  num('layerWeight', 0, 1e6);
  num('pooledWeight', 0, 1e6);
  if (!(c.layerWeight > 0 || c.pooledWeight > 0)) errs.push('layerWeight and pooledWeight cannot both be 0 (nothing to train)');
  const patch = studentPatchSize(c);
  if (c.size % patch !== 0) errs.push(`size ${c.size} is not a multiple of the student's patch size ${patch}`);
  for (const k of ['flexiFrames', 'flexiSizes'] as const) {
    const v = c[k];
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => !Number.isInteger(x) || x < 1 || x > 8192) || v[0] > v[1]) errs.push(`${k} must be [min, max, step] integers in [1, 8192] with min ≤ max (got ${JSON.stringify(v)})`);
  }
  if (Array.isArray(c.flexiSizes) && c.flexiSizes.length === 3 && c.flexiSizes.every((x) => Number.isInteger(x) && x >= 1)) {
    for (let r = c.flexiSizes[0]; r <= c.flexiSizes[1]; r += c.flexiSizes[2]) if (r % patch !== 0) errs.push(`flexiSizes value ${r} is not a multiple of the patch size ${patch}`);
  }
  if (!Array.isArray(c.tokenThreshold) || c.tokenThreshold.length !== 2 || !(c.tokenThreshold[0]! >= 1 && c.tokenThreshold[0]! <= c.tokenThreshold[1]!)) errs.push(`tokenThreshold must be [low, high] with 1 ≤ low ≤ high (got ${JSON.stringify(c.tokenThreshold)})`);
  if (c.teacherTokens !== null && (!Number.isSafeInteger(c.teacherTokens) || c.teacherTokens < 1 || c.teacherTokens > 1e7)) errs.push(`teacherTokens must be a positive integer ≤ 10000000 or null (got ${JSON.stringify(c.teacherTokens)})`);
  if (c.maskRatios !== null && (!Array.isArray(c.maskRatios) || c.maskRatios.length === 0 || c.maskRatios.length > 8 || c.maskRatios.some((r) => typeof r !== 'number' || !(r >= 0 && r < 1)))) errs.push(`maskRatios must be 1–8 numbers in [0, 1) or null (got ${JSON.stringify(c.maskRatios)})`);
  if (!SEGMENTS.includes(c.maskSegments)) errs.push(`maskSegments must be one of ${SEGMENTS.join(', ')} (got ${JSON.stringify(c.maskSegments)})`);
  if (c.teacherInterval !== null && !(typeof c.teacherInterval === 'number' && c.teacherInterval >= 1 && Number.isFinite(c.teacherInterval))) errs.push(`teacherInterval must be a number ≥ 1 or null (got ${JSON.stringify(c.teacherInterval)})`);
  if (!Array.isArray(c.cropScales) || c.cropScales.some((s) => !(s > 0 && s <= 1))) errs.push('cropScales must be numbers in (0, 1]');
  if (c.data === 'moving-mnist' && (typeof c.task !== 'string' || !Object.hasOwn(MOVING_MNIST_TASKS, c.task))) errs.push(`task must be one of ${Object.keys(MOVING_MNIST_TASKS).join(', ')} (got ${JSON.stringify(c.task)})`);
  if (typeof c.data !== 'string' || !c.data) errs.push(`data must be 'moving-mnist' or a manifest path (got ${JSON.stringify(c.data)})`);
  if (!errs.length) {
    if (c.mode === 'vanilla' && c.teacherTokens !== null && c.teacherTokens !== gridTokens(c.frames, c.size, patch)) {
      errs.push(`vanilla UMT's teacher sees every token of the ${c.frames}×${c.size}² grid (${gridTokens(c.frames, c.size, patch)}); teacherTokens ${c.teacherTokens} would be a selection — use mode flux or leave teacherTokens null`);
    }
    const F = Math.max(c.frames, c.flexiFrames[1]);
    const R = Math.max(c.size, c.flexiSizes[1]);
    const bytes = c.batchSize * F * R * R * 3 * 4;
    if (bytes > 16 * 2 ** 30) errs.push(`a batch of ${c.batchSize} clips × ${F} frames × ${R}² pixels needs ${(bytes / 2 ** 30).toFixed(1)} GiB as float32 (limit 16 GiB): lower batchSize, frames or size`);
  }
  if (errs.length) throw new ConfigError(`invalid pretrain config:\n  - ${errs.join('\n  - ')}`);
}
