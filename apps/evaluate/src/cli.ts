#!/usr/bin/env node
/** flux-eval: evaluate flux-tune runs across token budgets and input grids, with Token Optimization, plots and a report. */
import fs from 'node:fs';
import path from 'node:path';

import { Command } from 'commander';
import { clipEvalMain } from './clip-cli.js';
import { predictMain } from './predict-cli.js';
import { probeMain } from './probe-cli.js';
import { initBackend, requestedBackend } from '@flux/core';
import { rangeValues } from '@flux/sampling';
import { DEFAULT_EVAL_OPTIONS, InvalidArgumentError, evaluateRun, loadRun, parseIntList, parseInteger, parseNumberList, readConfigFile, writeReport, type EvalOptions, type ModelEvaluation } from '@flux/train';

/** `4,8,12,16` or `4:16:4` (a @flux/sampling range). */
function parseValues(v: string): number[] {
  const m = /^(\d+):(\d+)(?::(\d+))?$/.exec(v.trim());
  if (!m) return parseIntList(v);
  const range = { min: Number(m[1]), max: Number(m[2]), step: Number(m[3] ?? 1) };
  if (range.step < 1 || range.max < range.min) throw new InvalidArgumentError(`expected MIN:MAX[:STEP] with MIN ≤ MAX and STEP ≥ 1, got '${v}'.`);
  return rangeValues(range);
}

const D = DEFAULT_EVAL_OPTIONS;

export function buildEvalCommand(): Command {
  return new Command('flux-eval')
    .description(
      'Evaluate flux-tune runs: top-1/top-5 on the test split over a table of input grids (F frames × R pixels)\n' +
        'and token counts (paper Table 1 layout); per budget (fractions of the full grid) the full grid with the\n' +
        'selector, the best smaller grid, and Token Optimization (a (F, R) plan searched on a train subset, then\n' +
        'tested); an accuracy-vs-tokens chart of all runs, an F × R heatmap per run, training curves, and\n' +
        'report.md + results.json in --out.',
    )
    .argument('<runs...>', 'flux-tune run directories (config.json + model.safetensors or checkpoints/)')
    .option('-o, --out <dir>', 'report directory (default reports/eval-<time>)')
    .option('-n, --names <a,b,...>', 'display names of the runs (default: directory names)', (v: string) => v.split(','))
    .option('-c, --config <file.json>', 'evaluation options as JSON (keys: testClips, searchClips, fractions, frames, sizes, heatmapFraction, tokenOptimization, batchSize)')
    .option('--test-clips <n>', `test clips (default ${D.testClips})`, parseInteger(1))
    .option('--test-data <manifest>', "test on this manifest instead of the run's own test split (runs trained on a manifest)")
    .option('--search-clips <n>', `train clips for the Token Optimization search (default ${D.searchClips})`, parseInteger(1))
    .option('--fractions <f,...>', `budgets as fractions of the full grid's tokens (default ${D.fractions.join(',')})`, parseNumberList)
    .option('--frames <F,...|min:max:step>', `frame counts of the table, heatmap and search (default ${D.frames.join(',')})`, parseValues)
    .option('--sizes <R,...|min:max:step>', `input sides in pixels (default ${D.sizes.join(',')})`, parseValues)
    .option('--heatmap-fraction <f>', `budget fraction of the F × R heatmap (default ${D.heatmapFraction})`, Number)
    .option('--no-token-optimization', 'skip the Token Optimization search')
    .option('-b, --batch-size <n>', `clips per forward pass (default ${D.batchSize})`, parseInteger(1))
    .option('--backend <name>', 'auto | tensorflow-gpu | tensorflow | wasm | cpu (env FLUX_BACKEND)')
    .option('-q, --quiet', 'no progress lines')
    .addHelpText(
      'after',
      `
Examples:
  $ flux-eval runs/baseline runs/flux --names baseline,flux-multi --out reports/compare
  $ flux-eval runs/flux --fractions 1,0.25 --test-clips 2000 --no-token-optimization
  $ flux-main                         # the whole embedded job: tune both arms, evaluate, report
  $ flux-eval retrieval runs/clip/clip-multi runs/clip/clip-fixed   # Flux-CLIP runs: recall@K over budgets
  $ flux-eval zero-shot runs/clip/clip-multi                         # zero-shot motion classification
  $ flux-eval predict clip.mp4 --checkpoint runs/flux --tokens 25%   # top-5 labels of one video at a quarter of the tokens
  $ flux-eval probe                   # the chat probe on the embedded default (encoders, built-in LM, stories260K)`,
    );
}

interface EvalCli {
  out?: string;
  names?: string[];
  config?: string;
  testClips?: number;
  testData?: string;
  searchClips?: number;
  fractions?: number[];
  frames?: number[];
  sizes?: number[];
  heatmapFraction?: number;
  tokenOptimization?: boolean;
  batchSize?: number;
  backend?: string;
  quiet?: boolean;
}

/** Evaluation options from the file and flags (flags win). */
export function evalOptionsFromCli(o: EvalCli): Partial<EvalOptions> {
  let file: Partial<EvalOptions> = {};
  if (o.config) file = readConfigFile(o.config) as Partial<EvalOptions>;
  const unknown = Object.keys(file).filter((k) => !Object.hasOwn(D, k));
  if (unknown.length) throw new Error(`unknown evaluation option(s) in ${o.config}: ${unknown.join(', ')}`);
  const flags: Partial<EvalOptions> = {};
  if (o.testClips !== undefined) flags.testClips = o.testClips;
  if (o.testData !== undefined) flags.testData = o.testData;
  if (o.searchClips !== undefined) flags.searchClips = o.searchClips;
  if (o.fractions) flags.fractions = o.fractions;
  if (o.frames) flags.frames = o.frames;
  if (o.sizes) flags.sizes = o.sizes;
  if (o.heatmapFraction !== undefined) flags.heatmapFraction = o.heatmapFraction;
  if (o.tokenOptimization === false) flags.tokenOptimization = false;
  if (o.batchSize !== undefined) flags.batchSize = o.batchSize;
  const merged = { ...file, ...flags };
  const where = o.config ? ` (in ${o.config} or the flags)` : '';
  const intIn = (k: 'testClips' | 'searchClips' | 'batchSize', max: number) => {
    const v = merged[k];
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 1 && v <= max)) throw new Error(`${k} must be an integer in [1, ${max}]${where}, got ${JSON.stringify(v)}`);
  };
  intIn('testClips', 1e8);
  intIn('searchClips', 1e8);
  intIn('batchSize', 65_536);
  for (const k of ['frames', 'sizes'] as const) {
    const v = merged[k];
    if (v !== undefined && (!Array.isArray(v) || !v.length || v.length > 4096 || v.some((x) => !Number.isSafeInteger(x) || x < 1 || x > 8192))) throw new Error(`${k} must be a list of integers in [1, 8192]${where}, got ${JSON.stringify(v)}`);
  }
  if (merged.fractions !== undefined && (!Array.isArray(merged.fractions) || !merged.fractions.length || merged.fractions.some((f) => typeof f !== 'number' || !(f > 0 && f <= 1)))) throw new Error(`fractions must be numbers in (0, 1]${where}`);
  return merged;
}

export async function main(argv = process.argv): Promise<void> {
  // Subcommands for Flux-CLIP runs: `flux-eval retrieval …`, `flux-eval zero-shot …`.
  const sub = argv[2];
  if (sub === 'retrieval' || sub === 'zero-shot') return clipEvalMain(sub, [argv[0]!, argv[1]!, ...argv.slice(3)]);
  if (sub === 'probe') return probeMain([argv[0]!, argv[1]!, ...argv.slice(3)]);
  if (sub === 'predict') return predictMain([argv[0]!, argv[1]!, ...argv.slice(3)]);
  const cmd = buildEvalCommand();
  cmd.parse(argv);
  const o = cmd.opts<EvalCli>();
  const runs = cmd.args;
  let opts: Partial<EvalOptions>;
  try {
    opts = evalOptionsFromCli(o);
  } catch (err) {
    cmd.error(`error: ${(err as Error).message}`);
  }
  for (const r of runs) if (!fs.existsSync(path.join(r, 'config.json'))) cmd.error(`error: ${r} is not a flux-tune run directory (no config.json)`);
  if (o.names && o.names.length !== runs.length) cmd.error(`error: --names has ${o.names.length} names for ${runs.length} runs`);
  await initBackend({ backend: requestedBackend(o.backend), log: o.quiet ? false : undefined });
  const out = o.out ?? path.join('reports', `eval-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const log = o.quiet ? undefined : (l: string) => process.stderr.write(l + '\n');
  const evals: ModelEvaluation[] = [];
  const classes: number[] = [];
  for (let i = 0; i < runs.length; i++) {
    const run = loadRun(runs[i]!, o.names?.[i]);
    classes.push(run.model.config.numClasses);
    try {
      evals.push(await evaluateRun(run, { ...opts!, ...(log ? { log } : {}) }));
    } finally {
      run.model.dispose();
    }
  }
  const file = writeReport(out, {
    title: 'Flux evaluation',
    evals,
    // Chance level of the runs' task (drawn only when every run has the same number of classes).
    ...(new Set(classes).size === 1 ? { chance: 1 / classes[0]! } : {}),
    runs: runs.map((dir, i) => ({ name: evals[i]!.name, dir })),
  });
  // The resolved options next to the report, as a run keeps its config.
  fs.writeFileSync(path.join(out, 'eval-config.json'), JSON.stringify({ ...DEFAULT_EVAL_OPTIONS, ...opts!, runs, names: evals.map((e) => e.name) }, null, 2) + '\n');
  process.stdout.write(`report: ${file}\n`);
}

function invokedDirectly(): boolean {
  try {
    return Boolean(process.argv[1]) && /flux-eval(\.js)?$|evaluate[\\/]dist[\\/]cli\.js$/.test(fs.realpathSync(process.argv[1]!));
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main().catch((err: unknown) => {
    process.stderr.write(`flux-eval: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
