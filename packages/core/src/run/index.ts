export { Rng, type RngState } from './rng.js';
export { atomicWriteFile, atomicWriteFileSync } from './atomic.js';
export { openRunDir, RunDir, RunDirError, removeStaleTemps, verifyFolder, checksumRecord, CHECKSUMS_FILE, type OpenRunDirOptions, type CheckpointRef, type CheckpointCheck } from './run-dir.js';
export { MetricsLogger, readMetrics, type MetricRecord } from './metrics.js';
export { Progress, formatDuration, type ProgressOptions } from './progress.js';
