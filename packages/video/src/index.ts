/**
 * @flux/video — decode exactly the sampled frames of real videos with ffmpeg, read dataset manifests, and generate
 * the embedded Moving-MNIST default dataset.
 */
export {
  VideoDecodeError,
  VideoToolError,
  VideoOptionError,
  ManifestError,
  type DecodeFailureCause,
  type ManifestProblem,
} from './errors.js';
export { resolveTool, setFfmpegPaths, ffmpegInfo, liveProcesses, runTool, ensureExecutable, type ToolPaths, type ToolSource, type VideoTool, type ProcessOptions, type ProcessResult } from './ffmpeg.js';
export { probe, type VideoInfo, type ProbeOptions } from './probe.js';
export {
  decodeFrames,
  frameSize,
  MAX_FRAME_SIDE,
  DEFAULT_MAX_BYTES,
  resolveCrop,
  buildFilter,
  selectExpression,
  type FrameSize,
  type CropRect,
  type Fit,
  type Interpolation,
  type DecodeOptions,
  type DecodedClip,
  type ClampedIndex,
} from './decode.js';
export { sampleFrames, type SampleFramesOptions } from './resize.js';
export { framesToTensor, normalizeFrames, IMAGENET_MEAN, IMAGENET_STD, type Normalization } from './tensor.js';
export {
  VideoLoader,
  loadBatches,
  fileSource,
  ProbeCache,
  type VideoItem,
  type ClipSource,
  type ClipRequest,
  type BatchPlan,
  type LoadedBatch,
  type SkippedClip,
  type LoaderStats,
  type LoaderOptions,
} from './loader.js';
export {
  loadKineticsManifest,
  loadSsv2Manifest,
  loadFolderDataset,
  loadCaptionManifest,
  loadManifest,
  readClassList,
  VIDEO_EXTENSIONS,
  MAX_NUMERIC_LABEL,
  type VideoDataset,
  type ManifestOptions,
} from './manifest/index.js';
export { loadMnistDigits, mnistDataDir, DIGIT_SIZE, type MnistDigits, type MnistSplit } from './mnist/digits.js';
export {
  MovingMnist,
  MOVING_MNIST_TASKS,
  type PanBackground,
  type MovingMnistConfig,
  type MovingMnistClip,
  type MovingMnistClipMeta,
  type MovingMnistBatch,
  type DigitTrack,
  type SpeedClass,
  type RenderOptions,
} from './mnist/moving-mnist.js';
export { DIRECTIONS, directionPhrase, directionVector, captionsFor, questionsFor, type Direction, type Bounce, type QaItem, type TrackSummary } from './mnist/text.js';
export { writeMovingMnist, type WriteMovingMnistOptions, type WrittenMovingMnist } from './mnist/writer.js';
export { epochPlans, type EpochPlanOptions } from './plans.js';
