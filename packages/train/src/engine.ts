/**
 * The one training loop every stage runs (tune, pretrain, clip, the chat probe): AdamW over the objective's
 * trainable parameters with a learning-rate schedule, global-norm clipping and per-parameter lr scales, in a
 * resumable run directory:
 *
 * ```
 * <out>/config.json                  the resolved config (checked on resume)
 * <out>/metrics.jsonl                one line per step ({step, loss, <parts>, lr, gradNorm, ms, …}) and per validation
 * <out>/checkpoints/step-NNNNNN/     model.safetensors, optimizer.safetensors, state.json — atomic, last `keep` kept
 * <out>/best/                        the checkpoint with the best validation metric so far (best.json says which)
 * ```
 *
 * A resumed run reloads weights, optimizer moments, step and RNG state and continues bit for bit (batches are a
 * pure function of the step). A non-finite loss, gradient norm or updated weight stops the run with a
 * {@link TrainingDivergedError}; nothing non-finite is ever written, so the checkpoint it names is the last
 * finite one.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { CHECKSUMS_FILE, MetricsLogger, checksumRecord, Progress, Rng, atomicWriteFile, makeRecord, openRunDir, parseSafetensors, recordToFloat32, serializeSafetensors, type CheckpointRef, type RunDir, type TensorRecord } from '@flux/core';

import { AdamW, type AdamWOptions, type AdamWState, type NamedParam } from './optim/adamw.js';

/** Raised when the loss, the gradients or the updated weights stop being finite. The run keeps its last finite checkpoint. */
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

/** Loss of one batch: the total the optimizer minimises and named parts logged with the step. */
export interface StepLoss {
  total: tf.Scalar;
  /** Named parts (a scalar or a list of scalars each), e.g. `{ ce: [ce0, ce1], distill: [d1] }`. The engine disposes them. */
  parts?: Record<string, tf.Scalar | tf.Scalar[]>;
}

/** What a stage implements to train with {@link train}. */
export interface Objective<B> {
  /**
   * The parameters the optimizer updates, with stable names (the checkpoint keys). Frozen modules are left out:
   * they get no gradient (the tape is asked for these variables only) and no optimizer state.
   */
  params(): NamedParam[];
  /** The batch of step `step` (0-based) — a pure function of the run's seed and `step`, so a resumed run sees the same batches. */
  batch(step: number): B | Promise<B>;
  /** The loss of a batch, computed under the gradient tape. `rng` is the step's own stream (drop-path masks, …). */
  loss(batch: B, ctx: { step: number; rng: Rng }): StepLoss;
  /** Releases a batch's tensors. */
  disposeBatch(batch: B): void;
  /** Numbers logged with each step (e.g. `{ frames, size, tokens }`). */
  describeBatch?(batch: B): Record<string, number | number[]>;
  /** Validation metrics (e.g. `{ top1, top5 }`), at `evalEvery` and at the end. */
  evaluate?(ctx: { step: number; final: boolean }): Promise<Record<string, number>>;
  /** The weights a checkpoint stores as `model.safetensors` (default: every parameter of {@link params}). */
  stateDict?(): Map<string, TensorRecord> | Record<string, TensorRecord>;
  /** Loads weights stored by {@link stateDict} (from a checkpoint being resumed). Default: by parameter name. */
  loadStateDict?(tensors: Map<string, TensorRecord>, file: string): void;
}

/** Which validation metric picks the "best" checkpoint. */
export interface BestMetric {
  metric: string;
  mode: 'max' | 'min';
}

export interface TrainOptions<B> {
  objective: Objective<B>;
  /** Run directory (created; must hold no run unless `resume` or `overwrite`). */
  out: string;
  resume?: boolean;
  /** Start over in an `out` that already holds a run. */
  overwrite?: boolean;
  /** The resolved configuration, saved as `config.json`. */
  config: Record<string, unknown>;
  /** Keys of `config` that must equal the stored config on resume (default: all). */
  resumeKeys?: string[];
  steps: number;
  /** Seeds the run's RNG streams (the per-step stream passed to `objective.loss`). */
  seed: number | string;
  /** Learning rate of the update that follows `step` completed steps. */
  lr: (step: number) => number;
  optimizer?: AdamWOptions;
  /** Save a checkpoint every N steps, and always at the end. */
  checkpointEvery: number;
  /** Checkpoints kept (older ones pruned; 0 keeps all). */
  keep?: number;
  /** Validate every N steps (0: only at the end). */
  evalEvery?: number;
  /** Keep a copy of the checkpoint with the best value of this validation metric in `<out>/best/`. */
  best?: BestMetric;
  /** Called on a fresh start (not on resume) before the first step, e.g. to load init weights. */
  onStart?: () => void | Promise<void>;
  /** Progress line label. */
  label?: string;
  quiet?: boolean;
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Stop after this many steps even if `steps` is larger (simulates an interruption; for tests of resume). */
  stopAfter?: number;
  /** Test hook: replaces the loss value seen by the finiteness check. */
  lossHook?: (step: number, loss: number) => number;
  /** Called after each step with its metrics record. */
  onStep?: (record: StepRecord) => void;
  /** Warnings (a corrupt checkpoint skipped on resume, …); default: printed to stderr. Also logged to metrics.jsonl. */
  onWarning?: (message: string) => void;
}

/** One line of `metrics.jsonl` for a training step. */
export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  ms: number;
  /** Parts and batch description (named by the objective). */
  [key: string]: number | number[];
}

export interface TrainResult {
  runDir: string;
  /** Steps completed (== `steps` unless stopped early by `stopAfter`). */
  steps: number;
  finalLoss: number;
  /** Loss of each step run in this process. */
  losses: { step: number; loss: number }[];
  /** Validation metrics at the end (empty when stopped early or without `evaluate`). */
  finalMetrics: Record<string, number>;
  /** The best checkpoint by `best.metric`, if any. */
  best: { step: number; value: number; path: string } | null;
  /** The newest checkpoint written (or resumed from). */
  lastCheckpoint: string | null;
  /** True when `resume` found the run already finished: nothing was trained, evaluated or written. */
  alreadyComplete: boolean;
  seconds: number;
}

const MODEL_FILE = 'model.safetensors';
const OPT_FILE = 'optimizer.safetensors';
const STATE_FILE = 'state.json';

interface SavedState {
  step: number;
  optimizerStep: number;
  rng: [number, number, number, number];
  seed: number | string;
  best: { step: number; value: number } | null;
}

/** Parameters as float32 records under their names (the default checkpoint content). */
export function paramRecords(params: readonly NamedParam[]): Record<string, TensorRecord> {
  const out: Record<string, TensorRecord> = {};
  for (const p of params) out[p.name] = makeRecord('float32', p.variable.shape, Float32Array.from(p.variable.dataSync() as Float32Array));
  return out;
}

function optimizerRecords(state: AdamWState): Record<string, TensorRecord> {
  const out: Record<string, TensorRecord> = {};
  state.names.forEach((n, i) => {
    out[`exp_avg.${n}`] = makeRecord('float32', [state.m[i]!.length], state.m[i]!);
    out[`exp_avg_sq.${n}`] = makeRecord('float32', [state.v[i]!.length], state.v[i]!);
  });
  return out;
}

function optimizerState(bytes: Uint8Array, file: string, names: string[], step: number): AdamWState {
  const { tensors } = parseSafetensors(bytes, { name: file });
  const get = (k: string) => {
    const r = tensors.get(k);
    if (!r) throw new CheckpointMismatchError(`${file}: the optimizer checkpoint lacks ${k}`);
    return Float32Array.from(recordToFloat32(r));
  };
  return { step, names, m: names.map((n) => get(`exp_avg.${n}`)), v: names.map((n) => get(`exp_avg_sq.${n}`)) };
}

/** The first record holding a NaN or ±Inf, or null. */
export function firstNonFinite(records: Map<string, TensorRecord> | Record<string, TensorRecord>): string | null {
  for (const [name, r] of records instanceof Map ? records : Object.entries(records)) {
    if (r.dtype !== 'float32' && r.dtype !== 'float16' && r.dtype !== 'bfloat16' && r.dtype !== 'float64') continue;
    const v = recordToFloat32(r);
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return name;
  }
  return null;
}

function defaultLoad(params: readonly NamedParam[]) {
  return (tensors: Map<string, TensorRecord>, file: string): void => {
    const missing = params.filter((p) => !tensors.has(p.name)).map((p) => p.name);
    if (missing.length) throw new Error(`${file} lacks ${missing.length} parameter(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
    for (const p of params) {
      const r = tensors.get(p.name)!;
      const v = recordToFloat32(r);
      if (v.length !== p.variable.size) throw new Error(`${file}: ${p.name} has ${v.length} values, the parameter ${p.variable.size}`);
      tf.tidy(() => p.variable.assign(tf.tensor(Float32Array.from(v), p.variable.shape, 'float32')));
    }
  };
}

async function writeFolderAtomically(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp, { recursive: true });
  for (const [name, data] of Object.entries(files)) await atomicWriteFile(path.join(tmp, name), data);
  await atomicWriteFile(path.join(tmp, CHECKSUMS_FILE), checksumRecord(files));
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) await fsp.rename(dir, old);
  await fsp.rename(tmp, dir);
  await fsp.rm(old, { recursive: true, force: true });
}

function fmtLoss(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

/** Runs (or resumes) a training run of `objective`. See the module comment for the run directory. */
export async function train<B>(o: TrainOptions<B>): Promise<TrainResult> {
  const t0 = performance.now();
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new RangeError(`train: steps must be an integer ≥ 1, got ${o.steps}`);
  if (!Number.isInteger(o.checkpointEvery) || o.checkpointEvery < 1) throw new RangeError(`train: checkpointEvery must be an integer ≥ 1, got ${o.checkpointEvery}`);
  const run: RunDir = openRunDir(o.out, { resume: o.resume ?? false, failIfExists: !o.overwrite, keep: o.keep ?? 2 });
  run.writeConfig(o.config, o.resumeKeys);
  const metrics = new MetricsLogger(run.path('metrics.jsonl'));
  const obj = o.objective;
  const params = obj.params();
  const opt = new AdamW(params, o.optimizer ?? {});
  const stateDict = obj.stateDict ? () => obj.stateDict!() : () => paramRecords(params);
  const loadStateDict = obj.loadStateDict ? (t: Map<string, TensorRecord>, f: string) => obj.loadStateDict!(t, f) : defaultLoad(params);
  const rng = new Rng(`train/${o.seed}`);
  const bestDir = run.path('best');

  const warn = (message: string) => {
    metrics.log({ event: 'warning', message });
    if (o.onWarning) o.onWarning(message);
    else process.stderr.write(`flux: warning: ${message}\n`);
  };
  for (const t of run.removedTemps) warn(`removed ${t}, left by a process that died while writing`);

  let start = 0;
  let lastCheckpoint: string | null = null;
  let best: { step: number; value: number } | null = null;
  const resumed = o.resume ? readCheckpoint(run, params.map((p) => p.name), warn) : null;
  if (resumed) {
    const { ref, state, tensors, modelFile, optState } = resumed;
    loadStateDict(tensors, modelFile);
    opt.setState(optState);
    rng.setState(state.rng);
    start = state.step;
    best = state.best ?? null;
    lastCheckpoint = ref.path;
    metrics.truncateAfter(start);
  } else {
    if (o.resume) metrics.truncateAfter(-1);
    fs.rmSync(bestDir, { recursive: true, force: true });
    await o.onStart?.();
  }

  const snapshot = (step: number): Record<string, Uint8Array | string> => {
    const weights = stateDict();
    const bad = firstNonFinite(weights);
    if (bad) throw new TrainingDivergedError(`refusing to save step ${step}: parameter ${bad} is not finite`, step, lastCheckpoint);
    return {
      [MODEL_FILE]: serializeSafetensors(weights, { format: 'pt', step: String(step) }),
      [OPT_FILE]: serializeSafetensors(optimizerRecords(opt.getState())),
      [STATE_FILE]: JSON.stringify({ step, optimizerStep: opt.stepCount, rng: rng.getState(), seed: o.seed, best } satisfies SavedState, null, 2) + '\n',
    };
  };
  const save = async (step: number): Promise<void> => {
    lastCheckpoint = (await run.saveCheckpoint(step, snapshot(step))).path;
  };
  const validate = async (step: number, final: boolean): Promise<Record<string, number>> => {
    if (!obj.evaluate) return {};
    const m = await obj.evaluate({ step, final });
    metrics.log({ step, event: 'val', ...m });
    const b = o.best;
    if (b && typeof m[b.metric] === 'number' && Number.isFinite(m[b.metric]!)) {
      const v = m[b.metric]!;
      if (!best || (b.mode === 'max' ? v > best.value : v < best.value)) {
        best = { step, value: v };
        const files = snapshot(step);
        files['best.json'] = JSON.stringify({ step, metric: b.metric, mode: b.mode, value: v }, null, 2) + '\n';
        await writeFolderAtomically(bestDir, files);
      }
    }
    return m;
  };

  const end = Math.min(o.steps, o.stopAfter ?? o.steps);
  const progress = new Progress({ total: o.steps, label: o.label ?? 'train', quiet: o.quiet ?? false, ...(o.progressStream ? { stream: o.progressStream } : {}) });
  const losses: { step: number; loss: number }[] = [];
  let finalLoss = Number.NaN;
  const varList = params.map((p) => p.variable);
  const nameOf = new Map(params.map((p) => [p.variable.name, p.name]));

  for (let step = start; step < end; step++) {
    const ts = performance.now();
    const lr = o.lr(step);
    const batch = await obj.batch(step);
    const stepRng = new Rng(`step/${o.seed}/${step}`);
    let kept: Record<string, tf.Scalar[] | tf.Scalar> = {};
    let value: tf.Scalar;
    let grads: tf.NamedTensorMap;
    try {
      ({ value, grads } = tf.variableGrads(() => {
        const l = obj.loss(batch, { step, rng: stepRng });
        kept = Object.fromEntries(Object.entries(l.parts ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map((t) => tf.keep(t)) : tf.keep(v)]));
        return l.total;
      }, varList));
    } finally {
      obj.disposeBatch(batch);
    }
    const described = obj.describeBatch?.(batch) ?? {};
    let loss = value.dataSync()[0]!;
    const parts: Record<string, number | number[]> = {};
    const toFree = new Set<tf.Tensor>([value]);
    for (const [k, v] of Object.entries(kept)) {
      if (Array.isArray(v)) {
        parts[k] = v.map((t) => t.dataSync()[0]!);
        v.forEach((t) => toFree.add(t));
      } else {
        parts[k] = v.dataSync()[0]!;
        toFree.add(v);
      }
    }
    for (const t of toFree) t.dispose();
    if (o.lossHook) loss = o.lossHook(step, loss);
    const named = new Map<string, tf.Tensor>();
    for (const [vname, g] of Object.entries(grads)) named.set(nameOf.get(vname) ?? vname, g);
    const diverged = (what: string): never => {
      for (const g of named.values()) g.dispose();
      progress.done();
      metrics.log({ step: step + 1, event: 'diverged', loss, what });
      throw new TrainingDivergedError(
        `training diverged at step ${step + 1}: ${what}. Nothing was saved after the last finite checkpoint (${lastCheckpoint ?? 'none yet'}). ` +
          'Lower --lr, raise --warmup-steps or --clip-grad, then start again or --resume from that checkpoint.',
        step + 1,
        lastCheckpoint,
      );
    };
    if (!Number.isFinite(loss)) diverged(`the loss is ${loss}`);
    const { gradNorm, nonFiniteParam } = opt.step(named, lr);
    if (!Number.isFinite(gradNorm)) diverged(`the gradient norm is ${gradNorm}`);
    if (nonFiniteParam) diverged(`the update made parameter ${nonFiniteParam} non-finite (lr ${lr})`);
    for (const g of named.values()) g.dispose();
    rng.nextUint32(); // advance the run stream once per step (kept in checkpoints)

    const ms = performance.now() - ts;
    const record: StepRecord = { step: step + 1, loss, ...parts, lr, gradNorm, ...described, ms: Math.round(ms) };
    metrics.log({ ...record });
    o.onStep?.(record);
    losses.push({ step: step + 1, loss });
    finalLoss = loss;
    progress.update(step + 1, { loss: fmtLoss(loss), lr, 'ms/step': Math.round(ms) });

    const done = step + 1;
    if (o.evalEvery && o.evalEvery > 0 && done % o.evalEvery === 0 && done < o.steps) await validate(done, false);
    if (done % o.checkpointEvery === 0 || done === o.steps) await save(done);
  }
  progress.done();

  let finalMetrics: Record<string, number> = {};
  const alreadyComplete = start >= o.steps;
  if (end === o.steps && !alreadyComplete) finalMetrics = await validate(o.steps, true);
  const bestRef = best as { step: number; value: number } | null;
  return {
    runDir: run.dir,
    steps: end,
    finalLoss,
    losses,
    finalMetrics,
    best: bestRef ? { ...bestRef, path: bestDir } : null,
    lastCheckpoint,
    alreadyComplete,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** An intact checkpoint of another model: its optimizer state lacks parameters the run trains (not skipped on resume). */
export class CheckpointMismatchError extends Error {
  override name = 'CheckpointMismatchError';
}

/** A corrupt or unreadable checkpoint file (skipped on resume in favour of an older intact one). */
export class CheckpointCorruptError extends Error {
  override name = 'CheckpointCorruptError';
}

/**
 * The newest usable checkpoint of a run, parsed but not yet applied: its checksums must match (a checkpoint
 * written before checksums existed is read unverified, with a warning), and state.json, the weights and the
 * optimizer state must parse. Every checkpoint skipped is reported through `warn`. Throws when checkpoints
 * exist and none is usable.
 */
function readCheckpoint(run: RunDir, names: string[], warn: (m: string) => void) {
  const refs: CheckpointRef[] = run.listCheckpoints().reverse();
  const problems: string[] = [];
  for (const ref of refs) {
    const check = run.verifyCheckpoint(ref);
    const legacy = !check.ok && check.noRecord === true;
    if (!check.ok && !legacy) {
      problems.push(check.problem!);
      warn(`skipping checkpoint ${ref.path}: ${check.problem}`);
      continue;
    }
    if (legacy) warn(`checkpoint ${ref.path} has no ${CHECKSUMS_FILE} (written by an older version): loading it unverified`);
    try {
      const stateFile = path.join(ref.path, STATE_FILE);
      let state: SavedState;
      try {
        state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as SavedState;
      } catch (err) {
        throw new CheckpointCorruptError(`${stateFile}: ${(err as Error).message}`);
      }
      if (!state || !Number.isInteger(state.step) || !Number.isInteger(state.optimizerStep) || !Array.isArray(state.rng) || state.rng.length !== 4) {
        throw new CheckpointCorruptError(`${stateFile}: not a checkpoint state (needs integer step and optimizerStep, and a 4-number rng)`);
      }
      const modelFile = path.join(ref.path, MODEL_FILE);
      const tensors = parseSafetensors(fs.readFileSync(modelFile), { name: modelFile }).tensors;
      const optFile = path.join(ref.path, OPT_FILE);
      const optState = optimizerState(fs.readFileSync(optFile), optFile, names, state.optimizerStep);
      return { ref, state, tensors, modelFile, optState };
    } catch (err) {
      const msg = (err as Error).message;
      // A checkpoint of another model (names differ) is a config problem, not corruption: do not skip it silently.
      if (err instanceof CheckpointMismatchError && check.ok) throw err;
      problems.push(msg);
      warn(`skipping checkpoint ${ref.path}: ${msg}`);
    }
  }
  if (refs.length) throw new CheckpointCorruptError(`cannot resume ${run.dir}: no intact checkpoint (${problems.join('; ')}); start over with overwrite (--overwrite)`);
  return null;
}

/** The model weights file of a run's newest intact checkpoint (or its best one), for evaluation or as init. */
export function checkpointWeightsFile(runDir: string, which: 'latest' | 'best' = 'latest'): string {
  if (which === 'best') {
    const f = path.join(runDir, 'best', MODEL_FILE);
    if (!fs.existsSync(f)) throw new Error(`${runDir} has no best checkpoint (${f}); it is kept when the run validates with a best metric`);
    return f;
  }
  const run = openRunDir(runDir, { resume: true });
  const problems: string[] = [];
  const latest = run.latestIntactCheckpoint((ref, why) => problems.push(`${path.basename(ref.path)}: ${why}`));
  if (!latest) throw new CheckpointCorruptError(`${runDir} has no intact checkpoint${problems.length ? ` (${problems.join('; ')})` : ''}`);
  return path.join(latest.path, MODEL_FILE);
}
