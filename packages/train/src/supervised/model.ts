/** The model of a tuning run: @flux/vit's registry, sized by the run config, and strict weight loading. */
import fs from 'node:fs';
import path from 'node:path';

import { parseSafetensors, readPth, type TensorRecord } from '@flux/core';
import { StateDictMismatchError, createModel, normalizeKey, type FluxViT, type FluxViTConfig, type FluxViTName } from '@flux/vit';

import { headCountsOf, type TuneConfig } from './config.js';

/** Builds the model of a run (default: {@link createFluxModel}). */
export type ModelFactory = (cfg: TuneConfig, numClasses: number) => FluxViT | Promise<FluxViT>;

/** The FluxViT overrides a run config implies (what flux-eval needs to rebuild the model). */
export function modelOverridesOf(cfg: TuneConfig, numClasses: number): Partial<FluxViTConfig> {
  return {
    ...(cfg.modelOverrides as Partial<FluxViTConfig>),
    numClasses,
    headTokenCounts: headCountsOf(cfg),
    dropPathRate: cfg.dropPath,
  };
}

/** The run's FluxViT, initialised from the run's seed. */
export function createFluxModel(cfg: TuneConfig, numClasses: number): FluxViT {
  return createModel(cfg.model as FluxViTName, modelOverridesOf(cfg, numClasses), cfg.seed);
}

/** Loads a model state dict from safetensors bytes into the model (strict); `name` names the file in errors. */
export function loadModelBytes(model: FluxViT, bytes: Uint8Array, name = 'model.safetensors'): void {
  const { tensors } = parseSafetensors(bytes, { name });
  try {
    model.loadStateDict(tensors, { strict: true });
  } catch (e) {
    // The commonest mismatch: official weights (attention-pool projectors) into the CPU-scale default (max pool).
    const pool = model.config.clipPool ?? 'attention';
    const hasQuery = [...tensors.keys()].some((k) => /clip_projector\.\d+\.cross_attn\.q\.weight$/.test(k));
    if (e instanceof Error && hasQuery !== (pool === 'attention')) {
      e.message += `\n(${name} has ${hasQuery ? 'attention' : 'max'}-pool projectors but the model is built with clipPool '${pool}': pass --pool ${hasQuery ? 'attention' : 'max'})`;
    }
    if (e instanceof Error && !e.message.includes(name)) e.message = `${name}: ${e.message}`;
    throw e;
  }
}

/** What {@link initFromWeights} did. */
export interface InitReport {
  /** Parameters taken from the file. */
  loaded: number;
  /** `clip_projector.{j}` tensors copied from the file's `clip_projector.0` (a pretrained encoder has one projector). */
  copiedFromProjector0: string[];
  /** Head-side parameters left at their fresh init (absent from the file or of another shape, e.g. another class count). */
  fresh: string[];
}

const HEAD_SIDE = /^(head\.|fc_norm\.|clip_projector\.|final_clip_decoder_for_projs\.)/;

/**
 * Initialises a model from pretrained weights (official names, PyTorch layout; `module.` / `backbone.` /
 * `encoder.` prefixes stripped): every backbone parameter must be in the file with its shape — else nothing is
 * assigned and the error lists each problem — while the head side (classifiers, `fc_norm`, projectors,
 * self-distillation decoders) is taken where name and shape match, `clip_projector.{j}` falls back to the file's
 * `clip_projector.0`, and the rest keeps its init. This is how a pretrained encoder (a flux-pretrain student, an
 * official checkpoint) starts a tuning run with its own classes and token counts.
 */
export function initFromWeights(model: FluxViT, tensors: ReadonlyMap<string, TensorRecord>, file: string): InitReport {
  const src = new Map<string, TensorRecord>();
  for (const [k, v] of tensors) src.set(normalizeKey(k), v);
  // Projectors of the other pooling kind (attention-pool weights, as the official checkpoints', into a max-pool
  // model or the reverse) would load half their tensors into a different computation: refuse with the fix.
  const pool = model.config.clipPool ?? 'attention';
  const queryKeys = [...src.keys()].filter((k) => /^clip_projector\.\d+\.cross_attn\.[qk]\.weight$/.test(k));
  const hasProjector = [...src.keys()].some((k) => k.startsWith('clip_projector.'));
  if (hasProjector && (queryKeys.length > 0) !== (pool === 'attention')) {
    const err = new StateDictMismatchError([], pool === 'max' ? queryKeys : [], []);
    err.message = `${file}: ${err.message}\n(${file} has ${queryKeys.length ? 'attention' : 'max'}-pool projectors but the model is built with clipPool '${pool}': pass --pool ${queryKeys.length ? 'attention' : 'max'})`;
    throw err;
  }
  const current = model.stateDict();
  const merged = new Map<string, TensorRecord>();
  const missing: string[] = [];
  const mismatched: { name: string; expected: number[]; got: number[] }[] = [];
  const report: InitReport = { loaded: 0, copiedFromProjector0: [], fresh: [] };
  const same = (a: TensorRecord, b: TensorRecord) => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
  for (const [name, rec] of current) {
    const s = src.get(name);
    if (s && same(s, rec)) {
      merged.set(name, s);
      report.loaded++;
      continue;
    }
    if (!HEAD_SIDE.test(name)) {
      if (s) mismatched.push({ name, expected: [...rec.shape], got: [...s.shape] });
      else missing.push(name);
      continue;
    }
    const m = /^clip_projector\.(\d+)\.(.+)$/.exec(name);
    const alt = m && m[1] !== '0' ? src.get(`clip_projector.0.${m[2]}`) : undefined;
    if (alt && same(alt, rec)) {
      merged.set(name, alt);
      report.copiedFromProjector0.push(name);
    } else {
      merged.set(name, rec);
      report.fresh.push(name);
    }
  }
  if (missing.length || mismatched.length) {
    const err = new StateDictMismatchError(missing, [], mismatched);
    err.message = `${file}: cannot initialise the model's backbone from it: ${err.message}`;
    throw err;
  }
  model.loadStateDict(merged, { strict: true });
  return report;
}

/**
 * Reads init weights: a `.safetensors` file, an official `.pth`, or a run directory (its `student.safetensors`
 * from flux-pretrain, else its `model.safetensors`).
 */
export async function readWeightsFile(file: string): Promise<{ file: string; tensors: Map<string, TensorRecord> }> {
  let f = file;
  if (fs.existsSync(f) && fs.statSync(f).isDirectory()) {
    const candidates = ['student.safetensors', 'model.safetensors'].map((n) => path.join(file, n));
    const hit = candidates.find((c) => fs.existsSync(c));
    if (!hit) throw new Error(`${file}: a directory without student.safetensors or model.safetensors`);
    f = hit;
  }
  if (!fs.existsSync(f)) throw new Error(`${f}: no such weights file`);
  if (/\.pth$|\.pt$|\.bin$/i.test(f)) return { file: f, tensors: (await readPth(f)).tensors };
  return { file: f, tensors: parseSafetensors(fs.readFileSync(f), { name: f }).tensors };
}
