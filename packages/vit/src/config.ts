/**
 * FluxViT configuration and the registry of variants (timm's `@register_model` + `default_cfgs`).
 */

/** Architecture of one FluxViT. Names follow DESIGN.md; PyTorch names of the official release in brackets. */
export interface FluxViTConfig {
  /** Spatial patch size p (tubelet size is always 1). [patch_size] */
  patchSize: number;
  /** Token width C. [embed_dim] */
  embedDim: number;
  /** Number of transformer blocks. [depth] */
  depth: number;
  /** Attention heads per block (embedDim must divide). [num_heads] */
  numHeads: number;
  /** MLP hidden width = round(embedDim · mlpRatio). [mlp_ratio] */
  mlpRatio: number;
  /** Frames of the stored global pos-embed grid (T of `pos_embed`). [num_frames] */
  maxFrames: number;
  /** Patches per side of the stored pos-embed grid (H = W of `pos_embed`). [img_size / patch_size] */
  maxGrid: number;
  /** Classes of every `head.{j}`. [num_classes] */
  numClasses: number;
  /** Token count each projector/head pair was trained for; one `clip_projector.{j}` + `head.{j}` per entry. */
  headTokenCounts: number[];
  /** Output width of the attention-pool projectors (768 in the release). [clip_embed_dim] */
  clipEmbedDim: number;
  /** Heads of the attention-pool projectors (16 in the release; must divide embedDim). [attn_pool_num_heads] */
  clipNumHeads: number;
  /**
   * Number of `final_clip_decoder_for_projs.{j}` (linear + LayerNorm + L2) decoders used by Flux-FT
   * self-distillation. Default: headTokenCounts.length − 1 (2 in the release).
   */
  numProjDecoders?: number;
  /** Stochastic depth: rate of the last block, linear from 0. [drop_path_rate] */
  dropPathRate: number;
  /** LayerScale init (`ls1.gamma`, `ls2.gamma`); 0 disables LayerScale (no gamma parameters). [init_values] */
  layerScaleInit: number;
  /** Epsilon of every RMSNorm (blocks, qk-norm, Dual Patch Norm). */
  normEps: number;
  /**
   * Multiplier of the 3D sin-cos `pos_embed` init (default 1: unit-scale sin/cos, the release's init).
   * DESIGN.md: positions initialised much smaller than the unit-scale patch features (std 0.02) left
   * CPU-scale training at chance for hundreds of steps — keep this near 1 when training from scratch.
   */
  posEmbedInitScale?: number;
  /** MLP activation: exact erf GELU (default; `nn.GELU`) or the tanh approximation (flash-attn FusedMLP). */
  mlpActivation?: 'gelu' | 'gelu_tanh';
  /**
   * How `clip_projector.{j}` pools the tokens. `attention` (default): the release's AttentionPoolingBlock,
   * query = mean of the tokens. `max`: channel-wise max over the tokens, then the projector's `norm1_v`, `v`
   * and `proj` (no q/k parameters). Measured at CPU scale from scratch (Moving-MNIST, all 128 tokens of a
   * clip, mostly static black background): at init the mean-query pool's output varies across clips by 2.5 %
   * of its norm and a fixed-grid run stayed at chance for 300 steps; the max pool varies by 25 % and the same
   * run reached 61 %. Official checkpoints use `attention`.
   */
  clipPool?: 'attention' | 'max';
}

/** What a variant's pretrained weights expect (timm `default_cfg`). */
export interface PretrainedCfg {
  /** Frames and side of the input clip the weights were evaluated with. */
  inputSize: { frames: number; size: number };
  /** Per-channel RGB mean / std used to normalise pixels in [0, 1]. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Token counts of the heads (same as the config's headTokenCounts). */
  headTokenCounts: number[];
  /** Where official weights come from (informational; Flux never downloads). */
  source?: string;
}

export type FluxViTName = 'fluxvit_tiny' | 'fluxvit_small_patch14' | 'fluxvit_base_patch14' | 'fluxvit_large_patch14';

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

const BASE_DEFAULTS = {
  mlpRatio: 4,
  numClasses: 400,
  clipEmbedDim: 768,
  clipNumHeads: 16,
  dropPathRate: 0.1,
  layerScaleInit: 1e-5,
  normEps: 1e-6,
  posEmbedInitScale: 1,
  mlpActivation: 'gelu' as const,
  clipPool: 'attention' as const,
};

/** The registry: variant → architecture + pretrained cfg. */
export const MODEL_REGISTRY: Record<FluxViTName, { config: FluxViTConfig; pretrained: PretrainedCfg }> = {
  fluxvit_tiny: {
    config: {
      ...BASE_DEFAULTS,
      patchSize: 8,
      embedDim: 64,
      depth: 4,
      numHeads: 4,
      maxFrames: 8,
      maxGrid: 8,
      numClasses: 8,
      headTokenCounts: [512, 256, 128],
      clipEmbedDim: 128,
      clipNumHeads: 4,
      dropPathRate: 0,
    },
    pretrained: { inputSize: { frames: 8, size: 64 }, mean: IMAGENET_MEAN, std: IMAGENET_STD, headTokenCounts: [512, 256, 128] },
  },
  fluxvit_small_patch14: {
    config: { ...BASE_DEFAULTS, patchSize: 14, embedDim: 384, depth: 12, numHeads: 6, maxFrames: 24, maxGrid: 18, headTokenCounts: [1024, 2048, 3072] },
    pretrained: {
      inputSize: { frames: 8, size: 224 },
      mean: IMAGENET_MEAN,
      std: IMAGENET_STD,
      headTokenCounts: [1024, 2048, 3072],
      source: 'OpenGVLab/FluxViT (single_modality/MODEL_ZOO.md)',
    },
  },
  fluxvit_base_patch14: {
    config: { ...BASE_DEFAULTS, patchSize: 14, embedDim: 768, depth: 12, numHeads: 12, maxFrames: 32, maxGrid: 20, headTokenCounts: [1024, 2048, 3072] },
    pretrained: {
      inputSize: { frames: 8, size: 224 },
      mean: IMAGENET_MEAN,
      std: IMAGENET_STD,
      headTokenCounts: [1024, 2048, 3072],
      source: 'OpenGVLab/FluxViT (single_modality/MODEL_ZOO.md)',
    },
  },
  fluxvit_large_patch14: {
    // Not in the public release (S and B only); sized as DESIGN.md (L 1024/24/16) with B's grid.
    config: { ...BASE_DEFAULTS, patchSize: 14, embedDim: 1024, depth: 24, numHeads: 16, maxFrames: 32, maxGrid: 20, headTokenCounts: [1024, 2048, 3072] },
    pretrained: { inputSize: { frames: 8, size: 224 }, mean: IMAGENET_MEAN, std: IMAGENET_STD, headTokenCounts: [1024, 2048, 3072] },
  },
};

/** The names of the registered variants. */
export function listModels(): FluxViTName[] {
  return Object.keys(MODEL_REGISTRY) as FluxViTName[];
}

/** A variant's config with overrides applied and checked. */
export function resolveConfig(name: FluxViTName, overrides: Partial<FluxViTConfig> = {}): FluxViTConfig {
  const entry = MODEL_REGISTRY[name];
  if (!entry) throw new Error(`unknown FluxViT variant '${String(name)}' (known: ${listModels().join(', ')})`);
  const cfg: FluxViTConfig = { ...entry.config, ...overrides, headTokenCounts: [...(overrides.headTokenCounts ?? entry.config.headTokenCounts)] };
  validateConfig(cfg);
  return cfg;
}

/** Throws a readable error when a config cannot build a model. */
export function validateConfig(c: FluxViTConfig): void {
  const errs: string[] = [];
  const posInt = (k: keyof FluxViTConfig) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) errs.push(`${k} must be a positive integer (got ${String(v)})`);
  };
  for (const k of ['patchSize', 'embedDim', 'depth', 'numHeads', 'maxFrames', 'maxGrid', 'numClasses', 'clipEmbedDim', 'clipNumHeads'] as const) posInt(k);
  if (c.embedDim % c.numHeads !== 0) errs.push(`embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}`);
  if (c.embedDim % c.clipNumHeads !== 0) errs.push(`embedDim ${c.embedDim} is not divisible by clipNumHeads ${c.clipNumHeads}`);
  if (c.embedDim % 4 !== 0) errs.push(`embedDim ${c.embedDim} must be divisible by 4 (3D sin-cos pos-embed)`);
  if (c.headTokenCounts.length < 1 || c.headTokenCounts.some((n) => !Number.isInteger(n) || n <= 0)) errs.push('headTokenCounts must be ≥ 1 positive integers');
  if (!(c.mlpRatio > 0)) errs.push('mlpRatio must be > 0');
  if (!(c.dropPathRate >= 0 && c.dropPathRate < 1)) errs.push('dropPathRate must be in [0, 1)');
  if (!(c.layerScaleInit >= 0)) errs.push('layerScaleInit must be ≥ 0');
  if (c.clipPool !== undefined && c.clipPool !== 'attention' && c.clipPool !== 'max') errs.push(`clipPool must be 'attention' or 'max' (got ${String(c.clipPool)})`);
  if (errs.length) throw new Error(`invalid FluxViT config: ${errs.join('; ')}`);
}

/** MLP hidden width (PyTorch: int(dim * mlp_ratio)). */
export function mlpHidden(c: FluxViTConfig): number {
  return Math.floor(c.embedDim * c.mlpRatio);
}

/** Number of projection decoders. */
export function numProjDecoders(c: FluxViTConfig): number {
  return c.numProjDecoders ?? Math.max(0, c.headTokenCounts.length - 1);
}
