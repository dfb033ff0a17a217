import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';

import { initBackend } from '@flux/core';

import { resolveTuneConfig, type TuneConfig } from '../src/supervised/config.js';

export async function setupBackend(): Promise<void> {
  await initBackend({ backend: 'cpu', log: false });
}

export function tmpDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `flux-tune-${label}-`));
}

/** A config small enough for a unit test: dim 16, depth 1, 2 clips a batch, 64 training clips. */
export function tinyConfig(over: Partial<TuneConfig> = {}): TuneConfig {
  return resolveTuneConfig(
    {
      modelOverrides: { patchSize: 16, embedDim: 16, depth: 1, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 2 },
      trainClips: 64,
      valClips: 16,
      evalClips: 8,
      clipSize: 64,
      frames: 4,
      size: 32,
      flexiFrames: [2, 8, 2],
      flexiSizes: [16, 32, 16],
      tokenThreshold: [8, 32],
      tokenCounts: [12, 8, 4],
      steps: 6,
      batchSize: 2,
      warmupSteps: 2,
      checkpointEvery: 2,
      lr: 1e-3,
    },
    over,
  );
}
