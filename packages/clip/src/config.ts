/**
 * The configuration of a Flux-CLIP run: flat and JSON-serialisable like flux-tune's. Defaults are the embedded
 * default: Moving-MNIST captions naming digit, direction and speed; flux-tune's default FluxViT as the vision
 * tower; a small CLIP-style text transformer; InternVideo2's small-model recipe (lr 4e-4, β (0.9, 0.98),
 * wd 0.2, max text length 32) scaled for 2 CPU cores.
 */
import { ConfigError, DEFAULT_TUNE_CONFIG, configRangeChecks, gridTokens } from '@flux/train';
import { MOVING_MNIST_TASKS } from '@flux/video';

export type ClipMode = 'fixed' | 'multi';

export interface ClipConfig {
  /** `multi`: Flux-Multi (flexi-sampled clips, one VTC per token count + self-distillation); `fixed`: one grid, all tokens. */
  mode: ClipMode;
  model: string;
  modelOverrides: Record<string, unknown>;
  /** Vision init: a flux-pretrain run (its student), a flux-tune run, a `.safetensors` or official `.pth`; null: random. */
  visionInit: string | null;
  data: string;
  task: string;
  trainClips: number;
  valClips: number;
  clipLength: number;
  clipSize: number;
  frames: number;
  size: number;
  flexiFrames: [number, number, number];
  flexiSizes: [number, number, number];
  tokenThreshold: [number, number];
  /** Flux-Multi token counts, largest first. */
  tokenCounts: number[];
  /** Joint embedding width. */
  embedDim: number;
  /** Text tower. */
  textWidth: number;
  textLayers: number;
  textHeads: number;
  contextLength: number;
  /** Compact vocabulary: at most this many BPE ids from the training captions. */
  maxVocab: number;
  /** Stage 1 steps: text tower + projections train, the vision backbone is frozen. */
  stage1Steps: number;
  /** Stage 2 steps: everything trains. */
  stage2Steps: number;
  batchSize: number;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  clipGrad: number;
  /** Initial temperature of the VTC (learnable, clamped at ≥ 0.01). */
  temperature: number;
  /** Weight of the Flux-Multi self-distillation. */
  distillWeight: number;
  seed: number;
  checkpointEvery: number;
  keepCheckpoints: number;
  backend: string;
}

export const DEFAULT_CLIP_CONFIG: ClipConfig = {
  mode: 'multi',
  model: DEFAULT_TUNE_CONFIG.model,
  modelOverrides: { ...DEFAULT_TUNE_CONFIG.modelOverrides },
  visionInit: null,
  data: 'moving-mnist',
  task: 'directions',
  trainClips: DEFAULT_TUNE_CONFIG.trainClips,
  valClips: DEFAULT_TUNE_CONFIG.valClips,
  clipLength: DEFAULT_TUNE_CONFIG.clipLength,
  clipSize: DEFAULT_TUNE_CONFIG.clipSize,
  frames: DEFAULT_TUNE_CONFIG.frames,
  size: DEFAULT_TUNE_CONFIG.size,
  flexiFrames: [...DEFAULT_TUNE_CONFIG.flexiFrames],
  flexiSizes: [...DEFAULT_TUNE_CONFIG.flexiSizes],
  tokenThreshold: [...DEFAULT_TUNE_CONFIG.tokenThreshold],
  tokenCounts: [...DEFAULT_TUNE_CONFIG.tokenCounts],
  embedDim: 64,
  textWidth: 64,
  textLayers: 2,
  textHeads: 4,
  contextLength: 32,
  maxVocab: 1024,
  stage1Steps: 100,
  stage2Steps: 900,
  batchSize: 32,
  lr: 4e-4,
  minLr: 1e-5,
  warmupSteps: 20,
  weightDecay: 0.2,
  beta1: 0.9,
  beta2: 0.98,
  clipGrad: 1,
  temperature: 0.07,
  distillWeight: 1,
  seed: 0,
  checkpointEvery: 100,
  keepCheckpoints: 2,
  backend: 'auto',
};

export function clipPatchSize(cfg: ClipConfig): number {
  const p = cfg.modelOverrides.patchSize;
  return typeof p === 'number' ? p : 14;
}

/** Token counts of the vision heads: the full grid for `fixed`, else `tokenCounts`. */
export function clipHeadCounts(cfg: ClipConfig): number[] {
  return cfg.mode === 'fixed' ? [gridTokens(cfg.frames, cfg.size, clipPatchSize(cfg))] : [...cfg.tokenCounts];
}

export function resolveClipConfig(...layers: Partial<ClipConfig>[]): ClipConfig {
  let cfg: ClipConfig = { ...DEFAULT_CLIP_CONFIG, modelOverrides: { ...DEFAULT_CLIP_CONFIG.modelOverrides } };
  for (const layer of layers) {
    const unknown = Object.keys(layer).filter((k) => !Object.hasOwn(DEFAULT_CLIP_CONFIG, k));
    if (unknown.length) throw new ConfigError(`unknown clip config key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${Object.keys(DEFAULT_CLIP_CONFIG).join(', ')})`);
    const defined = Object.fromEntries(Object.entries(layer).filter(([, v]) => v !== undefined)) as Partial<ClipConfig>;
    cfg = { ...cfg, ...defined, modelOverrides: { ...cfg.modelOverrides, ...(defined.modelOverrides ?? {}) } };
  }
  validateClipConfig(cfg);
  return cfg;
}

export function validateClipConfig(c: ClipConfig): void {
  const errs: string[] = [];
  const { int, num } = configRangeChecks(c, errs);
  if (c.mode !== 'fixed' && c.mode !== 'multi') errs.push(`mode must be 'fixed' or 'multi' (got ${JSON.stringify(c.mode)})`);
  for (const k of ['trainClips', 'valClips', 'checkpointEvery', 'embedDim', 'textWidth', 'textLayers', 'textHeads'] as const) int(k, 1);
  int('batchSize', 2, 65_536);
  int('contextLength', 2, 4096);
  int('maxVocab', 8, 1_000_000);
  int('clipLength', 1, 100_000);
  int('clipSize', 1, 8192);
  int('frames', 1, 4096);
  int('size', 1, 8192);
  for (const k of ['stage1Steps', 'stage2Steps', 'warmupSteps', 'keepCheckpoints'] as const) int(k, 0);
  int('seed', 0, 2 ** 32 - 1);
  if (c.stage1Steps + c.stage2Steps < 1) errs.push('stage1Steps + stage2Steps must be ≥ 1');
  num('lr', 1e-12, 10);
  num('minLr', 0, 10);
  num('weightDecay', 0, 10);
  num('beta1', 0, 0.999999);
  num('beta2', 0, 0.999999);
  num('clipGrad', 0);
  num('temperature', 0.01, 10);
  num('distillWeight', 0, 1e6);
  if (Number.isInteger(c.textWidth) && Number.isInteger(c.textHeads) && c.textWidth % c.textHeads !== 0) errs.push(`textWidth ${c.textWidth} is not divisible by textHeads ${c.textHeads}`);
  const patch = clipPatchSize(c);
  if (c.size % patch !== 0) errs.push(`size ${c.size} is not a multiple of the patch size ${patch}`);
  if (!Array.isArray(c.tokenCounts) || !c.tokenCounts.length || c.tokenCounts.some((k, i) => !Number.isInteger(k) || k < 1 || (i > 0 && k >= c.tokenCounts[i - 1]!))) errs.push(`tokenCounts must be positive integers, strictly decreasing (got ${JSON.stringify(c.tokenCounts)})`);
  for (const k of ['flexiFrames', 'flexiSizes'] as const) {
    const v = c[k];
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => !Number.isInteger(x) || x < 1 || x > 8192) || v[0] > v[1]) errs.push(`${k} must be [min, max, step] integers in [1, 8192] with min ≤ max (got ${JSON.stringify(v)})`);
  }
  if (!Array.isArray(c.tokenThreshold) || c.tokenThreshold.length !== 2 || !(c.tokenThreshold[0]! <= c.tokenThreshold[1]!)) errs.push(`tokenThreshold must be [low, high] with low ≤ high (got ${JSON.stringify(c.tokenThreshold)})`);
  if (c.data === 'moving-mnist' && !Object.hasOwn(MOVING_MNIST_TASKS, c.task)) errs.push(`task must be one of ${Object.keys(MOVING_MNIST_TASKS).join(', ')} (got ${JSON.stringify(c.task)})`);
  if (errs.length) throw new ConfigError(`invalid clip config:\n  - ${errs.join('\n  - ')}`);
}
