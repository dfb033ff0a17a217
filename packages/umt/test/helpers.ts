import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { initBackend } from '@flux/core';
import { createModel, type FluxViT } from '@flux/vit';

import { resolvePretrainConfig, type PretrainConfig } from '../src/index.js';

export async function useBackend(backend: 'cpu' | 'tensorflow' | 'wasm'): Promise<void> {
  await initBackend({ backend: backend === 'wasm' ? 'wasm-simd' : backend, log: false });
}

export function tmpDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `flux-umt-${label}-`));
}

/** Student: dim 16, depth 2, patch 16; clips 4–8 frames of 16–32 px (1–4 patches a frame). */
export function tinyPretrainConfig(over: Partial<PretrainConfig> = {}): PretrainConfig {
  return resolvePretrainConfig(
    {
      modelOverrides: { patchSize: 16, embedDim: 16, depth: 2, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 2, layerScaleInit: 0, clipPool: 'max' },
      task: 'directions',
      trainClips: 32,
      clipLength: 16,
      clipSize: 64,
      frames: 4,
      size: 32,
      flexiFrames: [4, 8, 2],
      flexiSizes: [16, 32, 16],
      tokenThreshold: [16, 32],
      teacherTokens: 16,
      maskRatios: [0.5, 0.75],
      steps: 6,
      batchSize: 2,
      warmupSteps: 2,
      checkpointEvery: 2,
    },
    over,
  );
}

/** A random teacher on the same patch grid: dim 24, depth 3. */
export function tinyTeacherModel(seed = 3): FluxViT {
  return createModel('fluxvit_tiny', { patchSize: 16, embedDim: 24, depth: 3, numHeads: 2, clipEmbedDim: 20, clipNumHeads: 2, maxFrames: 8, maxGrid: 2, numClasses: 3, headTokenCounts: [16], layerScaleInit: 0 }, seed);
}
