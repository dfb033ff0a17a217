#!/usr/bin/env node
/**
 * flux-main — the embedded end-to-end job, no arguments needed:
 *
 * 1. learning-rate sweep per arm on the validation split (short runs, first seed),
 * 2. tune the fixed-grid baseline and Flux-Multi with the same model, steps, batch and schedule, each with
 *    several seeds (data order, init, sampling; the clips themselves are the same for every seed),
 * 3. check both arms trained (test accuracy at full tokens far above chance),
 * 4. evaluate every run across token budgets (incl. Token Optimization) and write report.md: mean ± std over
 *    seeds for every figure, and a difference called a win only beyond twice its standard error
 *    (`comparePaired` from @flux/train).
 *
 * Sized to finish in ≤ 20 minutes on 2 CPU cores on the native backend; if the machine is slower than planned,
 * the final runs' step count is reduced for both arms alike so the job stays within `--time-budget`.
 */
import fs from 'node:fs';
import path from 'node:path';

import { Command } from 'commander';
import { initBackend, readMetrics, requestedBackend } from '@flux/core';
import {
  bestAtBudget,
  comparePaired,
  createFluxModel,
  evaluateRun,
  fmtComparison,
  fmtPct,
  loadRun,
  meanStd,
  openDataset,
  parseInteger,
  parseIntList,
  parseNumber,
  parseNumberList,
  resolveTuneConfig,
  svgLineChart,
  tune,
  writeAsset,
  writeReport,
  type BudgetResult,
  type EvalOptions,
  type LineSeries,
  type ModelEvaluation,
  type TuneConfig,
} from '@flux/train';

export interface MainJobOptions {
  out: string;
  /** Settings shared by both arms (model, data, batch, schedule shape). */
  base: Partial<TuneConfig>;
  /** Flux-Multi token counts (largest first). */
  fluxTokenCounts: number[];
  /** Optimizer steps of each final run. */
  steps: number;
  /** Seeds of the final runs (each arm trains once per seed). */
  seeds: number[];
  /** Steps of each sweep run (0: no sweep, use lrs[0]). */
  sweepSteps: number;
  /** Learning rates tried per arm. */
  lrs: number[];
  /** Validation clips used to pick the lr. */
  sweepValClips: number;
  /** Wall-clock budget of the whole job in minutes (final steps shrink, for both arms alike, to fit). */
  timeBudgetMinutes: number;
  /** Evaluation settings. */
  eval: Partial<EvalOptions>;
  /** Validate the final runs every N steps (the report's validation curves; 0: only at the end). */
  evalEvery: number;
  /** Minimum full-token test top-1 for an arm to count as trained. */
  trainedThreshold: number;
  /** The range the baseline's full-token test top-1 should land in for the benchmark to discriminate. */
  baselineTarget: [number, number];
  backend: string;
  quiet: boolean;
}

export const DEFAULT_MAIN_JOB: MainJobOptions = {
  out: 'flux-main',
  base: { steps: 600, batchSize: 16, warmupSteps: 30, evalClips: 256, task: 'distract' },
  fluxTokenCounts: [64, 40, 24],
  steps: 600,
  seeds: [0, 1, 2],
  sweepSteps: 150,
  lrs: [1e-3, 3e-3],
  sweepValClips: 256,
  timeBudgetMinutes: 20,
  eval: { testClips: 512, searchClips: 256 },
  evalEvery: 100,
  trainedThreshold: 0.5,
  baselineTarget: [0.75, 0.9],
  backend: 'auto',
  quiet: false,
};

type Arm = 'baseline' | 'flux-multi';

interface SeedRun {
  seed: number;
  dir: string;
  seconds: number;
  msPerStep: number;
  finalLoss: number;
}

interface ArmResult {
  arm: Arm;
  cfg: TuneConfig;
  sweep: { lr: number; valTop1: number; finalLoss: number; seconds: number; msPerStep: number }[];
  lr: number;
  runs: SeedRun[];
}

function armConfig(o: MainJobOptions, arm: Arm, lr: number, steps: number, seed: number): TuneConfig {
  const warm = Math.max(1, Math.round(((o.base.warmupSteps ?? 20) * steps) / (o.base.steps ?? o.steps)));
  return resolveTuneConfig(o.base, {
    mode: arm === 'baseline' ? 'fixed' : 'multi',
    ...(arm === 'flux-multi' ? { tokenCounts: o.fluxTokenCounts } : {}),
    lr,
    steps,
    seed,
    warmupSteps: Math.min(warm, steps),
    checkpointEvery: Math.max(1, Math.min(100, steps)),
  });
}

function msPerStep(dir: string): number {
  const recs = readMetrics(path.join(dir, 'metrics.jsonl')).filter((r) => typeof r.ms === 'number');
  const tail = recs.slice(Math.min(2, recs.length - 1));
  return tail.reduce((s, r) => s + (r.ms as number), 0) / Math.max(1, tail.length);
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export interface MainJobCheck {
  name: string;
  target: string;
  measured: string;
  pass: boolean;
}

export interface MainJobResult {
  report: string;
  seconds: number;
  arms: ArmResult[];
  /** Evaluations per arm, one per seed (seed order). */
  evals: Record<Arm, ModelEvaluation[]>;
  checks: MainJobCheck[];
}

/** Per-seed top-1 of one protocol at one budget fraction (NaN where the protocol did not run). */
function perSeed(evals: ModelEvaluation[], fraction: number, pick: (b: BudgetResult) => number | null): number[] {
  return evals.map((e) => {
    const b = e.budgets.find((x) => Math.abs(x.fraction - fraction) < 1e-9);
    const v = b ? pick(b) : null;
    return v ?? Number.NaN;
  });
}

const PROTOCOLS: { name: string; pick: (b: BudgetResult) => number | null }[] = [
  { name: 'full grid + selector', pick: (b) => b.grid.top1 },
  { name: 'reduced grid, all its tokens', pick: (b) => b.reducedGrid?.top1 ?? null },
  { name: 'Token Optimization plan', pick: (b) => b.to?.test.top1 ?? null },
  { name: 'best of these', pick: (b) => bestAtBudget(b).top1 },
];

/** Flux-Multi's own protocol at a budget: its Token Optimization plan when searched, else the grid + selector. */
const fluxPick = (b: BudgetResult) => (b.to ? b.to.test.top1 : b.grid.top1);

export async function runMainJob(options: Partial<MainJobOptions> = {}): Promise<MainJobResult> {
  const o: MainJobOptions = { ...DEFAULT_MAIN_JOB, ...options, base: { ...DEFAULT_MAIN_JOB.base, ...(options.base ?? {}) }, eval: { ...DEFAULT_MAIN_JOB.eval, ...(options.eval ?? {}) } };
  if (!o.seeds.length || new Set(o.seeds).size !== o.seeds.length) throw new Error(`seeds must be distinct, at least one (got ${JSON.stringify(o.seeds)})`);
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const log = (l: string) => {
    if (!o.quiet) process.stderr.write(`[flux-main ${Math.round(elapsed())}s] ${l}\n`);
  };
  fs.mkdirSync(o.out, { recursive: true });
  const backend = await initBackend({ backend: o.backend, log: o.quiet ? false : (l) => log(l) });
  const arms: Arm[] = ['baseline', 'flux-multi'];
  const seed0 = o.seeds[0]!;

  // 1. Learning-rate sweep on the validation split (first seed).
  const sweeps = new Map<Arm, ArmResult['sweep']>();
  for (const arm of arms) {
    const rows: ArmResult['sweep'] = [];
    if (o.sweepSteps > 0 && o.lrs.length > 1) {
      for (const lr of o.lrs) {
        const cfg = armConfig(o, arm, lr, o.sweepSteps, seed0);
        const dir = path.join(o.out, 'sweep', `${arm}-lr${lr}`);
        log(`sweep ${arm} lr ${lr}: ${o.sweepSteps} steps`);
        const r = await tune({ ...cfg, evalClips: o.sweepValClips, valClips: Math.max(cfg.valClips, o.sweepValClips) }, { out: dir, overwrite: true, createModel: createFluxModel, quiet: o.quiet });
        r.model.dispose();
        const valTop1 = r.val.reduce((s, v) => s + v.top1, 0) / r.val.length;
        rows.push({ lr, valTop1, finalLoss: r.finalLoss, seconds: r.seconds, msPerStep: msPerStep(dir) });
        log(`  val top-1 ${pct(valTop1)} (${r.val.map((v) => `${v.k ?? 'all'}: ${pct(v.top1)}`).join(', ')}), ${r.seconds.toFixed(0)} s`);
      }
    }
    sweeps.set(arm, rows);
  }

  // 2. Final runs: the same steps for both arms and every seed, shrunk alike if the machine is slower than planned.
  let steps = o.steps;
  const perStep = arms.map((a) => {
    const rows = sweeps.get(a)!;
    return rows.length ? rows.reduce((s, r) => s + r.msPerStep, 0) / rows.length : NaN;
  });
  if (perStep.every(Number.isFinite)) {
    const evalReserve = 0.2 * o.timeBudgetMinutes * 60;
    const left = o.timeBudgetMinutes * 60 - elapsed() - evalReserve;
    const fit = Math.floor((left * 1000) / ((perStep[0]! + perStep[1]!) * o.seeds.length + 1e-9) / 1.1);
    if (fit < steps) {
      log(`time budget: ${left.toFixed(0)} s left for training at ${perStep.map((m) => m.toFixed(0)).join(' + ')} ms/step × ${o.seeds.length} seeds → ${fit} steps per run instead of ${steps}`);
      // Never below 3/4 of the plan: an arm that cannot train is worse than a late report.
      steps = Math.max(o.sweepSteps, Math.ceil(0.75 * o.steps), fit);
    }
  }
  const results: ArmResult[] = [];
  for (const arm of arms) {
    const rows = sweeps.get(arm)!;
    // Highest validation top-1; within 1 point (e.g. all still at chance), the lower final training loss.
    const best = rows.length ? rows.slice().sort((a, b) => (Math.abs(b.valTop1 - a.valTop1) > 0.01 ? b.valTop1 - a.valTop1 : a.finalLoss - b.finalLoss))[0]!.lr : o.lrs[0]!;
    results.push({ arm, cfg: armConfig(o, arm, best, steps, seed0), sweep: rows, lr: best, runs: [] });
  }
  for (const seed of o.seeds) {
    for (const a of results) {
      const cfg = resolveTuneConfig(armConfig(o, a.arm, a.lr, steps, seed), { evalEvery: o.evalEvery });
      const dir = path.join(o.out, 'runs', a.arm, `seed-${seed}`);
      log(`train ${a.arm} seed ${seed}: lr ${a.lr}, ${steps} steps`);
      const r = await tune(cfg, { out: dir, overwrite: true, createModel: createFluxModel, quiet: o.quiet });
      r.model.dispose();
      log(`  ${a.arm} seed ${seed}: final loss ${r.finalLoss.toFixed(3)}, val ${r.val.map((v) => `${v.k ?? 'all'}: ${pct(v.top1)}`).join(', ')}, ${r.seconds.toFixed(0)} s`);
      a.runs.push({ seed, dir, seconds: r.seconds, msPerStep: msPerStep(dir), finalLoss: r.finalLoss });
    }
  }

  // 3 + 4. Evaluate every run.
  const evals: Record<Arm, ModelEvaluation[]> = { baseline: [], 'flux-multi': [] };
  for (const a of results) {
    for (const run of a.runs) {
      log(`evaluate ${a.arm} seed ${run.seed}`);
      const loaded = loadRun(run.dir, `${a.arm}-s${run.seed}`);
      try {
        evals[a.arm].push(await evaluateRun(loaded, { ...o.eval, log: (l) => log(l) }));
      } finally {
        loaded.model.dispose();
      }
    }
  }
  const base = evals.baseline;
  const flux = evals['flux-multi'];
  const fractions = base[0]!.budgets.map((b) => b.fraction);
  const chance = 1 / openDataset('val', results[0]!.cfg).numClasses;
  const nSeeds = o.seeds.length;
  const checks: MainJobCheck[] = [];
  const fullBest = (es: ModelEvaluation[]) => meanStd(perSeed(es, 1, (b) => bestAtBudget(b).top1));
  for (const [arm, es] of [['baseline', base], ['flux-multi', flux]] as const) {
    const m = fullBest(es);
    checks.push({ name: `${arm} trained`, target: `full-token test top-1 ≥ ${pct(o.trainedThreshold)} (chance ${pct(chance)})`, measured: `${fmtPct(m)} %`, pass: m.mean >= o.trainedThreshold });
  }
  const bothTrained = checks.every((c) => c.pass);
  const bm = fullBest(base);
  checks.push({
    name: 'the benchmark discriminates',
    target: `baseline full-token top-1 in ${pct(o.baselineTarget[0])}–${pct(o.baselineTarget[1])} (not saturated)`,
    measured: `${fmtPct(bm)} %`,
    pass: bm.mean >= o.baselineTarget[0] && bm.mean <= o.baselineTarget[1],
  });
  const fm = fullBest(flux);
  for (const [f, need] of [
    [0.25, 0.95],
    [0.125, 0.9],
  ] as const) {
    if (!fractions.some((x) => Math.abs(x - f) < 1e-9)) continue;
    const acc = meanStd(perSeed(flux, f, fluxPick));
    const ret = acc.mean / fm.mean;
    checks.push({ name: `Flux-Multi retention at ${f * 100}% tokens`, target: `≥ ${need * 100}% of its full-token accuracy`, measured: `${fmtPct(acc)} / ${fmtPct(fm)} = ${(ret * 100).toFixed(1)}%`, pass: fm.mean > 0 && ret >= need });
  }
  const comparisons: { name: string; c: ReturnType<typeof comparePaired> }[] = [];
  for (const f of [0.25, 0.125]) {
    if (!fractions.some((x) => Math.abs(x - f) < 1e-9)) continue;
    const c = comparePaired(perSeed(flux, f, fluxPick), perSeed(base, f, (b) => bestAtBudget(b).top1));
    comparisons.push({ name: `Flux-Multi − baseline at ${f * 100}% tokens`, c });
    checks.push({
      name: `Flux-Multi vs baseline at ${f * 100}% tokens`,
      target: 'a win: Flux-Multi (its TO plan) − the baseline (its best protocol) > 2 SE',
      measured: fmtComparison(c) + (bothTrained ? '' : ' — not a valid comparison: an arm did not train'),
      pass: bothTrained && c.verdict === 'win',
    });
    const to = comparePaired(perSeed(flux, f, (b) => b.to?.test.top1 ?? null), perSeed(flux, f, (b) => b.grid.top1));
    if (to.n > 0 && Number.isFinite(to.mean)) {
      comparisons.push({ name: `Token Optimization − plain grid (Flux-Multi) at ${f * 100}%`, c: to });
      checks.push({ name: `Token Optimization at ${f * 100}% tokens (Flux-Multi)`, target: 'TO plan not worse than the plain grid + selector (no significant loss)', measured: fmtComparison(to), pass: to.verdict !== 'loss' });
    }
  }

  // Accuracy vs tokens, mean ± std over seeds.
  const series: LineSeries[] = [];
  for (const [arm, es] of [['baseline', base], ['flux-multi', flux]] as const) {
    const pick = arm === 'baseline' ? (b: BudgetResult) => bestAtBudget(b).top1 : fluxPick;
    const stats = base[0]!.budgets.map((b) => ({ budget: b.budget, m: meanStd(perSeed(es, b.fraction, pick)) }));
    series.push({ name: `${arm} (${arm === 'baseline' ? 'best protocol' : 'TO plan'})`, points: stats.map((s) => [s.budget, s.m.mean * 100]), errors: stats.map((s) => s.m.std * 100) });
    const grid = base[0]!.budgets.map((b) => ({ budget: b.budget, m: meanStd(perSeed(es, b.fraction, (x) => x.grid.top1)) }));
    series.push({ name: `${arm} (grid + sel.)`, points: grid.map((s) => [s.budget, s.m.mean * 100]), errors: grid.map((s) => s.m.std * 100), dashed: true });
  }
  const seedChart = writeAsset(
    o.out,
    'accuracy-vs-tokens-seeds.svg',
    svgLineChart({ title: `Top-1 vs tokens, mean ± std over ${nSeeds} seed${nSeeds > 1 ? 's' : ''}`, xLabel: 'tokens per clip (log scale)', yLabel: 'top-1 accuracy (%)', series, xLog2: true, xTicks: base[0]!.budgets.map((b) => b.budget), yRange: [0, 100], width: 760, reference: { y: chance * 100, label: 'chance' } }),
  );

  const seconds = elapsed();
  const budgetHead = `| arm | protocol | ${base[0]!.budgets.map((b) => `${b.budget} tokens (${(b.fraction * 100).toFixed(1)} %)`).join(' | ')} |`;
  const budgetRows = (['baseline', 'flux-multi'] as const).flatMap((arm) =>
    PROTOCOLS.map((p) => `| ${arm} | ${p.name} | ${fractions.map((f) => fmtPct(meanStd(perSeed(evals[arm], f, p.pick).filter(Number.isFinite)))).join(' | ')} |`),
  );
  const cfg0 = results[0]!.cfg;
  const summary = [
    '## Summary',
    '',
    `Embedded Moving-MNIST, task \`${cfg0.task}\` (${openDataset('val', cfg0).numClasses} classes; train / val / test use disjoint MNIST digits; the same clips for every seed). ${backend.summary ?? backend.kind}.`,
    `Both arms: the same model (${JSON.stringify(cfg0.modelOverrides)}), ${steps} steps of batch ${cfg0.batchSize}, cosine schedule with ${cfg0.warmupSteps} warmup steps, AdamW (wd ${cfg0.weightDecay}), label smoothing ${cfg0.labelSmoothing}; seeds ${o.seeds.join(', ')} (data order, init, sampling). ` +
      `Baseline: fixed grid ${cfg0.frames} × ${cfg0.size} (all ${base[0]!.fullTokens} tokens). Flux-Multi: flexi-sampling F ∈ ${results[1]!.cfg.flexiFrames.join(':')}, R ∈ ${results[1]!.cfg.flexiSizes.join(':')}, token threshold ${results[1]!.cfg.tokenThreshold.join('–')}, group-dynamic selector, heads for K = ${o.fluxTokenCounts.join('/')}.`,
    '',
    `Every figure is the mean ± standard deviation over the ${nSeeds} seeds; a difference is called a **win** (or a loss) only when it exceeds twice its standard error (paired by seed), otherwise "no significant difference".`,
    '',
    '| check | target | measured | |',
    '|---|---|---|---|',
    ...checks.map((c) => `| ${c.name} | ${c.target} | ${c.measured} | ${c.pass ? '✅' : '❌'} |`),
    '',
    `Both arms trained: ${bothTrained ? '**yes**.' : '**NO** — at least one arm did not take off; its numbers are not a fair comparison.'}`,
    '',
    `### Test top-1 (%) per budget, mean ± std over ${nSeeds} seeds`,
    '',
    budgetHead,
    `|---|---|${fractions.map(() => '---:').join('|')}|`,
    ...budgetRows,
    '',
    `![accuracy vs tokens over seeds](${seedChart})`,
    '',
    '### Comparisons (paired by seed)',
    '',
    '| comparison | difference ± SE | verdict |',
    '|---|---:|---|',
    ...comparisons.map(({ name, c }) => `| ${name} | ${c.mean >= 0 ? '+' : '−'}${Math.abs(c.mean * 100).toFixed(1)} ± ${(c.se * 100).toFixed(1)} | ${c.verdict} |`),
    '',
    '### Learning rate per arm (chosen on the validation split, first seed)',
    '',
    '| arm | lr tried | val top-1 (mean over its validation points) | final train loss | chosen | sweep ms/step | final ms/step | final runs |',
    '|---|---|---|---|---|---:|---:|---:|',
    ...results.map(
      (a) =>
        `| ${a.arm} | ${a.sweep.map((s) => s.lr).join(', ') || a.lr} | ${a.sweep.map((s) => pct(s.valTop1)).join(', ') || '–'} | ${a.sweep.map((s) => s.finalLoss.toFixed(3)).join(', ') || '–'} | ${a.lr} | ${a.sweep.length ? (a.sweep.reduce((s, r) => s + r.msPerStep, 0) / a.sweep.length).toFixed(0) : '–'} | ${(a.runs.reduce((s, r) => s + r.msPerStep, 0) / a.runs.length).toFixed(0)} | ${a.runs.map((r) => `${r.seconds.toFixed(0)} s`).join(', ')} |`,
    ),
    '',
    `Wall time of the whole job: **${(seconds / 60).toFixed(1)} min** (budget ${o.timeBudgetMinutes} min). The per-run tables below are those of seed ${seed0}.`,
  ].join('\n');
  const report = writeReport(o.out, {
    title: 'Flux main job: fixed-grid baseline vs Flux-Multi across token budgets',
    evals: [base[0]!, flux[0]!],
    chance,
    sections: [summary],
    runs: results.flatMap((a) => a.runs.map((r) => ({ name: `${a.arm} s${r.seed}`, dir: r.dir }))),
  });
  fs.writeFileSync(
    path.join(o.out, 'summary.json'),
    JSON.stringify({ seconds, steps, seeds: o.seeds, checks, comparisons, arms: results.map(({ cfg, ...a }) => ({ ...a, mode: cfg.mode, task: cfg.task })) }, null, 2) + '\n',
  );
  log(`report: ${report} (${(seconds / 60).toFixed(1)} min)`);
  for (const c of checks) log(`${c.pass ? 'PASS' : 'MISS'} ${c.name}: ${c.measured} (target ${c.target})`);
  return { report, seconds, arms: results, evals, checks };
}

export function buildMainCommand(): Command {
  const D = DEFAULT_MAIN_JOB;
  return new Command('flux-main')
    .description(
      'The embedded end-to-end Flux job (no arguments needed, no downloads): sweep the learning rate of a\n' +
        'fixed-grid baseline and of Flux-Multi on the validation split, tune both with the same model, steps,\n' +
        `batch and schedule with ${D.seeds.length} seeds each, check both trained, evaluate every run across token budgets (with\n` +
        'Token Optimization), and write report.md with mean ± std over seeds, significance (a win only beyond\n' +
        `2 standard errors) and SVG plots into --out. Sized for ≤ ${D.timeBudgetMinutes} minutes on 2 CPU cores (native backend).`,
    )
    .option('-o, --out <dir>', `output directory (default ${D.out})`)
    .option('--steps <n>', `steps of each final run (default ${D.steps})`, parseInteger(1, 1e9))
    .option('--seeds <s,...>', `seeds of the final runs, one run per arm and seed (default ${D.seeds.join(',')})`, parseIntList)
    .option('--task <name>', `the embedded data's task (@flux/video MOVING_MNIST_TASKS): distract (default), directions, distract-speed, pair, pair-plain`)
    .option('--sweep-steps <n>', `steps of each lr-sweep run; 0 disables the sweep (default ${D.sweepSteps})`, parseInteger(0))
    .option('--lrs <lr,...>', `learning rates tried per arm (default ${D.lrs.join(',')})`, parseNumberList)
    .option('--time-budget <minutes>', `shrink the final runs (both alike) to finish within this (default ${D.timeBudgetMinutes})`, parseNumber(1))
    .option('--test-clips <n>', `test clips of the evaluation (default ${D.eval.testClips})`, parseInteger(1))
    .option('--backend <name>', 'auto | tensorflow-gpu | tensorflow | wasm | cpu (env FLUX_BACKEND)')
    .option('-q, --quiet', 'no progress output');
}

export async function main(argv = process.argv): Promise<void> {
  const cmd = buildMainCommand();
  cmd.parse(argv);
  const o = cmd.opts<{ out?: string; steps?: number; seeds?: number[]; task?: string; sweepSteps?: number; lrs?: number[]; timeBudget?: number; testClips?: number; backend?: string; quiet?: boolean }>();
  const r = await runMainJob({
    ...(o.out ? { out: o.out } : {}),
    base: { ...DEFAULT_MAIN_JOB.base, ...(o.steps ? { steps: o.steps } : {}), ...(o.task ? { task: o.task } : {}) },
    ...(o.steps ? { steps: o.steps } : {}),
    ...(o.seeds ? { seeds: o.seeds } : {}),
    ...(o.sweepSteps !== undefined ? { sweepSteps: o.sweepSteps } : {}),
    ...(o.lrs ? { lrs: o.lrs } : {}),
    ...(o.timeBudget ? { timeBudgetMinutes: o.timeBudget } : {}),
    ...(o.testClips ? { eval: { ...DEFAULT_MAIN_JOB.eval, testClips: o.testClips } } : {}),
    backend: requestedBackend(o.backend),
    ...(o.quiet ? { quiet: true } : {}),
  });
  process.stdout.write(`${r.report}\n${r.checks.map((c) => `${c.pass ? 'PASS' : 'MISS'} ${c.name}: ${c.measured}`).join('\n')}\nwall time ${(r.seconds / 60).toFixed(1)} min\n`);
}

function invokedDirectly(): boolean {
  try {
    return Boolean(process.argv[1]) && /flux-main(\.js)?$|evaluate[\\/]dist[\\/]main-job\.js$/.test(fs.realpathSync(process.argv[1]!));
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main().catch((err: unknown) => {
    process.stderr.write(`flux-main: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
