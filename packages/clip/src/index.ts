export { ClipTokenizerError, TextEncoderError, TextStateDictMismatchError, type ShapeMismatch } from './errors.js';
export {
  ClipTokenizer,
  PAD_ID,
  SOT_ID,
  EOT_ID,
  UNK_ID,
  RESERVED_IDS,
  type ClipTokenizerOptions,
  type FromCorpusOptions,
  type EncodeStats,
  type TokenizedBatch,
  type ClipTokenizerJSON,
} from './tokenizer.js';
export {
  ClipTextTransformer,
  DEFAULT_TEXT_CONFIG,
  resolveTextConfig,
  textParamSpecs,
  quickGelu,
  type TextEncoder,
  type TextEncodeOptions,
  type TextActivation,
  type ClipTextConfig,
  type ClipTextConfigInput,
  type TextParamSpec,
} from './text-encoder.js';
export {
  loadOpenClipText,
  loadOpenClipTextSync,
  openClipTextFromFile,
  openClipTextTensors,
  inferOpenClipTextConfig,
  isIgnoredClipKey,
  type OpenClipTextOptions,
} from './openclip.js';
export { vtcLoss, fluxMultiVtcLoss, softTargets, captionGroups, MIN_TEMPERATURE, INIT_TEMPERATURE, type FluxMultiVtcParts } from './vtc.js';
export { recallAtK, retrievalMetrics, dualSoftmax, chanceAtK, type Recall, type RetrievalResult } from './retrieval.js';
export { DEFAULT_CLIP_CONFIG, resolveClipConfig, validateClipConfig, clipHeadCounts, clipPatchSize, type ClipConfig, type ClipMode } from './config.js';
export { ClipModel, type VideoEncodeOptions } from './model.js';
export { ClipObjective, isVisionProjection, type ClipBatch } from './objective.js';
export { trainClip, createClipModel, corpusTokenizer, type ClipTrainOptions, type ClipTrainResult } from './train.js';
export {
  loadClipRun,
  evaluateRetrieval,
  evaluateZeroShot,
  textFeatures,
  videoFeatures,
  motionPrompts,
  clipBudgets,
  type LoadedClipRun,
  type BudgetRetrieval,
  type ZeroShotResult,
  type ClipEvalOptions,
} from './evaluate.js';
export { writeClipReport, type ClipRunEvaluation } from './report.js';
