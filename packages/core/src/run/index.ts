export { Rng, type RngState } from './rng.js';
export { atomicWriteFile, atomicWriteFileSync } from './atomic.js';
export { openRunDir, RunDir, RunDirError, type OpenRunDirOptions, type CheckpointRef } from './run-dir.js';
export { MetricsLogger, readMetrics, type MetricRecord } from './metrics.js';
export { Progress, formatDuration, type ProgressOptions } from './progress.js';
