// The text side of video-text training. (Losses, the objective and evaluation live in their own files.)
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
