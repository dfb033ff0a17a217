/**
 * `predict` in Node: load a checkpoint (a flux-tune run directory, a self-describing `.safetensors`, or an official
 * `.pth`), read videos (a file, a folder, a manifest) with ffmpeg at a plan's frames and side, and classify them;
 * choose the plan by token budget, by Token Optimization, or by cost (FLOPs or latency measured on this machine and
 * backend, cached).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { atomicWriteFileSync, parseSafetensors, readPth, type TensorRecord } from '@flux/core';
import { VIDEO_EXTENSIONS, decodeFrames, loadManifest, probe, readClassList } from '@flux/video';
import { MODEL_REGISTRY, createModel, listModels, resolveConfig, type FluxViTConfig, type FluxViTName } from '@flux/vit';

import { openDataset } from '../data.js';
import { loadRun, searchPlanForBudget } from '../supervised/budgets.js';
import { patchSizeOf, type TuneConfig } from '../supervised/config.js';
import { predictorFromSafetensors } from './browser-checkpoint.js';
import {
  PredictInputError,
  calibrationPlans,
  classifyClip,
  makePlan,
  measurePlans,
  planFrameIndices,
  readCheckpointMetadata,
  type CalibratedPlan,
  type ClipPrediction,
  type PredictPlan,
  type PredictorInfo,
} from './core.js';
import { KINETICS_400 } from './kinetics400.js';

/** A loaded checkpoint ready to classify videos. */
export interface Predictor extends PredictorInfo {
  /** The checkpoint as given. */
  source: string;
  kind: 'run' | 'safetensors' | 'pth';
  /** The run config (run directories only: Token Optimization searches its train split). */
  run?: { dir: string; cfg: TuneConfig };
  /** Where the class names came from. */
  labelsFrom: string;
  /** Where the default grid came from: the training grid (a run, a flux-tune checkpoint) or the model's default. */
  gridFrom: 'training grid' | 'default grid';
}

export interface LoadPredictorOptions {
  /** Class names file (one per line, or a JSON list): overrides the checkpoint's. */
  labels?: string;
  /** Registry variant for a checkpoint without Flux metadata (default: the one whose width matches). */
  model?: string;
  /** FluxViTConfig fields for a checkpoint without Flux metadata (what its tensor shapes do not tell: heads, head token counts). */
  modelConfig?: Partial<FluxViTConfig>;
}

function shapeOf(t: ReadonlyMap<string, TensorRecord>, name: string, file: string): readonly number[] {
  const r = t.get(name) ?? t.get(`module.${name}`);
  if (!r) throw new PredictInputError(file, `has no tensor '${name}': not a FluxViT checkpoint`);
  return r.shape;
}

/**
 * The FluxViT config of a state dict without Flux metadata (an official checkpoint): width, patch, depth, classes,
 * heads of the classifier, projector width and pooling from the tensor shapes; attention heads and the positional
 * grid split from the variant `base` (default: the registry variant of that width) and `overrides`.
 */
export function inferConfig(tensors: ReadonlyMap<string, TensorRecord>, file: string, base?: string, overrides: Partial<FluxViTConfig> = {}): { name: FluxViTName; config: FluxViTConfig } {
  const strip = new Map([...tensors].map(([k, v]) => [k.replace(/^(module\.|backbone\.|encoder\.)+/, ''), v]));
  const proj = shapeOf(strip, 'patch_embed.proj.weight', file); // [C, 3, 1, p, p] or [C, 3·p·p]
  const embedDim = proj[0]!;
  const patchSize = proj.length === 5 ? proj[4]! : Math.round(Math.sqrt(proj[1]! / 3));
  const depth = new Set([...strip.keys()].map((k) => /^blocks\.(\d+)\./.exec(k)?.[1]).filter((x) => x !== undefined)).size;
  const heads = [...new Set([...strip.keys()].map((k) => /^head\.(\d+)\.weight$/.exec(k)?.[1]).filter((x) => x !== undefined))].length;
  const head0 = shapeOf(strip, heads ? 'head.0.weight' : 'head.weight', file);
  const numClasses = head0[0]!;
  const clipEmbedDim = head0[1]!;
  const clipPool = [...strip.keys()].some((k) => /^clip_projector\.\d+\.cross_attn\.q\.weight$/.test(k)) ? 'attention' : 'max';
  const pos = shapeOf(strip, 'pos_embed', file);
  const positions = pos[pos.length - 2]! - 1;
  const names = listModels();
  const name = (base ?? names.find((n) => resolveConfig(n as FluxViTName).embedDim === embedDim && resolveConfig(n as FluxViTName).patchSize === patchSize) ?? 'fluxvit_tiny') as FluxViTName;
  if (!names.includes(name)) throw new PredictInputError('--model', `unknown variant '${name}' (known: ${names.join(', ')})`);
  const b = resolveConfig(name);
  let maxFrames = overrides.maxFrames ?? b.maxFrames;
  let maxGrid = overrides.maxGrid ?? b.maxGrid;
  if (maxFrames * maxGrid * maxGrid !== positions) {
    const g = Math.round(Math.sqrt(positions / maxFrames));
    if (positions % maxFrames === 0 && g * g * maxFrames === positions) maxGrid = g;
    else if (positions % (maxGrid * maxGrid) === 0) maxFrames = positions / (maxGrid * maxGrid);
    else throw new PredictInputError(file, `pos_embed holds ${positions} positions, which is no T×G×G split with T=${maxFrames} or G=${maxGrid}: pass --model-config '{"maxFrames":T,"maxGrid":G}'`);
  }
  const headTokenCounts = overrides.headTokenCounts ?? (b.headTokenCounts.length === Math.max(1, heads) ? b.headTokenCounts : Array.from({ length: Math.max(1, heads) }, (_, j) => b.headTokenCounts[j] ?? b.headTokenCounts[0]!));
  const config = resolveConfig(name, { ...overrides, embedDim, patchSize, depth, numClasses, clipEmbedDim, clipPool, maxFrames, maxGrid, headTokenCounts });
  return { name, config };
}

function readLabels(file: string, numClasses: number): string[] {
  if (!fs.existsSync(file)) throw new PredictInputError(file, 'no such labels file');
  let names: string[];
  try {
    names = readClassList(file);
  } catch (e) {
    throw new PredictInputError(file, `not a readable class list (${(e as Error).message})`);
  }
  if (names.length !== numClasses) throw new PredictInputError(file, `holds ${names.length} class names but the checkpoint has ${numClasses} classes`);
  return names;
}

function defaultNames(numClasses: number): { names: string[]; from: string } {
  if (numClasses === 400) return { names: [...KINETICS_400], from: 'Kinetics-400 (built in)' };
  return { names: Array.from({ length: numClasses }, (_, i) => `class ${i}`), from: 'none (class numbers)' };
}

/** The default grid of a checkpoint without a run: its variant's pretrained input size where the model covers it, else its full positional grid. */
function defaultGrid(config: FluxViTConfig, name: FluxViTName): { frames: number; size: number } {
  const pre = MODEL_REGISTRY[name].pretrained?.inputSize;
  if (pre && pre.frames <= config.maxFrames && pre.size % config.patchSize === 0 && pre.size / config.patchSize <= config.maxGrid) return { frames: pre.frames, size: pre.size };
  return { frames: config.maxFrames, size: config.maxGrid * config.patchSize };
}

function wrapRead<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PredictInputError) throw e;
    const msg = (e as Error).message;
    throw new PredictInputError(file, `corrupt or unreadable checkpoint (${msg.startsWith(file) ? msg.slice(file.length).replace(/^:\s*/, '') : msg})`);
  }
}

/** Loads a checkpoint for prediction. Errors are {@link PredictInputError}s naming the file and the cause. */
export async function loadPredictor(checkpoint: string, options: LoadPredictorOptions = {}): Promise<Predictor> {
  if (!fs.existsSync(checkpoint)) throw new PredictInputError(checkpoint, 'no such checkpoint (a flux-tune run directory, a .safetensors or an official .pth)');
  const finish = (p: Omit<Predictor, 'labelsFrom' | 'gridFrom'> & { labelsFrom?: string; gridFrom?: Predictor['gridFrom'] }): Predictor => {
    const gridFrom = p.gridFrom ?? 'training grid';
    if (options.labels) return { ...p, gridFrom, classNames: readLabels(options.labels, p.model.config.numClasses), labelsFrom: options.labels };
    return { ...p, gridFrom, labelsFrom: p.labelsFrom ?? 'checkpoint' };
  };
  if (fs.statSync(checkpoint).isDirectory()) {
    const run = wrapRead(checkpoint, () => loadRun(checkpoint));
    const classesFile = path.join(checkpoint, 'classes.json');
    const names = fs.existsSync(classesFile) ? readLabels(classesFile, run.model.config.numClasses) : openDataset('val', run.cfg).classNames;
    return finish({ source: checkpoint, kind: 'run', model: run.model, classNames: names, frames: run.cfg.frames, size: run.cfg.size, run: { dir: checkpoint, cfg: run.cfg }, labelsFrom: fs.existsSync(classesFile) ? classesFile : 'the run\'s dataset' });
  }
  const pth = /\.(pth|pt|bin)$/i.test(checkpoint);
  let tensors: Map<string, TensorRecord>;
  if (pth) {
    tensors = (await readPth(checkpoint).catch((e: unknown) => wrapRead(checkpoint, () => { throw e; }))).tensors;
  } else {
    const bytes = fs.readFileSync(checkpoint);
    const parsed = wrapRead(checkpoint, () => parseSafetensors(bytes, { name: checkpoint }));
    if (readCheckpointMetadata(parsed.metadata, checkpoint) && !options.modelConfig && !options.model) {
      const p = predictorFromSafetensors(bytes, checkpoint);
      return finish({ ...p, source: checkpoint, kind: 'safetensors' });
    }
    tensors = parsed.tensors;
  }
  const { name, config } = inferConfig(tensors, checkpoint, options.model, options.modelConfig);
  const model = createModel(name, config, 0);
  try {
    model.loadStateDict(tensors, { strict: true });
  } catch (e) {
    model.dispose();
    throw new PredictInputError(checkpoint, (e as Error).message);
  }
  const { names, from } = defaultNames(config.numClasses);
  const grid = defaultGrid(config, name);
  return finish({ source: checkpoint, kind: pth ? 'pth' : 'safetensors', model, classNames: names, labelsFrom: from, gridFrom: 'default grid', ...grid });
}

/** The videos of an input: one video file, every video under a folder (sorted), or a manifest's clips. */
export function listPredictInputs(input: string): { file: string; label?: string }[] {
  if (!fs.existsSync(input)) throw new PredictInputError(input, 'no such video, folder or manifest');
  const st = fs.statSync(input);
  const isVideo = (f: string) => VIDEO_EXTENSIONS.includes(path.extname(f).toLowerCase());
  if (st.isDirectory()) {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (isVideo(p)) out.push(p);
      }
    };
    walk(input);
    if (!out.length) throw new PredictInputError(input, `a folder with no video files (${VIDEO_EXTENSIONS.join(' ')})`);
    return out.map((file) => ({ file }));
  }
  if (isVideo(input)) return [{ file: input }];
  let ds;
  try {
    ds = loadManifest(input);
  } catch (e) {
    throw new PredictInputError(input, `neither a video (${VIDEO_EXTENSIONS.join(' ')}) nor a readable manifest (${(e as Error).message})`);
  }
  if (!ds.items.length) throw new PredictInputError(input, 'a manifest with no clips');
  return ds.items.map((it) => ({ file: it.path, ...(it.label !== undefined ? { label: ds.classes[it.label] ?? String(it.label) } : {}) }));
}

/** One video's prediction. */
export interface VideoPrediction extends ClipPrediction {
  file: string;
  /** Frames of the video and the ones the plan read. */
  videoFrames: number;
  frameIndices: number[];
  /** ffmpeg decode time, ms. */
  decodeMs: number;
}

/** The RGB frames a plan reads from a video (ffmpeg: TSN centre frames, centre square, bilinear to R×R), as flux-eval reads them. */
export async function decodeForPlan(file: string, plan: Pick<PredictPlan, 'frames' | 'size'>): Promise<{ pixels: Uint8Array; videoFrames: number; frameIndices: number[] }> {
  const info = await probe(file);
  const idx = planFrameIndices(info.frames, plan);
  const clip = await decodeFrames(file, idx, plan.size, { info, threads: 1 });
  return { pixels: clip.data, videoFrames: info.frames, frameIndices: idx };
}

/** Decodes and classifies one video at a plan. */
export async function predictVideo(p: PredictorInfo, file: string, plan: PredictPlan, top = 5): Promise<VideoPrediction> {
  const t0 = performance.now();
  const d = await decodeForPlan(file, plan);
  const decodeMs = performance.now() - t0;
  const r = await classifyClip(p, d.pixels, plan, top);
  return { ...r, file, videoFrames: d.videoFrames, frameIndices: d.frameIndices, decodeMs };
}

/** The cache folder of predict's calibrations: `$FLUX_CACHE_DIR/predict`, default `~/.cache/flux/predict`. */
export function predictCacheDir(): string {
  return path.join(process.env.FLUX_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'flux'), 'predict');
}

function cacheFile(kind: string, key: unknown): string {
  const h = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 20);
  return path.join(predictCacheDir(), `${kind}-${h}.json`);
}

function readCache<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Token Optimization's plan for budget K (a run directory: searched on its train split), cached by run and budget. */
export async function tokenOptimizedPlan(p: Predictor, k: number, options: { refresh?: boolean; log?: (line: string) => void } = {}): Promise<PredictPlan> {
  if (!p.run) throw new PredictInputError('--plan auto', `Token Optimization searches the run's own train clips; ${p.source} is not a flux-tune run directory (pass --plan FxR)`);
  const cfg = p.run.cfg;
  const patch = patchSizeOf(cfg);
  const frames = [...new Set([2, 4, 6, 8, 12, 16].filter((f) => f <= p.model.config.maxFrames && f <= cfg.clipLength).concat(cfg.frames))].sort((a, b) => a - b);
  const sizes = [...new Set([cfg.size, ...Array.from({ length: p.model.config.maxGrid }, (_, i) => (i + 1) * patch)].filter((s) => s <= cfg.clipSize && s >= 2 * patch))].sort((a, b) => a - b);
  const weights = fs.statSync(path.join(p.run.dir, 'config.json')).mtimeMs;
  const file = cacheFile('to', { dir: path.resolve(p.run.dir), weights, k, frames, sizes });
  const cached = options.refresh ? null : readCache<{ frames: number; size: number; k: number }>(file);
  if (cached) return makePlan(p.model.config, cached.frames, cached.size, cached.k);
  const train = openDataset('train', cfg);
  const n = Math.min(128, train.count);
  const indices = Array.from({ length: n }, (_, i) => Math.floor((i * train.count) / n));
  const s = await searchPlanForBudget(p.model, train, k, { frames, sizes, patch }, indices, 32);
  options.log?.(`Token Optimization at K=${k}: ${s.best.frames}×${s.best.size} (train-subset top-1 ${(s.score * 100).toFixed(1)} %, ${s.trace.length} plans tried)`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  atomicWriteFileSync(file, JSON.stringify({ frames: s.best.frames, size: s.best.size, k: s.best.k, score: s.score }) + '\n');
  return makePlan(p.model.config, s.best.frames, s.best.size, s.best.k);
}

/** A cached latency calibration of a model on this machine and backend. */
export interface Calibration {
  backend: string;
  cpu: string;
  file: string;
  /** Whether it was read from the cache. */
  cached: boolean;
  plans: CalibratedPlan[];
}

/**
 * Latency of the default grid at several budgets, measured here on the current backend (one warm-up, median of
 * five), cached by model architecture, grid, backend and CPU — latency does not depend on the weights.
 */
export async function calibrate(p: PredictorInfo, options: { refresh?: boolean; plans?: PredictPlan[] } = {}): Promise<Calibration> {
  const plans = options.plans ?? calibrationPlans(p);
  const backend = tf.getBackend();
  const cpu = `${os.cpus()[0]?.model ?? 'cpu'} ×${os.cpus().length}`;
  const file = cacheFile('latency', { config: p.model.config, plans: plans.map((q) => [q.frames, q.size, q.k]), backend, cpu });
  const cached = options.refresh ? null : readCache<{ plans: CalibratedPlan[] }>(file);
  if (cached) return { backend, cpu, file, cached: true, plans: cached.plans };
  const measured = await measurePlans(p, plans);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  atomicWriteFileSync(file, JSON.stringify({ backend, cpu, created: new Date().toISOString(), plans: measured }, null, 2) + '\n');
  return { backend, cpu, file, cached: false, plans: measured };
}
