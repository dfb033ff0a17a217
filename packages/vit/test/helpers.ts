import { initBackend } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { FluxViT, createModel, type FluxViTConfig } from '../src/index.js';

/** Switches tfjs to `backend` once per test file (each file runs in its own fork). */
export async function useBackend(backend: 'cpu' | 'wasm' | 'tensorflow'): Promise<void> {
  await initBackend({ backend: backend === 'wasm' ? 'wasm-simd' : backend, log: false });
}

/** A tiny random FluxViT: dim 32, depth 2, patch 4, 8 frames × 4×4 grid max. */
export function tinyModel(overrides: Partial<FluxViTConfig> = {}, seed = 1): FluxViT {
  return createModel(
    'fluxvit_tiny',
    { patchSize: 4, embedDim: 32, depth: 2, numHeads: 4, maxFrames: 8, maxGrid: 4, numClasses: 5, headTokenCounts: [64, 32, 16], clipEmbedDim: 24, clipNumHeads: 4, ...overrides },
    seed,
  );
}

/** A deterministic pseudo-random video [B,F,H,W,3] (seed ≥ 1: tfjs's random ops take seed 0 as none). */
export function randomVideo(b: number, f: number, h: number, w: number, seed = 1): tf.Tensor5D {
  if (seed === 0) throw new RangeError('randomVideo: seed 0 means "unseeded" to tfjs; use a seed ≥ 1');
  return tf.randomNormal([b, f, h, w, 3], 0, 1, 'float32', seed) as tf.Tensor5D;
}
