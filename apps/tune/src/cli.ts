#!/usr/bin/env node
/** flux-tune: supervised Flux-FT tuning from the command line. */
import fs from 'node:fs';
import path from 'node:path';

import { Command, Option } from 'commander';
import { initBackend, requestedBackend } from '@flux/core';
import { FLEXI_PRESETS, type FlexiPresetName } from '@flux/sampling';
import { MOVING_MNIST_TASKS } from '@flux/video';
import {
  ConfigError,
  DEFAULT_TUNE_CONFIG,
  TrainingDivergedError,
  createFluxModel,
  parseGrid,
  parseInteger,
  parseIntList,
  parseNumber,
  parseNumberList,
  parsePair,
  parseRange,
  readConfigFile,
  resolveTuneConfig,
  tune,
  type TuneConfig,
} from '@flux/train';

const D = DEFAULT_TUNE_CONFIG;

export function buildTuneCommand(): Command {
  const cmd = new Command('flux-tune');
  cmd
    .description(
      'Supervised tuning of a FluxViT video classifier (Flux-FT).\n\n' +
        'With no arguments it trains Flux-Multi on the embedded Moving-MNIST data (8 motion directions) and\n' +
        'writes a run directory: config.json, metrics.jsonl (one JSON line per step), checkpoints/step-N/\n' +
        '(weights, optimizer state, RNG state — atomic, resumable bit for bit) and model.safetensors at the end.',
    )
    .addOption(new Option('-m, --mode <mode>', 'fixed: the baseline (one F×R grid, all tokens); single: flexi-sampling + selector at one K; multi: Flux-Multi (one head per K, CE per head + self-distillation to the largest K)').choices(['fixed', 'single', 'multi']))
    .option('-c, --config <file.json>', 'read settings from a JSON file (keys as in config.json of a run); flags given here override it')
    .option('-o, --out <dir>', 'run directory (default runs/tune-<mode>-<time>)')
    .option('--resume', 'continue the run in --out from its latest checkpoint (the config must match)')
    .option('--overwrite', 'start over in a --out that already holds a run')
    .option('--init <weights>', 'start from these weights (.safetensors or a run directory) instead of from scratch')
    .option('--model <variant>', `FluxViT variant (default ${D.model})`)
    .option('--dim <n>', 'model width (embedDim)', parseInteger(4))
    .option('--depth <n>', 'transformer blocks', parseInteger(1))
    .option('--heads <n>', 'attention heads', parseInteger(1))
    .option('--patch <n>', 'patch size in pixels', parseInteger(1))
    .addOption(new Option('--pool <kind>', `projector pooling: attention (the release's, needed for official weights) or max (the CPU-scale default: trains from scratch on all tokens)`).choices(['attention', 'max']))
    .option('--data <source>', `'moving-mnist' (embedded, default) or a training manifest: Kinetics-style CSV 'path label', SSv2 JSON, or a folder of class folders`)
    .addOption(new Option('--task <name>', 'the embedded data\'s task: directions (8 motion classes, the original default) or pair (16 classes: the directions of two digits told apart by brightness, a faint distractor, a panning background)').choices(Object.keys(MOVING_MNIST_TASKS)))
    .option('--val-data <manifest>', 'validation manifest (with a manifest --data; default: validate on --data)')
    .option('--test-data <manifest>', 'test manifest flux-eval will use (default: --val-data, else --data)')
    .option('--grid <FxR>', `fixed grid / evaluation grid, e.g. ${D.frames}x${D.size}`, parseGrid)
    .option('--flexi-frames <min:max:step>', `flexi-sampling frame range (default ${D.flexiFrames.join(':')})`, parseRange)
    .option('--flexi-sizes <min:max:step>', `flexi-sampling side range in pixels (default ${D.flexiSizes.join(':')})`, parseRange)
    .addOption(new Option('--flexi-preset <name>', `flexi-sampling ranges, token threshold and patch size of a @flux/sampling preset (the flags below override it)`).choices(Object.keys(FLEXI_PRESETS)))
    .option('--token-threshold <low:high>', `tokens of a sampled grid before selection (default ${D.tokenThreshold.join(':')})`, parsePair)
    .option('-k, --tokens <k,...>', `tokens kept by the selector, largest first (default ${D.tokenCounts.join(',')})`, parseIntList)
    .option('--steps <n>', `optimizer steps (default ${D.steps})`, parseInteger(1))
    .option('-b, --batch-size <n>', `clips per step (default ${D.batchSize})`, parseInteger(1))
    .option('--lr <x>', `peak learning rate (default ${D.lr})`, parseNumber(0))
    .option('--min-lr <x>', `final learning rate of the cosine decay (default ${D.minLr})`, parseNumber(0))
    .option('--warmup-steps <n>', `linear warmup steps (default ${D.warmupSteps})`, parseInteger(0))
    .option('--layer-decay <x>', `layer-wise lr decay: block i learns at x^(depth − i) of the rate, the embeddings at x^(depth + 1); 1 is off (default ${D.layerDecay})`, parseNumber(1e-6, 1))
    .option('--weight-decay <x>', `AdamW decoupled weight decay; not applied to norms, biases, gammas, pos-embed (default ${D.weightDecay})`, parseNumber(0))
    .option('--clip-grad <x>', `clip the global gradient norm (0: off; default ${D.clipGrad})`, parseNumber(0))
    .option('--label-smoothing <x>', `label smoothing of the cross-entropy (default ${D.labelSmoothing})`, parseNumber(0, 1))
    .option('--distill-weight <x>', `weight of the Flux-Multi self-distillation (default ${D.distillWeight})`, parseNumber(0))
    .option('--drop-path <x>', `stochastic depth rate (default ${D.dropPath})`, parseNumber(0, 0.99))
    .option('--crop-scales <s,...>', 'multi-scale crop scales of the short side, e.g. 0.66,0.75,0.875,1 (default off)', parseNumberList)
    .option('--flip', 'horizontal flip augmentation (off by default: it changes motion-direction labels)')
    .option('--seed <n>', `seed of data order, sampling and init (default ${D.seed})`, parseInteger(0))
    .option('--checkpoint-every <n>', `save a checkpoint every N steps, and at the end (default ${D.checkpointEvery})`, parseInteger(1))
    .option('--eval-every <n>', 'validate every N steps (default: only at the end)', parseInteger(0))
    .option('--eval-clips <n>', `validation clips (default ${D.evalClips})`, parseInteger(1))
    .option('--backend <name>', 'auto | tensorflow-gpu | tensorflow | wasm | wasm-threads | wasm-simd | cpu (env FLUX_BACKEND)')
    .option('-q, --quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Examples:
  $ flux-tune                                   # Flux-Multi on the embedded data, defaults below
  $ flux-tune --mode fixed --grid 8x64 --out runs/baseline
  $ flux-tune --mode multi -k 64,40,24 --lr 1e-3 --steps 600 --out runs/flux
  $ flux-tune --out runs/flux --resume          # continue after an interruption
  $ flux-tune --config my-run.json --steps 1000

Defaults (the embedded default job): model ${D.model} ${JSON.stringify(D.modelOverrides)},
  grid ${D.frames}x${D.size}, batch ${D.batchSize}, ${D.steps} steps, AdamW lr ${D.lr} (cosine, warmup ${D.warmupSteps}).

Backends: the fastest available is chosen (CUDA via @tensorflow/tfjs-node-gpu, native CPU via
@tensorflow/tfjs-node, then threaded SIMD wasm, then pure JS). Install a native package in your project
to have it picked up. A NaN/inf loss stops the run with an error; the last good checkpoint is kept.`,
    );
  return cmd;
}

interface CliOpts {
  mode?: TuneConfig['mode'];
  config?: string;
  out?: string;
  resume?: boolean;
  overwrite?: boolean;
  init?: string;
  model?: string;
  dim?: number;
  depth?: number;
  heads?: number;
  patch?: number;
  pool?: 'attention' | 'max';
  data?: string;
  task?: string;
  valData?: string;
  testData?: string;
  grid?: { frames: number; size: number };
  flexiFrames?: [number, number, number];
  flexiSizes?: [number, number, number];
  flexiPreset?: FlexiPresetName;
  tokenThreshold?: [number, number];
  tokens?: number[];
  steps?: number;
  batchSize?: number;
  lr?: number;
  minLr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  layerDecay?: number;
  clipGrad?: number;
  labelSmoothing?: number;
  distillWeight?: number;
  dropPath?: number;
  cropScales?: number[];
  flip?: boolean;
  seed?: number;
  checkpointEvery?: number;
  evalEvery?: number;
  evalClips?: number;
  backend?: string;
  quiet?: boolean;
}

/** Config layers from parsed CLI options: file, then flags. */
export function configFromCli(o: CliOpts): TuneConfig {
  const file = (o.config ? readConfigFile(o.config) : {}) as Partial<TuneConfig>;
  // A preset is a layer between the file and the flags.
  const preset: Partial<TuneConfig> = {};
  if (o.flexiPreset) {
    const p = FLEXI_PRESETS[o.flexiPreset];
    preset.flexiFrames = [p.frames.min, p.frames.max, p.frames.step];
    preset.flexiSizes = [p.resolution.min, p.resolution.max, p.resolution.step];
    preset.tokenThreshold = [p.tokens.low, p.tokens.high];
    preset.modelOverrides = { patchSize: p.patch };
  }
  const overrides: Record<string, unknown> = {};
  if (o.dim !== undefined) overrides.embedDim = o.dim;
  if (o.depth !== undefined) overrides.depth = o.depth;
  if (o.heads !== undefined) overrides.numHeads = o.heads;
  if (o.patch !== undefined) overrides.patchSize = o.patch;
  if (o.pool !== undefined) overrides.clipPool = o.pool;
  const flags: Partial<TuneConfig> = {
    mode: o.mode,
    init: o.init,
    model: o.model,
    data: o.data,
    task: o.task,
    valData: o.valData,
    testData: o.testData,
    frames: o.grid?.frames,
    size: o.grid?.size,
    flexiFrames: o.flexiFrames,
    flexiSizes: o.flexiSizes,
    tokenThreshold: o.tokenThreshold,
    tokenCounts: o.tokens,
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    minLr: o.minLr,
    warmupSteps: o.warmupSteps,
    weightDecay: o.weightDecay,
    layerDecay: o.layerDecay,
    clipGrad: o.clipGrad,
    labelSmoothing: o.labelSmoothing,
    distillWeight: o.distillWeight,
    dropPath: o.dropPath,
    cropScales: o.cropScales,
    flip: o.flip,
    seed: o.seed,
    checkpointEvery: o.checkpointEvery,
    evalEvery: o.evalEvery,
    evalClips: o.evalClips,
    backend: o.backend,
    ...(Object.keys(overrides).length ? { modelOverrides: overrides } : {}),
  };
  return resolveTuneConfig(file, preset, flags);
}

export async function main(argv = process.argv): Promise<void> {
  const cmd = buildTuneCommand();
  cmd.parse(argv);
  const o = cmd.opts<CliOpts>();
  let cfg: TuneConfig;
  const resumeDir = o.resume ? o.out : undefined;
  if (o.resume && !o.out) cmd.error('error: --resume needs --out <dir> (the run to continue)');
  try {
    if (resumeDir && !o.config && fs.existsSync(path.join(resumeDir, 'config.json'))) {
      // Resuming: the stored config is the base; flags may only restate it (the run dir checks).
      o.config = path.join(resumeDir, 'config.json');
    }
    cfg = configFromCli(o);
  } catch (err) {
    if (err instanceof ConfigError) cmd.error(`error: ${err.message}`);
    throw err;
  }
  const out = o.out ?? path.join('runs', `tune-${cfg.mode}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const backend = await initBackend({ backend: requestedBackend(o.backend, cfg.backend), log: o.quiet ? false : undefined });
  void backend;
  try {
    const r = await tune(cfg, { out, resume: o.resume ?? false, overwrite: o.overwrite ?? false, createModel: createFluxModel, quiet: o.quiet ?? false });
    const full = r.val.find((v) => v.k === null);
    process.stdout.write(
      `run ${r.runDir}: ${r.steps} steps in ${r.seconds.toFixed(0)} s, final loss ${r.finalLoss.toFixed(4)}` +
        (full ? `, val top-1 ${(full.top1 * 100).toFixed(1)}% (full tokens)` : '') +
        (r.best && r.best.step !== r.steps ? `; best val top-1 ${(r.best.value * 100).toFixed(1)}% at step ${r.best.step} (${r.best.path})` : '') +
        '\n' +
        r.val
          .filter((v) => v.k !== null)
          .map((v) => `  K=${v.k}: top-1 ${(v.top1 * 100).toFixed(1)}%, top-5 ${(v.top5 * 100).toFixed(1)}%\n`)
          .join(''),
    );
    for (const v of r.val.filter((x) => x.nonFinite > 0)) {
      process.stderr.write(`flux-tune: warning: ${v.nonFinite} validation clips gave NaN/Inf logits at ${v.k === null ? 'all tokens' : `K=${v.k}`} (counted as wrong): the model is broken\n`);
    }
    r.model.dispose();
  } catch (err) {
    if (err instanceof TrainingDivergedError) {
      process.stderr.write(`flux-tune: ${err.message}\n`);
      process.exitCode = 3;
      return;
    }
    throw err;
  }
}

function invokedDirectly(): boolean {
  try {
    return Boolean(process.argv[1]) && /flux-tune(\.js)?$|tune[\\/]dist[\\/]cli\.js$/.test(fs.realpathSync(process.argv[1]!));
  } catch {
    return false;
  }
}
const isMain = invokedDirectly();
if (isMain) {
  main().catch((err: unknown) => {
    process.stderr.write(`flux-tune: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
