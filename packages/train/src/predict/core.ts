/**
 * Prediction at a token budget, with no file system: the part of `flux-eval predict` that a web page runs too
 * (the browser entry of @flux/train exports this file). A plan is an input grid F×R and the K tokens the
 * selector keeps; {@link classifyClip} turns one clip's RGB frames (already at R×R) into top-k labels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { frameIndices } from '@flux/sampling';
import { normalizeFrames } from '@flux/video';
import { flopsForward, type FluxViT, type FluxViTConfig } from '@flux/vit';

import { headFor } from '../head-for.js';

/** Bad input to predict: the message names the file or option and the cause. */
export class PredictInputError extends Error {
  /** The file or option at fault. */
  readonly subject: string;
  constructor(subject: string, cause: string) {
    super(`${subject}: ${cause}`);
    this.name = 'PredictInputError';
    this.subject = subject;
  }
}

/** What a checkpoint brings besides its weights: class names and the grid it was trained at. */
export interface PredictorInfo {
  model: FluxViT;
  /** One name per classifier row. */
  classNames: string[];
  /** The default input grid (the training grid of a run; the pretrained input size of an official checkpoint). */
  frames: number;
  size: number;
}

/** A plan: grid F×R, tokens of the grid, tokens kept K, and the head that serves K. */
export interface PredictPlan {
  frames: number;
  size: number;
  gridTokens: number;
  k: number;
  head: number;
  /** Forward FLOPs of one clip at this plan, in GFLOP (`@flux/vit` flopsForward). */
  gflops: number;
}

/** One label of a prediction. */
export interface LabelProb {
  index: number;
  label: string;
  prob: number;
}

/** Tokens of an F×R grid. */
export function planGridTokens(frames: number, size: number, patch: number): number {
  return frames * (size / patch) ** 2;
}

/**
 * `--tokens`: `25%` (of the plan grid's tokens) or a count K. Throws {@link PredictInputError} for anything that is
 * not a positive share ≤ 100 % or an integer 1…gridTokens.
 */
export function parseTokens(spec: string | number, gridTokens: number): number {
  const s = String(spec).trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (pct) {
    const f = Number(pct[1]) / 100;
    if (!(f > 0 && f <= 1)) throw new PredictInputError('--tokens', `${s} is not a share in (0 %, 100 %]`);
    return Math.max(1, Math.round(gridTokens * f));
  }
  if (!/^\d+$/.test(s)) throw new PredictInputError('--tokens', `'${s}' is neither a share like 25% nor a token count`);
  const k = Number(s);
  if (k < 1 || k > gridTokens) throw new PredictInputError('--tokens', `${k} tokens is outside 1…${gridTokens}, the tokens of the grid`);
  return k;
}

/** `--plan FxR` (e.g. `8x64`) → the grid; `auto` → null (Token Optimization chooses). */
export function parsePlanSpec(spec: string): { frames: number; size: number } | null {
  if (spec === 'auto') return null;
  const m = /^(\d+)[x×](\d+)$/.exec(spec.trim());
  if (!m) throw new PredictInputError('--plan', `'${spec}' is not FxR (e.g. 8x64) or auto`);
  return { frames: Number(m[1]), size: Number(m[2]) };
}

/** Checks a grid against the model (patch divides R, within the positional grid) and builds the plan keeping `k`. */
export function makePlan(config: FluxViTConfig, frames: number, size: number, k?: number): PredictPlan {
  const p = config.patchSize;
  if (!Number.isInteger(frames) || frames < 1 || frames > config.maxFrames) throw new PredictInputError('--plan', `${frames} frames is outside 1…${config.maxFrames}, the frames this model's positional embedding covers`);
  if (!Number.isInteger(size) || size < p || size % p !== 0) throw new PredictInputError('--plan', `side ${size} is not a positive multiple of the patch size ${p}`);
  if (size / p > config.maxGrid) throw new PredictInputError('--plan', `side ${size} is ${size / p} patches, more than the model's grid of ${config.maxGrid}`);
  const gridTokens = planGridTokens(frames, size, p);
  const kk = k ?? gridTokens;
  if (!Number.isInteger(kk) || kk < 1 || kk > gridTokens) throw new PredictInputError('--tokens', `${kk} tokens is outside 1…${gridTokens}, the tokens of the ${frames}×${size} grid`);
  return { frames, size, gridTokens, k: kk, head: headFor(kk < gridTokens ? kk : undefined, config.headTokenCounts), gflops: flopsForward(config, 1, kk, gridTokens) / 1e9 };
}

/** The frames a plan reads from a clip of `numFrames` frames: TSN segment centres (as evaluation does). */
export function planFrameIndices(numFrames: number, plan: Pick<PredictPlan, 'frames'>): number[] {
  return frameIndices(numFrames, plan.frames, 'eval');
}

/** Softmax in float64 of one row of logits. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** The `top` most probable classes (ties: lower index first). */
export function topLabels(probs: ArrayLike<number>, classNames: readonly string[], top: number): LabelProb[] {
  const idx = Array.from({ length: probs.length }, (_, i) => i);
  idx.sort((a, b) => probs[b]! - probs[a]! || a - b);
  return idx.slice(0, Math.max(1, top)).map((i) => ({ index: i, label: classNames[i] ?? `class ${i}`, prob: probs[i]! }));
}

/** One clip's prediction. */
export interface ClipPrediction {
  top: LabelProb[];
  /** Probabilities of every class. */
  probs: Float64Array;
  plan: PredictPlan;
  /** Wall time of the model (tensor upload, forward, read-back), in ms. */
  ms: number;
}

/**
 * Classifies one clip: `pixels` RGB uint8 [F, R, R, 3] at the plan's grid (ImageNet-normalised here, as in
 * training). Every tensor it makes is disposed before it returns.
 */
export async function classifyClip(info: PredictorInfo, pixels: Uint8Array, plan: PredictPlan, top = 5): Promise<ClipPrediction> {
  const { frames: F, size: R } = plan;
  if (pixels.length !== F * R * R * 3) throw new PredictInputError('frames', `${pixels.length} bytes are not ${F}×${R}×${R}×3 (the ${F}×${R} plan)`);
  const t0 = performance.now();
  const video = tf.tensor5d(normalizeFrames(pixels, 'imagenet'), [1, F, R, R, 3], 'float32');
  const logits = tf.tidy(() => info.model.forward(video, { ...(plan.k < plan.gridTokens ? { k: plan.k } : {}), head: plan.head, training: false }).logits);
  video.dispose();
  const row = (await logits.data()) as Float32Array;
  logits.dispose();
  const ms = performance.now() - t0;
  for (let i = 0; i < row.length; i++) if (!Number.isFinite(row[i]!)) throw new PredictInputError('checkpoint', `the model gave a non-finite logit (${row[i]}) for class ${i}: the weights are broken`);
  const probs = softmax(row);
  return { top: topLabels(probs, info.classNames, top), probs, plan, ms };
}

/** Budgets (shares of the default grid's tokens) the cost calibration measures. */
export const CALIBRATION_SHARES: readonly number[] = [1, 0.75, 0.5, 0.375, 0.25, 0.125];

/** One measured plan of a calibration. */
export interface CalibratedPlan {
  plan: PredictPlan;
  /** Median latency of one clip over the timed runs, in ms. */
  ms: number;
}

/**
 * The plan that fits a cost: the most tokens whose forward FLOPs are ≤ `maxGflops` and whose measured latency is ≤
 * `latencyMs` (either may be omitted). Throws {@link PredictInputError} when even the cheapest plan does not fit.
 */
export function pickPlanByCost(calibration: readonly CalibratedPlan[], cost: { maxGflops?: number; latencyMs?: number }): CalibratedPlan {
  const fits = calibration.filter((c) => (cost.maxGflops === undefined || c.plan.gflops <= cost.maxGflops) && (cost.latencyMs === undefined || c.ms <= cost.latencyMs));
  if (!fits.length) {
    const cheapest = [...calibration].sort((a, b) => a.plan.gflops - b.plan.gflops)[0];
    const what = cost.maxGflops !== undefined ? `--max-gflops ${cost.maxGflops}` : `--latency-ms ${cost.latencyMs}`;
    throw new PredictInputError(what, `no plan fits: the cheapest measured, ${cheapest ? `${cheapest.plan.frames}×${cheapest.plan.size} K=${cheapest.plan.k}, costs ${cheapest.plan.gflops.toFixed(4)} GFLOP and ${cheapest.ms.toFixed(1)} ms` : 'none'}`);
  }
  return [...fits].sort((a, b) => b.plan.k - a.plan.k || a.ms - b.ms)[0]!;
}

/** A deterministic pseudo-random clip for timing (xorshift bytes). */
export function timingPixels(plan: Pick<PredictPlan, 'frames' | 'size'>, seed = 1): Uint8Array {
  const out = new Uint8Array(plan.frames * plan.size * plan.size * 3);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

/** Measures the latency of each plan on the current backend: one warm-up, then the median of `runs` clips (default 5). */
export async function measurePlans(info: PredictorInfo, plans: readonly PredictPlan[], runs = 5): Promise<CalibratedPlan[]> {
  const out: CalibratedPlan[] = [];
  for (const plan of plans) {
    const px = timingPixels(plan);
    await classifyClip(info, px, plan, 1);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push((await classifyClip(info, px, plan, 1)).ms);
    times.sort((a, b) => a - b);
    out.push({ plan, ms: times[Math.floor(times.length / 2)]! });
  }
  return out;
}

/** The plans of the default grid at the {@link CALIBRATION_SHARES} (distinct K only). */
export function calibrationPlans(info: PredictorInfo): PredictPlan[] {
  const g = planGridTokens(info.frames, info.size, info.model.config.patchSize);
  const ks = [...new Set(CALIBRATION_SHARES.map((s) => Math.max(1, Math.round(g * s))))];
  return ks.map((k) => makePlan(info.model.config, info.frames, info.size, k));
}

/** safetensors metadata keys of a self-describing Flux checkpoint (what flux-tune writes into model.safetensors). */
export const CHECKPOINT_META = {
  /** `@flux/vit` registry variant. */
  model: 'flux.model',
  /** The full FluxViTConfig, JSON. */
  config: 'flux.config',
  /** Class names, a JSON array (one per classifier row). */
  classes: 'flux.classes',
  /** The default input grid, JSON `{ "frames": F, "size": R }`. */
  grid: 'flux.grid',
} as const;

/** The metadata that makes a checkpoint self-describing (merge into the safetensors metadata). */
export function checkpointMetadata(model: string, config: FluxViTConfig, classNames: readonly string[], grid: { frames: number; size: number }): Record<string, string> {
  return {
    [CHECKPOINT_META.model]: model,
    [CHECKPOINT_META.config]: JSON.stringify(config),
    [CHECKPOINT_META.classes]: JSON.stringify(classNames),
    [CHECKPOINT_META.grid]: JSON.stringify({ frames: grid.frames, size: grid.size }),
  };
}

/** Reads the Flux keys of a checkpoint's metadata; null when it has none. Throws when they are there but unreadable. */
export function readCheckpointMetadata(metadata: Readonly<Record<string, string>> | undefined, file: string): { model: string; config: FluxViTConfig; classNames: string[]; grid: { frames: number; size: number } } | null {
  if (!metadata || metadata[CHECKPOINT_META.config] === undefined) return null;
  try {
    const config = JSON.parse(metadata[CHECKPOINT_META.config]!) as FluxViTConfig;
    const classNames = JSON.parse(metadata[CHECKPOINT_META.classes] ?? '[]') as string[];
    const grid = JSON.parse(metadata[CHECKPOINT_META.grid] ?? 'null') as { frames: number; size: number } | null;
    if (!Array.isArray(classNames) || classNames.some((c) => typeof c !== 'string')) throw new Error(`${CHECKPOINT_META.classes} is not a list of names`);
    if (!grid || !Number.isInteger(grid.frames) || !Number.isInteger(grid.size)) throw new Error(`${CHECKPOINT_META.grid} is not { frames, size }`);
    return { model: metadata[CHECKPOINT_META.model] ?? 'fluxvit_tiny', config, classNames, grid };
  } catch (e) {
    throw new PredictInputError(file, `corrupt Flux metadata in the checkpoint (${(e as Error).message})`);
  }
}
