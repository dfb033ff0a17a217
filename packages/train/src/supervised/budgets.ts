/**
 * Evaluation of tuned checkpoints: accuracy over a table of input grids × token counts (paper Table 1
 * layout), accuracy per budget with Token Optimization, and an F × R heatmap at a fixed K.
 */
import fs from 'node:fs';
import path from 'node:path';

import { CHECKSUMS_FILE, verifyFolder } from '@flux/core';
import { searchTokenPlan, type TokenSearchStep } from '@flux/sampling';
import type { FluxViT } from '@flux/vit';

import { evaluateAccuracy } from '../accuracy.js';
import { checkpointWeightsFile } from '../engine.js';
import { openDataset, type ClipDataset } from '../data.js';
import { gridTokens, patchSizeOf, resolveTuneConfig, type TuneConfig } from './config.js';
import { createFluxModel, loadModelBytes } from './model.js';

export interface LoadedRun {
  name: string;
  dir: string;
  cfg: TuneConfig;
  model: FluxViT;
}

/** A Token Optimization plan: the grid (F, R), the tokens kept and the grid's tokens. */
export interface TokenPlan {
  frames: number;
  size: number;
  /** Tokens kept (≤ budget). */
  k: number;
  /** Tokens of the grid before selection. */
  gridTokens: number;
}

/** One evaluation of the Token Optimization search (`@flux/sampling`'s searchTokenPlan). */
export interface TokenPlanTrace {
  plan: TokenPlan;
  score: number;
  phase: TokenSearchStep['phase'];
  accepted: boolean;
}

function toPlan(p: { frames: number; resolution: number; tokens: number; budget: number }): TokenPlan {
  return { frames: p.frames, size: p.resolution, k: Math.min(p.budget, p.tokens), gridTokens: p.tokens };
}

/**
 * Token Optimization at budget K (`@flux/sampling`'s searchTokenPlan): each candidate grid F×R is scored by top-1
 * on clips `indices` of `dataset` with the selector keeping min(K, grid tokens).
 */
export async function searchPlanForBudget(
  model: FluxViT,
  dataset: ClipDataset,
  budget: number,
  space: { frames: number[]; sizes: number[]; patch: number },
  indices: readonly number[],
  batchSize: number,
): Promise<{ best: TokenPlan; score: number; trace: TokenPlanTrace[] }> {
  const search = await searchTokenPlan(budget, { frames: space.frames, resolution: space.sizes, patch: space.patch }, async (p) => {
    const plan = toPlan(p);
    const a = await evaluateAccuracy(model, dataset, { frames: plan.frames, size: plan.size, ...(plan.k < plan.gridTokens ? { k: plan.k } : {}), indices, batchSize });
    return a.top1;
  });
  return { best: toPlan(search.best), score: search.best.score, trace: search.trace.map((t) => ({ plan: toPlan(t), score: t.score, phase: t.phase, accepted: t.accepted })) };
}

/** Loads a flux-tune run directory (config.json + model.safetensors, or its latest checkpoint). */
export function loadRun(dir: string, name?: string): LoadedRun {
  const cfgFile = path.join(dir, 'config.json');
  if (!fs.existsSync(cfgFile)) throw new Error(`${dir} is not a flux-tune run directory (no config.json)`);
  let stored: Partial<TuneConfig>;
  try {
    stored = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Partial<TuneConfig>;
  } catch (err) {
    throw new Error(`${cfgFile}: not a readable run config (${(err as Error).message})`);
  }
  const cfg = resolveTuneConfig(stored);
  // The final weights if they are intact (checksums.json at the run's root), else the newest intact checkpoint.
  let weights = path.join(dir, 'model.safetensors');
  const rootCheck = fs.existsSync(path.join(dir, CHECKSUMS_FILE)) ? verifyFolder(dir) : { ok: fs.existsSync(weights), problem: `${weights} is missing` };
  if (!rootCheck.ok) {
    const fallback = checkpointWeightsFile(dir);
    if (fs.existsSync(weights)) process.stderr.write(`flux: warning: ${rootCheck.problem}; using ${fallback} instead\n`);
    weights = fallback;
  }
  const numClasses = openDataset('val', cfg).numClasses;
  const model = createFluxModel(cfg, numClasses);
  loadModelBytes(model, fs.readFileSync(weights), weights);
  return { name: name ?? path.basename(path.resolve(dir)), dir, cfg, model };
}

export interface EvalCell {
  frames: number;
  size: number;
  /** Tokens of the grid. */
  gridTokens: number;
  /** Tokens kept by the selector. */
  k: number;
  top1: number;
  top5: number;
  n: number;
  /** Clips whose logits held a NaN or ±Inf (counted as wrong). */
  nonFinite: number;
}

export interface BudgetResult {
  budget: number;
  /** Fraction of the full-grid token count. */
  fraction: number;
  /** The training/full grid with the selector keeping `budget` tokens. */
  grid: EvalCell;
  /** The best smaller grid using all its tokens (≤ budget), if any was evaluated. */
  reducedGrid: EvalCell | null;
  /** Token Optimization: the plan found on the train subset and its test accuracy. */
  to: { plan: TokenPlan; searchTop1: number; test: EvalCell; trace: TokenPlanTrace[] } | null;
}

export interface ModelEvaluation {
  name: string;
  dir: string;
  mode: string;
  headTokenCounts: number[];
  fullTokens: number;
  cells: EvalCell[];
  budgets: BudgetResult[];
  heatmap: { k: number; frames: number[]; sizes: number[]; top1: (number | null)[][] };
  seconds: number;
}

export interface EvalOptions {
  /** Test clips (Moving-MNIST test split: digits never seen in training). */
  testClips: number;
  /** Train-subset clips used by the Token Optimization search. */
  searchClips: number;
  /** Budgets as fractions of the full grid's tokens (default 1, 1/2, 1/4, 1/8). */
  fractions: number[];
  /** Frame counts and sides of the table, the heatmap and the TO search. */
  frames: number[];
  sizes: number[];
  /** Fraction whose K the heatmap uses (default 0.25). */
  heatmapFraction: number;
  /** Run Token Optimization (default true). */
  tokenOptimization: boolean;
  batchSize: number;
  /** Test manifest overriding the run's own test split (runs trained on a manifest only). */
  testData?: string;
  log?: (line: string) => void;
}

export const DEFAULT_EVAL_OPTIONS: EvalOptions = {
  testClips: 512,
  searchClips: 256,
  fractions: [1, 0.5, 0.25, 0.125],
  frames: [4, 8, 12, 16],
  sizes: [32, 48, 64],
  heatmapFraction: 0.25,
  tokenOptimization: true,
  batchSize: 64,
};

/** Evaluates one loaded run. Test and search data come from the run's own config (test and train splits). */
export async function evaluateRun(run: LoadedRun, options: Partial<EvalOptions> = {}): Promise<ModelEvaluation> {
  const o: EvalOptions = { ...DEFAULT_EVAL_OPTIONS, ...options };
  const t0 = performance.now();
  const { cfg, model } = run;
  const patch = patchSizeOf(cfg);
  if (o.testData && cfg.data === 'moving-mnist') throw new Error(`--test-data ${o.testData}: ${run.name} was trained on the embedded Moving-MNIST, which has its own test split`);
  const test: ClipDataset = openDataset('test', o.testData ? { ...cfg, testData: o.testData } : cfg, { testClips: o.testClips });
  const train: ClipDataset = openDataset('train', cfg);
  const fullTokens = gridTokens(cfg.frames, cfg.size, patch);
  const sizes = o.sizes.filter((s) => s % patch === 0 && s <= cfg.clipSize);
  const cells = new Map<string, EvalCell>();
  const cellAt = async (frames: number, size: number, k: number): Promise<EvalCell> => {
    const g = gridTokens(frames, size, patch);
    const kk = Math.min(k, g);
    const key = `${frames}x${size}@${kk}`;
    let c = cells.get(key);
    if (!c) {
      const a = await evaluateAccuracy(model, test, { frames, size, ...(kk < g ? { k: kk } : {}), clips: o.testClips, batchSize: o.batchSize });
      c = { frames, size, gridTokens: g, k: kk, top1: a.top1, top5: a.top5, n: a.n, nonFinite: a.nonFinite };
      if (a.nonFinite) o.log?.(`  ${run.name}: ${frames}×${size} K=${kk}: ${a.nonFinite} of ${a.n} clips gave non-finite logits (counted as wrong)`);
      cells.set(key, c);
      o.log?.(`  ${run.name}: ${frames}×${size} K=${kk}: top-1 ${(a.top1 * 100).toFixed(1)}%`);
    }
    return c;
  };
  // Search subset: the first clips of a seeded permutation of the train split (never the test split).
  const searchIdx = Array.from({ length: Math.min(o.searchClips, train.count) }, (_, i) => Math.floor((i * train.count) / Math.min(o.searchClips, train.count)));

  const budgets: BudgetResult[] = [];
  for (const fraction of o.fractions) {
    const budget = Math.max(1, Math.round(fullTokens * fraction));
    const grid = await cellAt(cfg.frames, cfg.size, budget);
    // Reduced grids using all their tokens: the largest grid of the table with ≤ budget tokens (ties → more frames).
    let reducedGrid: EvalCell | null = null;
    if (fraction < 1) {
      const fits = o.frames.flatMap((f) => sizes.map((s) => ({ f, s, g: gridTokens(f, s, patch) }))).filter((x) => x.g <= budget);
      fits.sort((a, b) => b.g - a.g || b.f - a.f);
      const pick: EvalCell[] = [];
      for (const x of fits.slice(0, 2)) pick.push(await cellAt(x.f, x.s, x.g));
      reducedGrid = pick.sort((a, b) => b.top1 - a.top1)[0] ?? null;
    }
    let to: BudgetResult['to'] = null;
    if (o.tokenOptimization) {
      const search = await searchPlanForBudget(model, train, budget, { frames: o.frames, sizes, patch }, searchIdx, o.batchSize);
      const best = search.best;
      const testCell = await cellAt(best.frames, best.size, best.k);
      to = { plan: best, searchTop1: search.score, test: testCell, trace: search.trace };
      o.log?.(`  ${run.name}: TO K=${budget} → ${best.frames}×${best.size} (search ${(search.score * 100).toFixed(1)}%, test ${(testCell.top1 * 100).toFixed(1)}%)`);
    }
    budgets.push({ budget, fraction, grid, reducedGrid, to });
  }

  const hk = Math.max(1, Math.round(fullTokens * o.heatmapFraction));
  const heat: (number | null)[][] = [];
  for (const f of o.frames) {
    const row: (number | null)[] = [];
    for (const s of sizes) row.push(gridTokens(f, s, patch) >= hk ? (await cellAt(f, s, hk)).top1 : null);
    heat.push(row);
  }
  return {
    name: run.name,
    dir: run.dir,
    mode: cfg.mode,
    headTokenCounts: [...model.config.headTokenCounts],
    fullTokens,
    cells: [...cells.values()].sort((a, b) => b.k - a.k || b.gridTokens - a.gridTokens || b.frames - a.frames),
    budgets,
    heatmap: { k: hk, frames: o.frames, sizes, top1: heat },
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Best accuracy a model reaches at a budget over the protocols evaluated (full grid + selector, reduced grid, TO). */
export function bestAtBudget(b: BudgetResult): { top1: number; how: string } {
  const opts: { top1: number; how: string }[] = [{ top1: b.grid.top1, how: `${b.grid.frames}×${b.grid.size} + selector` }];
  if (b.reducedGrid) opts.push({ top1: b.reducedGrid.top1, how: `${b.reducedGrid.frames}×${b.reducedGrid.size}, all tokens` });
  if (b.to) opts.push({ top1: b.to.test.top1, how: `TO ${b.to.plan.frames}×${b.to.plan.size}` });
  return opts.sort((a, c) => c.top1 - a.top1)[0]!;
}
