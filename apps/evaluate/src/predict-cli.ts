/** `flux-eval predict`: top-k labels of videos at a token budget (a thin CLI over @flux/train's predict API). */
import fs from 'node:fs';

import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, requestedBackend } from '@flux/core';
import {
  InvalidArgumentError,
  PredictInputError,
  calibrate,
  classifyClip,
  listPredictInputs,
  loadPredictor,
  makePlan,
  parsePlanSpec,
  parseTokens,
  pickPlanByCost,
  planGridTokens,
  predictVideo,
  timingPixels,
  tokenOptimizedPlan,
  type PredictPlan,
  type Predictor,
  type VideoPrediction,
} from '@flux/train';

interface PredictCli {
  checkpoint: string;
  tokens?: string;
  plan?: string;
  labels?: string;
  top: number;
  json?: boolean;
  maxGflops?: number;
  latencyMs?: number;
  recalibrate?: boolean;
  model?: string;
  modelConfig?: string;
  backend?: string;
}

const positive = (name: string) => (v: string) => {
  const x = Number(v);
  if (!(x > 0) || !Number.isFinite(x)) throw new InvalidArgumentError(`${name} must be a positive number, got '${v}'.`);
  return x;
};

export function buildPredictCommand(): Command {
  return new Command('flux-eval predict')
    .description(
      'Classify videos with a FluxViT checkpoint at a token budget: top-k labels with probabilities, the plan used\n' +
        '(F frames × R pixels, K tokens kept) and the time per clip. The budget is a share or count of tokens\n' +
        '(--tokens), or a cost (--max-gflops, --latency-ms: the plan is chosen by measuring this machine and backend,\n' +
        'cached under ~/.cache/flux/predict).',
    )
    .argument('<input>', 'a video file, a folder of videos, or a manifest (Kinetics CSV, SSv2 JSON)')
    .requiredOption('--checkpoint <path>', 'a flux-tune run directory, a .safetensors written by flux-tune, or an official .pth')
    .option('-k, --tokens <25%|K>', 'tokens kept: a share of the plan grid\'s tokens or a count (default 100%)')
    .option('--plan <FxR|auto>', 'input grid, e.g. 8x64, or auto: Token Optimization (searched on the run\'s train clips, cached) (default: the training grid)')
    .option('--labels <file>', 'class names, one per line or a JSON list (default: the checkpoint\'s; Kinetics-400 for 400-class official checkpoints)')
    .option('--top <n>', 'labels shown per clip (default 5)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--top must be an integer ≥ 1, got '${v}'.`);
      return n;
    }, 5)
    .option('--json', 'print one JSON object with every prediction')
    .option('--max-gflops <x>', 'the most tokens whose forward pass costs ≤ x GFLOP per clip', positive('--max-gflops'))
    .option('--latency-ms <x>', 'the most tokens whose measured latency per clip is ≤ x ms here', positive('--latency-ms'))
    .option('--recalibrate', 'measure latency again instead of using the cache')
    .option('--model <variant>', 'registry variant for a checkpoint without Flux metadata (an official .pth)')
    .option('--model-config <json|file>', 'FluxViTConfig fields for a checkpoint without Flux metadata, e.g. {"numHeads":6,"headTokenCounts":[3072,2048,1024]}')
    .addOption(new Option('--backend <name>', 'auto | tensorflow-gpu | tensorflow | wasm | cpu (env FLUX_BACKEND)'))
    .addHelpText(
      'after',
      `
Examples:
  $ flux-eval predict clip.mp4 --checkpoint runs/flux --tokens 25%
  $ flux-eval predict videos/ --checkpoint runs/flux --plan auto --tokens 32 --json
  $ flux-eval predict clip.mp4 --checkpoint runs/flux --latency-ms 20
  $ flux-eval predict clip.mp4 --checkpoint fluxvit_s_k400.pth --model fluxvit_small_patch14 --tokens 1024`,
    );
}

function readModelConfig(spec: string | undefined): Record<string, unknown> | undefined {
  if (spec === undefined) return undefined;
  const text = fs.existsSync(spec) ? fs.readFileSync(spec, 'utf8') : spec;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new PredictInputError('--model-config', `${(e as Error).message} (${spec})`);
  }
}

/** The plan of a run of `predict`: by cost, by Token Optimization, or the given / default grid at --tokens. */
export async function choosePlan(p: Predictor, o: Pick<PredictCli, 'tokens' | 'plan' | 'maxGflops' | 'latencyMs' | 'recalibrate'>, log?: (l: string) => void): Promise<{ plan: PredictPlan; why: string }> {
  const c = p.model.config;
  const grid = o.plan ? parsePlanSpec(o.plan) : { frames: p.frames, size: p.size };
  if (o.maxGflops !== undefined || o.latencyMs !== undefined) {
    if (o.tokens !== undefined) throw new PredictInputError('--tokens', 'give a token budget or a cost (--max-gflops / --latency-ms), not both');
    const base = grid ?? { frames: p.frames, size: p.size };
    const info = { ...p, frames: base.frames, size: base.size };
    let plans: PredictPlan[] | undefined;
    if (!grid) {
      // Token Optimization's plan at each calibration budget.
      const full = planGridTokens(p.frames, p.size, c.patchSize);
      const ks = [...new Set([1, 0.75, 0.5, 0.375, 0.25, 0.125].map((s) => Math.max(1, Math.round(full * s))))];
      plans = [];
      for (const k of ks) plans.push(await tokenOptimizedPlan(p, k, log ? { log } : {}));
    }
    const cal = await calibrate(info, { ...(o.recalibrate ? { refresh: true } : {}), ...(plans ? { plans } : {}) });
    log?.(`calibration (${cal.backend}, ${cal.cached ? 'cached' : 'measured'}: ${cal.file}):`);
    for (const e of cal.plans) log?.(`  ${e.plan.frames}×${e.plan.size} K=${e.plan.k}: ${e.plan.gflops.toFixed(4)} GFLOP, ${e.ms.toFixed(2)} ms`);
    const pick = pickPlanByCost(cal.plans, { ...(o.maxGflops !== undefined ? { maxGflops: o.maxGflops } : {}), ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}) });
    return { plan: pick.plan, why: `fits ${o.maxGflops !== undefined ? `${o.maxGflops} GFLOP` : ''}${o.maxGflops !== undefined && o.latencyMs !== undefined ? ' and ' : ''}${o.latencyMs !== undefined ? `${o.latencyMs} ms (measured ${pick.ms.toFixed(2)} ms)` : ''}` };
  }
  if (!grid) {
    const full = planGridTokens(p.frames, p.size, c.patchSize);
    const k = o.tokens !== undefined ? parseTokens(o.tokens, full) : full;
    return { plan: await tokenOptimizedPlan(p, k, log ? { log } : {}), why: 'Token Optimization' };
  }
  const g = makePlan(c, grid.frames, grid.size);
  const k = o.tokens !== undefined ? parseTokens(o.tokens, g.gridTokens) : g.gridTokens;
  return { plan: makePlan(c, grid.frames, grid.size, k), why: o.plan ? 'given grid' : p.gridFrom };
}

function fmtPlan(plan: PredictPlan): string {
  return `${plan.frames}×${plan.size}, K=${plan.k} of ${plan.gridTokens} tokens (${((100 * plan.k) / plan.gridTokens).toFixed(1)} %), head ${plan.head}, ${plan.gflops.toFixed(4)} GFLOP`;
}

export async function predictMain(argv = process.argv): Promise<void> {
  const cmd = buildPredictCommand();
  cmd.parse(argv);
  const o = cmd.opts<PredictCli>();
  const input = cmd.args[0]!;
  const log = o.json ? undefined : (l: string) => process.stderr.write(l + '\n');
  const report = await initBackend({ backend: requestedBackend(o.backend), log: false });
  const modelConfig = readModelConfig(o.modelConfig);
  const p = await loadPredictor(o.checkpoint, { ...(o.labels ? { labels: o.labels } : {}), ...(o.model ? { model: o.model } : {}), ...(modelConfig ? { modelConfig } : {}) });
  try {
    const inputs = listPredictInputs(input);
    const { plan, why } = await choosePlan(p, o, log);
    // One warm-up pass, so the time of the first clip is not the backend's program compilation.
    await classifyClip(p, timingPixels(plan), plan, 1);
    const results: (VideoPrediction & { label?: string })[] = [];
    if (!o.json) {
      process.stdout.write(`checkpoint ${p.source} (${p.kind}; ${p.model.config.numClasses} classes, labels: ${p.labelsFrom}) · backend ${report.backend}\n`);
      process.stdout.write(`plan ${fmtPlan(plan)} [${why}]\n`);
    }
    // A manifest's numeric labels are class indices of the checkpoint.
    const labelName = (l: string) => (/^\d+$/.test(l) && Number(l) < p.classNames.length ? p.classNames[Number(l)]! : l);
    let correct = 0;
    for (const raw of inputs) {
      const it = raw.label !== undefined ? { ...raw, label: labelName(raw.label) } : raw;
      const r = await predictVideo(p, it.file, plan, o.top);
      if (it.label !== undefined && r.top[0]!.label === it.label) correct++;
      results.push({ ...r, ...(it.label !== undefined ? { label: it.label } : {}) });
      if (!o.json) {
        process.stdout.write(`${it.file}${it.label !== undefined ? ` (label: ${it.label})` : ''}: ${r.ms.toFixed(2)} ms model, ${r.decodeMs.toFixed(1)} ms decode\n`);
        const w = Math.max(...r.top.map((t) => t.label.length));
        r.top.forEach((t, i) => process.stdout.write(`  ${i + 1}. ${t.label.padEnd(w)}  ${t.prob.toFixed(4)}\n`));
      }
    }
    const labelled = results.filter((r) => r.label !== undefined).length;
    if (!o.json && labelled) process.stdout.write(`top-1 ${correct}/${labelled} of the labelled clips\n`);
    if (o.json) {
      const out = {
        checkpoint: p.source,
        kind: p.kind,
        backend: report.backend,
        labelsFrom: p.labelsFrom,
        plan: { ...plan, why },
        predictions: results.map((r) => ({ file: r.file, ...(r.label !== undefined ? { label: r.label } : {}), videoFrames: r.videoFrames, frameIndices: r.frameIndices, ms: r.ms, decodeMs: r.decodeMs, top: r.top })),
        numTensors: tf.memory().numTensors,
      };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    }
  } finally {
    p.model.dispose();
  }
}
