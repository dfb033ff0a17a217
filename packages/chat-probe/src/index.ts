/**
 * @flux/chat-probe — language-model side: the {@link LanguageModel} interface, Llama / Qwen2 checkpoints,
 * tokenizers, decoding, and a tiny built-in Llama with its trainer.
 */
export { LanguageModelError, LlamaConfigError, LlamaStateDictMismatchError, ModelFolderError, type LlamaShapeMismatch } from './lm-errors.js';
export type { LanguageModel, KVCache, ForwardOptions, ForwardResult, GenerateOptions } from './lm.js';
export { logLikelihood, greedyDecode, beamSearch, decode, type Decoded } from './decode.js';
export {
  LlamaModel,
  LlamaKVCache,
  resolveLlamaConfig,
  llamaConfigFromHf,
  llamaConfigToHf,
  llamaParamSpecs,
  isIgnoredLlamaKey,
  type LlamaArchitecture,
  type LlamaConfig,
  type LlamaConfigInput,
  type LlamaModelOptions,
  type LlamaParamSpec,
} from './llama.js';
export { loadLlama, loadLlamaSync, saveLlama, readLlamaConfig, type SaveLlamaOptions } from './llama-io.js';
export { HfTokenizer, loadTokenizer, wordLevelTokenizer, WORD_LEVEL_SPECIALS, type TextTokenizer, type EncodeOptions, type DecodeOptions } from './text-tokenizer.js';
export {
  createTinyLlama,
  trainLanguageModel,
  nextTokenLoss,
  NextTokenObjective,
  TINY_LLAMA_DEFAULTS,
  type TrainLanguageModelOptions,
  type TrainLanguageModelResult,
  type LmBatch,
} from './tiny-lm.js';
export { STORIES260K_DIR } from './assets.js';
export { captionEvents, eventScore, meanEventScore, type EventScore } from './events.js';
export { MlpProjector } from './projector.js';
export { ProbeObjective, probeEmbeddings, visualTokens, questionPrompt, bosOf, CAPTION_PROMPT, type ProbeConfig, type ProbeBatch, type ProbeText, type VisualMode } from './probe.js';
export { trainProbe, type TrainProbeOptions, type TrainProbeResult } from './train-probe.js';
export { evaluateProbe, type ProbeEvalOptions, type ProbeBudgetResult, type ProbeParts } from './evaluate.js';
export { datasetText, probeCorpus } from './text.js';
export { writeProbeReport, type ProbeRunResult } from './report.js';
