/**
 * @flux/train — the one training engine of every Flux stage: AdamW with a no-decay mask, layer-wise lr decay and
 * clipping; cosine schedules; a resumable run loop (atomic checkpoints, bit-exact resume, keep-last-N + best,
 * JSONL metrics, progress with ETA, a guard against non-finite loss, gradients and weights) over an objective
 * interface; the data pipeline over @flux/sampling and @flux/video; supervised Flux-FT tuning and its evaluation
 * across token budgets; SVG plots and Markdown reports.
 */
export { AdamW, defaultDecay, type AdamWOptions, type AdamWState, type NamedParam, type StepResult } from './optim/adamw.js';
export { cosineLr, type CosineScheduleOptions } from './optim/schedule.js';
export { vitLayerId, vitLayerDecay } from './optim/lrd.js';
export {
  train,
  TrainingDivergedError,
  CheckpointCorruptError,
  CheckpointMismatchError,
  paramRecords,
  firstNonFinite,
  checkpointWeightsFile,
  type Objective,
  type StepLoss,
  type StepRecord,
  type TrainOptions,
  type TrainResult,
  type BestMetric,
} from './engine.js';
export { labelSmoothedCrossEntropy, smoothL1, l2Normalize, stopGradient, fluxMultiLoss, type HeadOutput, type DistillDecoder, type FluxMultiLossParts } from './losses.js';
export {
  openDataset,
  movingMnistDataset,
  manifestDataset,
  ClipBatcher,
  gridSampling,
  type GridSamplingSpec,
  evalBatch,
  stepClipIndices,
  toVideoTensor,
  DEFAULT_CROP_SCALES,
  type ClipDataset,
  type ClipBatch,
  type ClipInfo,
  type ClipSampling,
  type DataSpec,
  type MovingMnistSizes,
  type Split,
  type TrainBatch,
} from './data.js';
export { evaluateAccuracy, headFor, topkCorrect, type Accuracy, type AccuracyOptions } from './accuracy.js';
export { DEFAULT_TUNE_CONFIG, resolveTuneConfig, validateTuneConfig, headCountsOf, gridTokens, patchSizeOf, samplingOf, type TuneConfig, type TuneMode } from './supervised/config.js';
export { createFluxModel, modelOverridesOf, loadModelBytes, initFromWeights, readWeightsFile, type InitReport, type ModelFactory } from './supervised/model.js';
export { tune, validate, valMetrics, resumeKeysOf, ClassificationObjective, type TuneOptions, type TuneResult, type ValAccuracy } from './supervised/tune.js';
export {
  loadRun,
  evaluateRun,
  bestAtBudget,
  searchPlanForBudget,
  DEFAULT_EVAL_OPTIONS,
  type LoadedRun,
  type EvalCell,
  type BudgetResult,
  type ModelEvaluation,
  type EvalOptions,
  type TokenPlan,
  type TokenPlanTrace,
} from './supervised/budgets.js';
export { svgLineChart, svgHeatmap, escapeXml, type LineChartOptions, type LineSeries, type HeatmapOptions } from './report/plots.js';
export { writeReport, writeAsset, table1, budgetTable, accuracyChart, heatmapChart, lossChart, valChart, type ReportInput } from './report/report.js';
export { ConfigError, InvalidArgumentError, configRangeChecks, readConfigFile, parseInteger, parseNumber, parseIntList, parseNumberList, parseRange, parsePair, parseGrid } from './cli.js';
export { meanStd, comparePaired, fmtPct, fmtComparison, type MeanStd, type Comparison } from './stats.js';
export * from './predict/index.js';
export {
  loadPredictor,
  inferConfig,
  listPredictInputs,
  decodeForPlan,
  predictVideo,
  predictCacheDir,
  tokenOptimizedPlan,
  calibrate,
  type Predictor,
  type LoadPredictorOptions,
  type VideoPrediction,
  type Calibration,
} from './predict/node.js';
