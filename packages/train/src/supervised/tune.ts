/**
 * Supervised Flux-FT tuning on the engine: the classification objective (cross-entropy for the fixed-grid
 * baseline and Flux-Single; CE per head plus self-distillation for Flux-Multi) over @flux/sampling batches,
 * with validation at the full grid and at each head's token count.
 */
import fs from 'node:fs';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { CHECKSUMS_FILE, atomicWriteFileSync, checksumRecord, parseSafetensors, serializeSafetensors, type TensorRecord } from '@flux/core';

import type { FluxViT } from '@flux/vit';

import { evaluateAccuracy } from '../accuracy.js';
import { ClipBatcher, openDataset, type ClipDataset, type TrainBatch } from '../data.js';
import { train, TrainingDivergedError, type Objective, type StepLoss, type StepRecord } from '../engine.js';
import { fluxMultiLoss, labelSmoothedCrossEntropy, type HeadOutput } from '../losses.js';
import type { NamedParam } from '../optim/adamw.js';
import { vitLayerDecay } from '../optim/lrd.js';
import { cosineLr } from '../optim/schedule.js';
import { headCountsOf, samplingOf, type TuneConfig } from './config.js';
import { initFromWeights, readWeightsFile, type ModelFactory } from './model.js';
import { checkpointMetadata } from '../predict/core.js';

export { TrainingDivergedError };

/** Validation accuracy at the full grid (`k: null`) and at each head's token count. */
export interface ValAccuracy {
  k: number | null;
  head: number;
  top1: number;
  top5: number;
  /** Clips with non-finite logits (counted as wrong). */
  nonFinite: number;
}

/** Validation at the end of a run: the full grid (all tokens) and each head's token count on that grid. */
export async function validate(model: FluxViT, cfg: TuneConfig, val: ClipDataset, clips = cfg.evalClips): Promise<ValAccuracy[]> {
  const out: ValAccuracy[] = [];
  const full = await evaluateAccuracy(model, val, { frames: cfg.frames, size: cfg.size, head: 0, clips });
  out.push({ k: null, head: 0, top1: full.top1, top5: full.top5, nonFinite: full.nonFinite });
  if (cfg.mode !== 'fixed') {
    for (const [j, k] of cfg.tokenCounts.entries()) {
      const a = await evaluateAccuracy(model, val, { frames: cfg.frames, size: cfg.size, k, head: j, clips });
      out.push({ k, head: j, top1: a.top1, top5: a.top5, nonFinite: a.nonFinite });
    }
  }
  return out;
}

/** Flat metric names of a validation: `top1`/`top5` at the full grid, `top1@K`/`top5@K` per head. */
export function valMetrics(val: readonly ValAccuracy[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const v of val) {
    const suffix = v.k === null ? '' : `@${v.k}`;
    m[`top1${suffix}`] = v.top1;
    m[`top5${suffix}`] = v.top5;
    if (v.nonFinite) m[`nonFinite${suffix}`] = v.nonFinite;
  }
  return m;
}

/**
 * The classification objective of a tuning run (implements the engine's {@link Objective}): batches from a
 * {@link ClipBatcher} over the run's train split, CE (and Flux-Multi self-distillation) on @flux/vit's FluxViT,
 * validation on the val split. Frozen parameters of the model (`model.freeze(...)`) are not trained.
 */
export class ClassificationObjective implements Objective<TrainBatch> {
  readonly batcher: ClipBatcher;
  /** The last full validation (set by {@link evaluate} with `final`). */
  lastValidation: ValAccuracy[] = [];

  constructor(
    readonly model: FluxViT,
    readonly cfg: TuneConfig,
    readonly trainSet: ClipDataset,
    readonly valSet: ClipDataset,
  ) {
    const heads = headCountsOf(cfg);
    if (JSON.stringify(model.config.headTokenCounts) !== JSON.stringify(heads)) {
      throw new Error(`model heads ${JSON.stringify(model.config.headTokenCounts)} do not match the run's token counts ${JSON.stringify(heads)}`);
    }
    this.batcher = new ClipBatcher(samplingOf(cfg), trainSet);
  }

  params(): NamedParam[] {
    const names = this.model.trainableNames();
    return this.model.trainableVariables().map((variable, i) => ({ name: names[i]!, variable }));
  }

  batch(step: number): Promise<TrainBatch> {
    return this.batcher.batch(step);
  }

  disposeBatch(b: TrainBatch): void {
    b.video.dispose();
    b.labels.dispose();
  }

  describeBatch(b: TrainBatch): Record<string, number> {
    return { frames: b.frames, size: b.size, tokens: b.tokens };
  }

  loss(b: TrainBatch, ctx: { rng: import('@flux/core').Rng }): StepLoss {
    const { model, cfg } = this;
    const training = true;
    const rng = ctx.rng;
    if (cfg.mode === 'fixed') {
      const out = model.forward(b.video, { head: 0, training, rng });
      const ce = labelSmoothedCrossEntropy(out.logits, b.labels, cfg.labelSmoothing);
      return { total: ce, parts: { ce: [ce], distill: [] } };
    }
    const heads: HeadOutput[] = cfg.tokenCounts.map((k, j) => {
      const out = model.forward(b.video, { k, head: j, training, rng });
      return { logits: out.logits, pooled: out.pooled };
    });
    if (cfg.mode === 'single') {
      const ce = labelSmoothedCrossEntropy(heads[0]!.logits, b.labels, cfg.labelSmoothing);
      return { total: ce, parts: { ce: [ce], distill: [] } };
    }
    const decoders = cfg.tokenCounts.slice(1).map((_, i) => (f: tf.Tensor2D) => model.decodeProjection(f, i));
    const l = fluxMultiLoss(heads, b.labels, decoders, { smoothing: cfg.labelSmoothing, distillWeight: cfg.distillWeight });
    return { total: l.total, parts: { ce: l.ce, distill: l.distill } };
  }

  async evaluate(ctx: { final: boolean }): Promise<Record<string, number>> {
    if (ctx.final) {
      this.lastValidation = await validate(this.model, this.cfg, this.valSet);
      return valMetrics(this.lastValidation);
    }
    const a = await evaluateAccuracy(this.model, this.valSet, { frames: this.cfg.frames, size: this.cfg.size, head: 0, clips: this.cfg.evalClips });
    return { top1: a.top1, top5: a.top5, ...(a.nonFinite ? { nonFinite: a.nonFinite } : {}) };
  }

  stateDict(): Map<string, TensorRecord> {
    return this.model.stateDict();
  }

  loadStateDict(tensors: Map<string, TensorRecord>, file: string): void {
    try {
      this.model.loadStateDict(tensors, { strict: true });
    } catch (e) {
      if (e instanceof Error) e.message = `${file}: ${e.message}`;
      throw e;
    }
  }
}

export interface TuneOptions {
  /** Run directory (created; must be empty unless `resume`). */
  out: string;
  resume?: boolean;
  /** Overwrite an existing run in `out` instead of failing. */
  overwrite?: boolean;
  createModel: ModelFactory;
  /** Progress output (default stderr; quiet for none). */
  quiet?: boolean;
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Stop after this step count even if `cfg.steps` is larger (for tests of resume: simulates an interruption). */
  stopAfter?: number;
  /** Test hook: replaces the loss value seen by the NaN check. */
  lossHook?: (step: number, loss: number) => number;
  /** Called after each step with its metrics record. */
  onStep?: (record: StepRecord) => void;
  /** Validation dataset override (default: the config's val split). */
  valDataset?: ClipDataset;
  /** Warnings such as a corrupt checkpoint skipped on resume (default: stderr). */
  onWarning?: (message: string) => void;
}

export interface TuneResult {
  runDir: string;
  steps: number;
  finalLoss: number;
  /** Validation accuracy at the full grid and at each head's token count (end of training). */
  val: ValAccuracy[];
  /** The checkpoint with the best full-grid validation top-1 (`<run>/best/`), when validation ran. */
  best: { step: number; value: number; path: string } | null;
  seconds: number;
  /** Loss of each step run in this process (for the resume test). */
  losses: { step: number; loss: number }[];
  model: FluxViT;
}

/** Config keys that change the trajectory and so must match on resume (not the backend, logging or cadence). */
export function resumeKeysOf(cfg: TuneConfig): string[] {
  return Object.keys(cfg).filter((k) => !['backend', 'checkpointEvery', 'keepCheckpoints', 'evalEvery', 'evalClips', 'valData', 'testData'].includes(k));
}

/** Runs (or resumes) one tuning run. */
export async function tune(cfg: TuneConfig, options: TuneOptions): Promise<TuneResult> {
  const trainSet = openDataset('train', cfg);
  const valSet = options.valDataset ?? openDataset('val', cfg);
  const model = await options.createModel(cfg, trainSet.numClasses);
  const objective = new ClassificationObjective(model, cfg, trainSet, valSet);
  const r = await train({
    objective,
    out: options.out,
    resume: options.resume ?? false,
    overwrite: options.overwrite ?? false,
    config: cfg as unknown as Record<string, unknown>,
    resumeKeys: resumeKeysOf(cfg),
    steps: cfg.steps,
    seed: cfg.seed,
    lr: (step) => cosineLr(step, { baseLr: cfg.lr, totalSteps: cfg.steps, warmupSteps: cfg.warmupSteps, minLr: cfg.minLr }),
    optimizer: {
      beta1: cfg.beta1,
      beta2: cfg.beta2,
      weightDecay: cfg.weightDecay,
      maxGradNorm: cfg.clipGrad,
      ...(cfg.layerDecay < 1 ? { lrScale: vitLayerDecay(model.config.depth, cfg.layerDecay) } : {}),
    },
    checkpointEvery: cfg.checkpointEvery,
    keep: cfg.keepCheckpoints,
    evalEvery: cfg.evalEvery,
    best: { metric: 'top1', mode: 'max' },
    onStart: async () => {
      if (!cfg.init) return;
      const { file, tensors } = await readWeightsFile(cfg.init).catch((e: unknown) => {
        throw new Error(`--init ${cfg.init}: ${(e as Error).message}`);
      });
      const r = initFromWeights(model, tensors, file);
      if (r.fresh.length || r.copiedFromProjector0.length) {
        const msg = `init from ${file}: ${r.loaded} tensors loaded` + (r.copiedFromProjector0.length ? `, ${r.copiedFromProjector0.length} projector tensors copied from clip_projector.0` : '') + (r.fresh.length ? `, fresh init kept for ${r.fresh.length} head tensors (${summarizeNames(r.fresh)})` : '');
        if (!(options.quiet ?? false)) process.stderr.write(`flux: ${msg}\n`);
      }
    },
    label: `tune ${cfg.mode}`,
    quiet: options.quiet ?? false,
    ...(options.progressStream ? { progressStream: options.progressStream } : {}),
    ...(options.stopAfter !== undefined ? { stopAfter: options.stopAfter } : {}),
    ...(options.lossHook ? { lossHook: options.lossHook } : {}),
    ...(options.onStep ? { onStep: options.onStep } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  }).catch((err: unknown) => {
    model.dispose();
    throw err;
  });
  const resultFile = path.join(r.runDir, 'result.json');
  if (r.alreadyComplete && fs.existsSync(resultFile)) {
    // Resuming a finished run: nothing ran; report what the run recorded instead of rewriting it.
    const stored = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as { finalLoss: number; val: ValAccuracy[]; best?: TuneResult['best'] };
    return { runDir: r.runDir, steps: r.steps, finalLoss: stored.finalLoss, val: stored.val, best: stored.best ?? r.best, seconds: r.seconds, losses: [], model };
  }
  if (r.steps === cfg.steps && r.lastCheckpoint) {
    // The final weights are self-describing: the model config, class names and grid ride in the safetensors
    // metadata (what `predict` and the web page read), and classes.json lists the class names for people.
    const ckpt = parseSafetensors(fs.readFileSync(path.join(r.lastCheckpoint, 'model.safetensors')), { name: r.lastCheckpoint });
    const weights = serializeSafetensors(ckpt.tensors, { ...ckpt.metadata, ...checkpointMetadata(cfg.model, model.config, trainSet.classNames, { frames: cfg.frames, size: cfg.size }) });
    const classes = JSON.stringify(trainSet.classNames, null, 2) + '\n';
    const result = JSON.stringify({ steps: cfg.steps, finalLoss: r.finalLoss, val: objective.lastValidation, best: r.best }, null, 2) + '\n';
    atomicWriteFileSync(path.join(r.runDir, 'model.safetensors'), weights);
    atomicWriteFileSync(path.join(r.runDir, 'classes.json'), classes);
    atomicWriteFileSync(resultFile, result);
    atomicWriteFileSync(path.join(r.runDir, CHECKSUMS_FILE), checksumRecord({ 'model.safetensors': weights, 'classes.json': classes, 'result.json': result }));
  }
  return { runDir: r.runDir, steps: r.steps, finalLoss: r.finalLoss, val: objective.lastValidation, best: r.best, seconds: r.seconds, losses: r.losses, model };
}

/** `head.0.weight, head.0.bias, …` → `head.0.*, fc_norm.*` (the module prefixes of a list of tensor names). */
function summarizeNames(names: readonly string[]): string {
  const mods = [...new Set(names.map((n) => n.replace(/\.[^.]+$/, '').replace(/^(head\.\d+|fc_norm|clip_projector\.\d+|final_clip_decoder_for_projs\.\d+).*$/, '$1')))];
  return mods.map((m) => `${m}.*`).join(', ');
}
