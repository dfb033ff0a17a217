export {
  type FluxViTConfig,
  type FluxViTName,
  type PretrainedCfg,
  MODEL_REGISTRY,
  IMAGENET_MEAN,
  IMAGENET_STD,
  listModels,
  resolveConfig,
  validateConfig,
  mlpHidden,
} from './config.js';
export { FluxViT, checkpointByDefault, createModel, nearestHead, type ForwardOptions, type ForwardResult } from './model.js';
export { StateDictMismatchError, STRIP_PREFIXES, normalizeKey, convertFromTorch, convertToTorch, type StateDictLike } from './checkpoint.js';
export { type ParamSpec, type ParamKind, paramSpecs } from './params.js';
export { sincos3d, linearResizeMatrix, cubicResizeMatrix, resizePosEmbed, type Grid3 } from './pos-embed.js';
export { patchify, patchEmbed } from './patch-embed.js';
export { attention, splitHeads, mergeHeads, setAttentionChunk, getAttentionChunk } from './attention.js';
export { block, mlp } from './block.js';
export { attentionPool, maxPool, classify, projDecoder } from './heads.js';
export { flopsForward, flopsTrainStep } from './flops.js';
export type { SelectorOptions } from '@flux/selector';
