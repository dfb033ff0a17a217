/**
 * The tuning loop: AdamW + cosine schedule + clipping over the chosen objective, with atomic checkpoints
 * (weights, optimizer moments, step, RNG state) that a resumed run continues from bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MetricsLogger, Progress, Rng, openRunDir, makeRecord, parseSafetensors, recordToFloat32, serializeSafetensors, type RunDir, type TensorRecord } from '@flux/core';

import { headCountsOf, type TuneConfig } from './config.js';
import { openDataset, trainBatch, type ClipDataset } from './data.js';
import { evaluateAccuracy, type Accuracy } from './evaluate-core.js';
import { fluxMultiLoss, labelSmoothedCrossEntropy, type HeadOutput } from './losses.js';
import { namedVariables, stateDictRecords, type TunableModel } from './model.js';
import { AdamW, type AdamWState } from './optim/adamw.js';
import { cosineLr } from './optim/schedule.js';

/** Raised when the loss or the gradients stop being finite. The run directory keeps its last good checkpoint. */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
  constructor(
    message: string,
    readonly step: number,
    readonly lastCheckpoint: string | null,
  ) {
    super(message);
  }
}

/** Builds the model for a run config (default: @flux/vit's createModel). */
export type ModelFactory = (cfg: TuneConfig, numClasses: number) => TunableModel | Promise<TunableModel>;

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
}

export interface StepRecord {
  step: number;
  loss: number;
  ce: number[];
  distill: number[];
  lr: number;
  gradNorm: number;
  frames: number;
  size: number;
  tokens: number;
  ms: number;
}

export interface TuneResult {
  runDir: string;
  steps: number;
  finalLoss: number;
  /** Validation accuracy at the full grid and at each head's token count (end of training). */
  val: { k: number | null; head: number; top1: number; top5: number }[];
  seconds: number;
  /** Loss of each step run in this process (for the resume test). */
  losses: { step: number; loss: number }[];
  model: TunableModel;
}

const MODEL_FILE = 'model.safetensors';
const OPT_FILE = 'optimizer.safetensors';
const STATE_FILE = 'state.json';

function optimizerRecords(state: AdamWState): Record<string, TensorRecord> {
  const out: Record<string, TensorRecord> = {};
  state.names.forEach((n, i) => {
    out[`exp_avg.${n}`] = makeRecord('float32', [state.m[i]!.length], state.m[i]!);
    out[`exp_avg_sq.${n}`] = makeRecord('float32', [state.v[i]!.length], state.v[i]!);
  });
  return out;
}

function optimizerState(bytes: Uint8Array, names: string[], step: number): AdamWState {
  const { tensors } = parseSafetensors(bytes, { name: OPT_FILE });
  const get = (k: string) => {
    const r = tensors.get(k);
    if (!r) throw new Error(`optimizer checkpoint lacks ${k}`);
    return Float32Array.from(recordToFloat32(r));
  };
  return { step, names, m: names.map((n) => get(`exp_avg.${n}`)), v: names.map((n) => get(`exp_avg_sq.${n}`)) };
}

/** Loads a model state dict from safetensors bytes into the model (strict). */
export function loadModelBytes(model: TunableModel, bytes: Uint8Array, name = MODEL_FILE): void {
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
    throw e;
  }
}

/** Computes the objective of one batch; returns the total and its parts (all kept, caller disposes). */
function objective(model: TunableModel, cfg: TuneConfig, video: tf.Tensor, labels: tf.Tensor1D, rng: Rng): { total: tf.Scalar; ce: tf.Scalar[]; distill: tf.Scalar[] } {
  const training = true;
  if (cfg.mode === 'fixed') {
    const out = model.forward(video, { head: 0, training, rng });
    const ce = labelSmoothedCrossEntropy(out.logits as tf.Tensor2D, labels, cfg.labelSmoothing);
    return { total: ce, ce: [ce], distill: [] };
  }
  const heads: HeadOutput[] = cfg.tokenCounts.map((k, j) => {
    const out = model.forward(video, { k, head: j, training, rng });
    return { logits: out.logits as tf.Tensor2D, pooled: out.pooled as tf.Tensor2D };
  });
  if (cfg.mode === 'single') {
    const ce = labelSmoothedCrossEntropy(heads[0]!.logits, labels, cfg.labelSmoothing);
    return { total: ce, ce: [ce], distill: [] };
  }
  const decoders = cfg.tokenCounts.slice(1).map((_, i) => (f: tf.Tensor2D) => (model.decodeProjection ? model.decodeProjection(f, i) : f));
  return fluxMultiLoss(heads, labels, decoders, { smoothing: cfg.labelSmoothing, distillWeight: cfg.distillWeight });
}

/** Validation at the end of a run: the full grid (all tokens) and each head's token count on that grid. */
export async function validate(model: TunableModel, cfg: TuneConfig, val: ClipDataset, clips = cfg.evalClips): Promise<TuneResult['val']> {
  const out: TuneResult['val'] = [];
  const full: Accuracy = await evaluateAccuracy(model, val, { frames: cfg.frames, size: cfg.size, head: 0, clips });
  out.push({ k: null, head: 0, top1: full.top1, top5: full.top5 });
  if (cfg.mode !== 'fixed') {
    for (const [j, k] of cfg.tokenCounts.entries()) {
      const a = await evaluateAccuracy(model, val, { frames: cfg.frames, size: cfg.size, k, head: j, clips });
      out.push({ k, head: j, top1: a.top1, top5: a.top5 });
    }
  }
  return out;
}

function fmtLoss(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

/** Runs (or resumes) one tuning run. */
export async function tune(cfg: TuneConfig, options: TuneOptions): Promise<TuneResult> {
  const t0 = performance.now();
  const run: RunDir = openRunDir(options.out, { resume: options.resume ?? false, failIfExists: !options.overwrite, keep: cfg.keepCheckpoints });
  // Only what changes the trajectory must match on resume (not the backend, logging or checkpoint cadence).
  const mustMatch = (Object.keys(cfg) as (keyof TuneConfig)[]).filter((k) => !['backend', 'checkpointEvery', 'keepCheckpoints', 'evalEvery', 'evalClips', 'valData', 'testData'].includes(k));
  run.writeConfig(cfg as unknown as Record<string, unknown>, mustMatch);
  const metrics = new MetricsLogger(run.path('metrics.jsonl'));

  const train = openDataset('train', cfg);
  const val = options.valDataset ?? openDataset('val', cfg);
  const model = await options.createModel(cfg, train.numClasses);
  const heads = headCountsOf(cfg);
  if (JSON.stringify(model.config.headTokenCounts) !== JSON.stringify(heads)) {
    throw new Error(`model heads ${JSON.stringify(model.config.headTokenCounts)} do not match the run's token counts ${JSON.stringify(heads)}`);
  }
  const params = namedVariables(model);
  const opt = new AdamW(params, { beta1: cfg.beta1, beta2: cfg.beta2, weightDecay: cfg.weightDecay, maxGradNorm: cfg.clipGrad });
  const rng = new Rng(`train/${cfg.seed}`);

  let start = 0;
  let lastCheckpoint: string | null = null;
  const latest = options.resume ? run.latestCheckpoint() : null;
  if (latest) {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const state = JSON.parse(fs.readFileSync(path.join(latest.path, STATE_FILE), 'utf8')) as { step: number; optimizerStep: number; rng: [number, number, number, number] };
    loadModelBytes(model, fs.readFileSync(path.join(latest.path, MODEL_FILE)));
    opt.setState(optimizerState(fs.readFileSync(path.join(latest.path, OPT_FILE)), params.map((p) => p.name), state.optimizerStep));
    rng.setState(state.rng);
    start = state.step;
    lastCheckpoint = latest.path;
    metrics.truncateAfter(start);
  } else {
    if (options.resume) metrics.truncateAfter(-1);
    if (cfg.init) {
      const fs = await import('node:fs');
      const path = await import('node:path');
      const file = fs.existsSync(cfg.init) && fs.statSync(cfg.init).isDirectory() ? path.join(cfg.init, MODEL_FILE) : cfg.init;
      if (!fs.existsSync(file)) throw new Error(`--init ${cfg.init}: no such weights file (${file})`);
      loadModelBytes(model, fs.readFileSync(file), file);
    }
  }

  const save = async (step: number): Promise<string> => {
    const files: Record<string, Uint8Array | string> = {
      [MODEL_FILE]: serializeSafetensors(stateDictRecords(model), { format: 'pt', step: String(step) }),
      [OPT_FILE]: serializeSafetensors(optimizerRecords(opt.getState())),
      [STATE_FILE]: JSON.stringify({ step, optimizerStep: opt.stepCount, rng: rng.getState(), seed: cfg.seed, mode: cfg.mode }, null, 2) + '\n',
    };
    const ref = await run.saveCheckpoint(step, files);
    lastCheckpoint = ref.path;
    return ref.path;
  };

  const end = Math.min(cfg.steps, options.stopAfter ?? cfg.steps);
  const progress = new Progress({ total: cfg.steps, label: `tune ${cfg.mode}`, quiet: options.quiet ?? false, ...(options.progressStream ? { stream: options.progressStream } : {}) });
  const losses: { step: number; loss: number }[] = [];
  let finalLoss = Number.NaN;
  const varList = params.map((p) => p.variable);
  const nameOf = new Map(params.map((p) => [p.variable.name, p.name]));

  for (let step = start; step < end; step++) {
    const ts = performance.now();
    const lr = cosineLr(step, { baseLr: cfg.lr, totalSteps: cfg.steps, warmupSteps: cfg.warmupSteps, minLr: cfg.minLr });
    const batch = await trainBatch(step, cfg, train);
    const stepRng = new Rng(`step/${cfg.seed}/${step}`);
    let parts: { ce: tf.Scalar[]; distill: tf.Scalar[] } = { ce: [], distill: [] };
    const { value, grads } = tf.variableGrads(() => {
      const o = objective(model, cfg, batch.video, batch.labels, stepRng);
      parts = { ce: o.ce.map((t) => tf.keep(t)), distill: o.distill.map((t) => tf.keep(t)) };
      return o.total;
    }, varList);
    batch.video.dispose();
    batch.labels.dispose();
    let loss = value.dataSync()[0]!;
    const ce = parts.ce.map((t) => t.dataSync()[0]!);
    const distill = parts.distill.map((t) => t.dataSync()[0]!);
    for (const t of new Set<tf.Tensor>([value, ...parts.ce, ...parts.distill])) t.dispose();
    if (options.lossHook) loss = options.lossHook(step, loss);
    const named = new Map<string, tf.Tensor>();
    for (const [vname, g] of Object.entries(grads)) named.set(nameOf.get(vname) ?? vname, g);
    const diverged = (what: string): never => {
      for (const g of named.values()) g.dispose();
      progress.done();
      metrics.log({ step, event: 'diverged', loss, what });
      throw new TrainingDivergedError(
        `training diverged at step ${step}: ${what}. Nothing was saved after the last good checkpoint (${lastCheckpoint ?? 'none yet'}). ` +
          'Lower --lr, raise --warmup-steps or --clip-grad, then start again or --resume from that checkpoint.',
        step,
        lastCheckpoint,
      );
    };
    if (!Number.isFinite(loss)) diverged(`the loss is ${loss}`);
    const { gradNorm } = opt.step(named, lr);
    if (!Number.isFinite(gradNorm)) diverged(`the gradient norm is ${gradNorm}`);
    for (const g of named.values()) g.dispose();
    rng.nextUint32(); // advance the run stream once per step (kept in checkpoints)

    const ms = performance.now() - ts;
    const record: StepRecord = { step: step + 1, loss, ce, distill, lr, gradNorm, frames: batch.frames, size: batch.size, tokens: batch.tokens, ms: Math.round(ms) };
    metrics.log({ ...record });
    options.onStep?.(record);
    losses.push({ step: step + 1, loss });
    finalLoss = loss;
    progress.update(step + 1, { loss: fmtLoss(loss), lr: lr, 'ms/step': Math.round(ms) });

    const done = step + 1;
    if (cfg.evalEvery > 0 && done % cfg.evalEvery === 0 && done < cfg.steps) {
      const a = await evaluateAccuracy(model, val, { frames: cfg.frames, size: cfg.size, head: 0, clips: cfg.evalClips });
      metrics.log({ step: done, event: 'val', k: null, top1: a.top1, top5: a.top5 });
    }
    if (done % cfg.checkpointEvery === 0 || done === cfg.steps) await save(done);
  }
  progress.done();

  let valResult: TuneResult['val'] = [];
  if (end === cfg.steps) {
    valResult = await validate(model, cfg, val);
    for (const v of valResult) metrics.log({ step: cfg.steps, event: 'val', k: v.k, head: v.head, top1: v.top1, top5: v.top5 });
    const fs = await import('node:fs');
    const { atomicWriteFileSync } = await import('@flux/core');
    atomicWriteFileSync(run.path('model.safetensors'), fs.readFileSync(`${lastCheckpoint}/${MODEL_FILE}`));
    atomicWriteFileSync(run.path('result.json'), JSON.stringify({ steps: cfg.steps, finalLoss, val: valResult }, null, 2) + '\n');
  }
  return { runDir: run.dir, steps: end, finalLoss, val: valResult, seconds: (performance.now() - t0) / 1000, losses, model };
}
