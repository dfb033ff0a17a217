/**
 * Evaluation of a Flux-CLIP run on held-out clips: text→video / video→text recall@1/5/10 with and without dual
 * softmax, and zero-shot classification of the motion classes from prompts — each at several token budgets
 * (tokens kept by the selector on the fixed evaluation grid).
 */
import fs from 'node:fs';
import path from 'node:path';

import { CHECKSUMS_FILE, parseSafetensors, verifyFolder } from '@flux/core';
import { evalBatch, gridTokens, headFor, l2Normalize, openDataset, type ClipDataset } from '@flux/train';
import { DIRECTIONS, directionPhrase, type Direction } from '@flux/video';
import * as tf from '@tensorflow/tfjs-core';

import { clipPatchSize, resolveClipConfig, type ClipConfig } from './config.js';
import type { ClipModel } from './model.js';
import { retrievalMetrics, type RetrievalResult } from './retrieval.js';
import { ClipTokenizer } from './tokenizer.js';
import { createClipModel } from './train.js';
import { captionGroups, MIN_TEMPERATURE } from './vtc.js';

export interface LoadedClipRun {
  dir: string;
  cfg: ClipConfig;
  model: ClipModel;
  tokenizer: ClipTokenizer;
}

/** Loads a finished flux-pretrain --mode clip run (config.json, tokenizer.json, model.safetensors; checksums verified). */
export function loadClipRun(dir: string): LoadedClipRun {
  for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) if (!fs.existsSync(path.join(dir, f))) throw new Error(`${dir} is not a finished Flux-CLIP run (no ${f})`);
  if (fs.existsSync(path.join(dir, CHECKSUMS_FILE))) {
    const check = verifyFolder(dir);
    if (!check.ok) throw new Error(`${dir}: ${check.problem}`);
  }
  const cfg = resolveClipConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Partial<ClipConfig>);
  const tokenizer = ClipTokenizer.fromJSON(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')));
  const numClasses = openDataset('val', { ...cfg, valClips: 1, valData: null, testData: null }).numClasses;
  const model = createClipModel(cfg, tokenizer, numClasses);
  const file = path.join(dir, 'model.safetensors');
  model.loadStateDict(parseSafetensors(fs.readFileSync(file), { name: file }).tensors, file);
  return { dir, cfg, model, tokenizer };
}

/** L2-normalised features of texts [N, D] (batched). */
export function textFeatures(run: Pick<LoadedClipRun, 'model' | 'tokenizer' | 'cfg'>, texts: readonly string[], batch = 256): Float32Array {
  const d = run.model.text.embedDim;
  const out = new Float32Array(texts.length * d);
  for (let s = 0; s < texts.length; s += batch) {
    const chunk = texts.slice(s, s + batch);
    const enc = run.tokenizer.encodeBatch([...chunk], run.cfg.contextLength);
    const f = tf.tidy(() => l2Normalize(run.model.encodeText(tf.tensor2d(enc.ids, [chunk.length, run.cfg.contextLength], 'int32'), enc.eotIndex)));
    out.set(f.dataSync() as Float32Array, s * d);
    f.dispose();
  }
  return out;
}

/** L2-normalised video features [N, D] of clips `indices` at the eval grid, `k` tokens kept (all when omitted). */
export async function videoFeatures(model: ClipModel, ds: ClipDataset, indices: readonly number[], frames: number, size: number, k?: number, batch = 32): Promise<Float32Array> {
  const d = model.text.embedDim;
  const out = new Float32Array(indices.length * d);
  const head = headFor(k, model.vision.config.headTokenCounts);
  for (let s = 0; s < indices.length; s += batch) {
    const idx = indices.slice(s, s + batch);
    const { video } = await evalBatch(ds, idx, frames, size);
    const f = tf.tidy(() => l2Normalize(model.encodeVideo(video, { ...(k !== undefined ? { k } : {}), head })));
    video.dispose();
    out.set(f.dataSync() as Float32Array, s * d);
    f.dispose();
  }
  return out;
}

/** Logits S[t][v] = cos(text t, video v) / τ. */
function similarity(text: Float32Array, video: Float32Array, d: number, temperature: number): Float32Array {
  const t = text.length / d;
  const v = video.length / d;
  const s = new Float32Array(t * v);
  const inv = 1 / Math.max(temperature, MIN_TEMPERATURE);
  for (let i = 0; i < t; i++)
    for (let j = 0; j < v; j++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += text[i * d + c]! * video[j * d + c]!;
      s[i * v + j] = dot * inv;
    }
  return s;
}

export interface BudgetRetrieval {
  /** Tokens kept. */
  tokens: number;
  plain: RetrievalResult;
  dual: RetrievalResult;
  /** BPE tokens of the test captions outside the run's vocabulary (mapped to the reserved unk id), of all. */
  oov: { tokens: number; of: number };
  /** Distinct captions among the test clips. */
  distinctCaptions: number;
}

export interface ZeroShotResult {
  tokens: number;
  top1: number;
  chance: number;
  n: number;
}

export interface ClipEvalOptions {
  /** Test clips (the first N of the test split). */
  clips: number;
  /** Budgets as fractions of the evaluation grid's tokens. */
  fractions: number[];
}

/** Budgets of an evaluation in tokens (rounded fractions of the fixed grid's tokens). */
export function clipBudgets(cfg: ClipConfig, fractions: readonly number[]): { full: number; budgets: number[] } {
  const full = gridTokens(cfg.frames, cfg.size, clipPatchSize(cfg));
  return { full, budgets: fractions.map((f) => Math.max(1, Math.round(f * full))) };
}

/** Retrieval at each budget: every test clip's caption as a text query against every test clip. */
export async function evaluateRetrieval(run: LoadedClipRun, o: ClipEvalOptions): Promise<BudgetRetrieval[]> {
  const test = openDataset('test', { ...run.cfg, valData: null, testData: null }, { testClips: o.clips });
  if (!test.captions) throw new Error('the test data has no captions');
  const indices = Array.from({ length: test.count }, (_, i) => i);
  const captions = await test.captions(indices);
  const groups = captionGroups(captions);
  run.tokenizer.resetCounters();
  const tf_ = textFeatures(run, captions);
  const oov = { tokens: run.tokenizer.oovTokens, of: run.tokenizer.totalTokens };
  const temp = run.model.temperature.dataSync()[0]!;
  const { full, budgets } = clipBudgets(run.cfg, o.fractions);
  const out: BudgetRetrieval[] = [];
  for (const k of budgets) {
    const vf = await videoFeatures(run.model, test, indices, run.cfg.frames, run.cfg.size, k < full ? k : undefined);
    const s = similarity(tf_, vf, run.model.text.embedDim, temp);
    out.push({ tokens: k, plain: retrievalMetrics(s, groups, groups), dual: retrievalMetrics(s, groups, groups, { dual: true }), oov, distinctCaptions: new Set(captions).size });
  }
  return out;
}

/** Class prompts of a motion task: "the digit D moves <direction> <slowly|quickly>" for every digit and speed (ensembled). */
export function motionPrompts(className: string): string[] {
  if (!(DIRECTIONS as readonly string[]).includes(className)) throw new RangeError(`no prompt template for class '${className}' (motion classes: ${DIRECTIONS.join(', ')})`);
  const out: string[] = [];
  for (let d = 0; d < 10; d++) for (const adv of ['slowly', 'quickly']) out.push(`the digit ${d} moves ${directionPhrase(className as Direction)} ${adv}`);
  return out;
}

/** Zero-shot top-1 of the motion classes at each budget: the class whose mean prompt feature is nearest. */
export async function evaluateZeroShot(run: LoadedClipRun, o: ClipEvalOptions): Promise<ZeroShotResult[]> {
  const test = openDataset('test', { ...run.cfg, valData: null, testData: null }, { testClips: o.clips });
  const d = run.model.text.embedDim;
  const classes = test.classNames;
  const proto = new Float32Array(classes.length * d);
  classes.forEach((c, i) => {
    const f = textFeatures(run, motionPrompts(c));
    const n = f.length / d;
    let norm = 0;
    for (let k = 0; k < d; k++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += f[j * d + k]!;
      proto[i * d + k] = s / n;
      norm += (s / n) ** 2;
    }
    for (let k = 0; k < d; k++) proto[i * d + k]! /= Math.sqrt(norm) || 1;
  });
  const indices = Array.from({ length: test.count }, (_, i) => i);
  const labels = await labelsOf(test, indices, run.cfg);
  const { full, budgets } = clipBudgets(run.cfg, o.fractions);
  const out: ZeroShotResult[] = [];
  for (const k of budgets) {
    const vf = await videoFeatures(run.model, test, indices, run.cfg.frames, run.cfg.size, k < full ? k : undefined);
    const s = similarity(proto, vf, d, 1); // [C, N]
    let hits = 0;
    for (let j = 0; j < indices.length; j++) {
      let best = 0;
      for (let c = 1; c < classes.length; c++) if (s[c * indices.length + j]! > s[best * indices.length + j]!) best = c;
      if (best === labels[j]) hits++;
    }
    out.push({ tokens: k, top1: hits / indices.length, chance: 1 / classes.length, n: indices.length });
  }
  return out;
}

async function labelsOf(ds: ClipDataset, indices: number[], cfg: ClipConfig): Promise<Int32Array> {
  const out = new Int32Array(indices.length);
  for (let s = 0; s < indices.length; s += 64) {
    const idx = indices.slice(s, s + 64);
    const { video, labels } = await evalBatch(ds, idx, 1, clipPatchSize(cfg));
    video.dispose();
    out.set(labels, s);
  }
  return out;
}
