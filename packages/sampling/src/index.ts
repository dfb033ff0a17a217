export {
  gridTokens,
  rangeValues,
  validateFlexiConfig,
  validateGridSpace,
  type FlexiSamplingConfig,
  type GridPlan,
  type IntRange,
} from './config.js';
export { FLEXI_PRESETS, PAPER_ABLATION, OFFICIAL_TUNING, FLUX_CLIP, MOVING_MNIST, type FlexiPresetName } from './presets.js';
export { FlexiSampler, FixedSampler, fixedGrid, type PlanSampler } from './flexi.js';
export { frameIndices, type FrameIndexOptions, type ShortClip } from './frames.js';
export {
  cropPlan,
  applyCrop,
  normalize,
  IMAGENET_MEAN,
  IMAGENET_STD,
  MULTI_SCALE_CROP_SCALES,
  type CropPlan,
  type CropOptions,
  type NormalizeOptions,
} from './crop.js';
export { augmentBatch, patchify, type AugmentOptions } from './augment.js';
export {
  searchTokenPlan,
  type TokenPlan,
  type TokenSearchSpace,
  type TokenSearchStep,
  type TokenSearchOptions,
} from './search.js';
