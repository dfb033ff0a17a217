import { fileURLToPath } from 'node:url';

import { initBackend } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { ClipTextTransformer, type ClipTextConfigInput } from '../src/index.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const WEIGHTS = `${FIXTURES}text-weights.safetensors`;
export const CASES = `${FIXTURES}text-cases.safetensors`;

/** Switches tfjs to `backend` once per test file (each file runs in its own fork). */
export async function useBackend(backend: 'cpu' | 'tensorflow'): Promise<void> {
  await initBackend({ backend, log: false });
}

/** A tiny random text tower: vocab 40, context 10, width 16, 2 layers, 4 heads, embed 12. */
export function tinyText(over: Partial<ClipTextConfigInput> = {}): ClipTextTransformer {
  return new ClipTextTransformer({ vocabSize: 40, contextLength: 10, width: 16, layers: 2, heads: 4, embedDim: 12, activation: 'quick_gelu', seed: 3, ...over });
}

/** Moves every parameter off its (symmetric: ones / zeros / tiny) init, so every path carries signal. */
export function perturb(m: ClipTextTransformer, std = 0.2, seed = 1): void {
  let s = seed; // ≥ 1: tfjs's random ops take seed 0 as "unseeded"
  for (const v of m.params.values()) v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, std, 'float32', s++))));
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}
