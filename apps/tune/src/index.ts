/** @flux/tune — supervised Flux-FT tuning (library API behind the `flux-tune` CLI). */
export { AdamW, defaultDecay, type AdamWOptions, type AdamWState, type NamedParam, type StepResult } from './optim/adamw.js';
export { cosineLr, type CosineScheduleOptions } from './optim/schedule.js';
export { labelSmoothedCrossEntropy, smoothL1, l2Normalize, stopGradient, fluxMultiLoss, type HeadOutput, type DistillDecoder, type FluxMultiLossParts } from './losses.js';
export { DEFAULT_TUNE_CONFIG, ConfigError, resolveTuneConfig, validateTuneConfig, headCountsOf, gridTokens, patchSizeOf, type TuneConfig, type TuneMode } from './config.js';
export { openDataset, movingMnistDataset, manifestDataset, trainBatch, evalBatch, stepClipIndices, toVideoTensor, type ClipDataset, type ClipBatch, type Split, type TrainBatch } from './data.js';
export { flexiCandidates, drawGrid, sampleFrameIndices } from './sampling-adapter.js';
export { evaluateAccuracy, headFor, topkCorrect, type Accuracy, type AccuracyOptions } from './evaluate-core.js';
export { namedVariables, stateDictRecords, type TunableModel, type ForwardOptions, type ForwardOutput } from './model.js';
export { createFluxModel, modelOverridesOf } from './model-factory.js';
export { tune, validate, loadModelBytes, TrainingDivergedError, type TuneOptions, type TuneResult, type StepRecord, type ModelFactory } from './train.js';
export { buildTuneCommand, configFromCli } from './cli.js';
export * from './cli-options.js';
