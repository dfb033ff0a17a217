import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { initBackend } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { LlamaModel, type LlamaConfigInput } from '../src/index.js';

/** The stories260K checkpoint (copied from the shared fixture; see its README.md). */
/** stories260K as the package ships it (assets/), the golden outputs beside the tests. */
export const STORIES = fileURLToPath(new URL('../assets/stories260k/', import.meta.url));
const REFERENCE = fileURLToPath(new URL('./fixtures/stories260k-reference.json', import.meta.url));

export interface ReferenceCase {
  prompt: string;
  ids: number[];
  logits_pos0: number[];
  logits_last: number[];
  greedy_ids: number[];
  greedy_text: string;
  full_text: string;
}

export function reference(): { cases: ReferenceCase[]; bos_id: number; eos_id: number; greedy_steps: number; tolerance_abs_logits_float32: number } {
  return JSON.parse(fs.readFileSync(REFERENCE, 'utf8'));
}

/** Switches tfjs to `backend` once per test file (each file runs in its own fork). */
export async function useBackend(backend: 'cpu' | 'tensorflow'): Promise<void> {
  await initBackend({ backend, log: false });
}

export const tmp = (label: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `flux-lm-${label}-`));

/** A tiny random Llama: vocab 40, width 16, 2 layers, 4 query / 2 kv heads (GQA), untied head, q/k/v biases optional. */
export function tinyLlama(over: Partial<LlamaConfigInput> = {}): LlamaModel {
  return new LlamaModel({ vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64, rmsNormEps: 1e-5, bosId: 1, eosIds: [2], seed: 5, ...over });
}

/** Moves every parameter off its init (unit norms, zero biases, 0.02 weights), so every path carries signal. */
export function perturb(m: LlamaModel, std = 0.3, seed = 1): void {
  let s = seed; // ≥ 1: tfjs's random ops take seed 0 as "unseeded"
  for (const v of m.params.values()) v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, std, 'float32', s++))));
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}
