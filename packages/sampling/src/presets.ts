/** Flexi-sampling presets (DESIGN.md, paper appendix). */
import type { FlexiSamplingConfig } from './config.js';

/** Paper ablations (Flux-UMT / Flux-FT, patch 14): F 4..24 step 2, R 168..252 step 28, T_thres (2048, 4096). */
export const PAPER_ABLATION: FlexiSamplingConfig = Object.freeze({
  frames: { min: 4, max: 24, step: 2 },
  resolution: { min: 168, max: 252, step: 28 },
  patch: 14,
  tokens: { low: 2048, high: 4096 },
});

/** The official tuning code (OpenGVLab/FluxViT): F 6..24 step 2, R 112..336 step 28, T_thres (2048, 6144). */
export const OFFICIAL_TUNING: FlexiSamplingConfig = Object.freeze({
  frames: { min: 6, max: 24, step: 2 },
  resolution: { min: 112, max: 336, step: 28 },
  patch: 14,
  tokens: { low: 2048, high: 6144 },
});

/** Flux-CLIP pre-training (paper Table 16): F 4..26 step 2, R 168..280 step 28, T_thres (2048, 4096). */
export const FLUX_CLIP: FlexiSamplingConfig = Object.freeze({
  frames: { min: 4, max: 26, step: 2 },
  resolution: { min: 168, max: 280, step: 28 },
  patch: 14,
  tokens: { low: 2048, high: 4096 },
});

/**
 * 64×64 Moving-MNIST on a CPU (patch 8): F 4..16 step 2, R 32..64 step 8 (16–64 tokens a frame), pools of
 * 128..512 tokens — 1× to 4× a K of 128.
 */
export const MOVING_MNIST: FlexiSamplingConfig = Object.freeze({
  frames: { min: 4, max: 16, step: 2 },
  resolution: { min: 32, max: 64, step: 8 },
  patch: 8,
  tokens: { low: 128, high: 512 },
});

/** All presets by name. */
export const FLEXI_PRESETS = Object.freeze({
  'paper-ablation': PAPER_ABLATION,
  'official-tuning': OFFICIAL_TUNING,
  'flux-clip': FLUX_CLIP,
  'moving-mnist': MOVING_MNIST,
} as const);

export type FlexiPresetName = keyof typeof FLEXI_PRESETS;
