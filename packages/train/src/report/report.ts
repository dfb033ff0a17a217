/** Markdown report: tables (paper Table 1 layout), budgets with Token Optimization, plots, training curves. */
import fs from 'node:fs';
import path from 'node:path';

import { readMetrics } from '@flux/core';

import { bestAtBudget, type ModelEvaluation } from '../supervised/budgets.js';
import { svgHeatmap, svgLineChart, type LineSeries } from './plots.js';

const pct = (x: number) => (x * 100).toFixed(1);

/** Paper Table 1 layout: one row per (input grid, tokens), one column pair (top-1/top-5) per model. */
export function table1(evals: ModelEvaluation[]): string {
  const keys = new Map<string, { frames: number; size: number; k: number; gridTokens: number }>();
  for (const e of evals) for (const c of e.cells) keys.set(`${c.frames}x${c.size}@${c.k}`, c);
  const rows = [...keys.values()].sort((a, b) => b.k - a.k || b.gridTokens - a.gridTokens || b.frames - a.frames);
  const head = `| Input (F × R) | grid tokens | tokens kept | ${evals.map((e) => `${e.name} top-1 | ${e.name} top-5`).join(' | ')} |`;
  const sep = `|---|---:|---:|${evals.map(() => '---:|---:').join('|')}|`;
  const lines = rows.map((r) => {
    const vals = evals.map((e) => {
      const c = e.cells.find((x) => x.frames === r.frames && x.size === r.size && x.k === r.k);
      return c ? `${pct(c.top1)} | ${pct(c.top5)}` : '– | –';
    });
    return `| ${r.frames} × ${r.size} | ${r.gridTokens} | ${r.k} | ${vals.join(' | ')} |`;
  });
  return [head, sep, ...lines].join('\n');
}

/** Per-budget table: selector on the full grid, best reduced grid, TO plan (search and test). */
export function budgetTable(e: ModelEvaluation): string {
  const lines = [
    `| budget | % of full | full grid + selector | reduced grid (all tokens) | TO plan | TO search top-1 (train subset) | TO test top-1 | retention vs full |`,
    '|---:|---:|---:|---:|---|---:|---:|---:|',
  ];
  const full = e.budgets.find((b) => b.fraction === 1);
  const fullAcc = full ? bestAtBudget(full).top1 : NaN;
  for (const b of e.budgets) {
    const best = bestAtBudget(b);
    lines.push(
      `| ${b.budget} | ${(b.fraction * 100).toFixed(1)} | ${pct(b.grid.top1)} | ${b.reducedGrid ? `${pct(b.reducedGrid.top1)} (${b.reducedGrid.frames}×${b.reducedGrid.size})` : '–'} | ` +
        `${b.to ? `${b.to.plan.frames}×${b.to.plan.size}, K=${b.to.plan.k}` : '–'} | ${b.to ? pct(b.to.searchTop1) : '–'} | ${b.to ? pct(b.to.test.top1) : '–'} | ${Number.isFinite(fullAcc) && fullAcc > 0 ? `${((best.top1 / fullAcc) * 100).toFixed(1)}%` : '–'} |`,
    );
  }
  return lines.join('\n');
}

/** Accuracy vs token count for several models on one chart (best protocol per budget, and the plain grid dashed). */
export function accuracyChart(evals: ModelEvaluation[], chance?: number): string {
  const series: LineSeries[] = [];
  for (const e of evals) {
    series.push({ name: `${e.name} (best)`, points: e.budgets.map((b) => [b.budget, bestAtBudget(b).top1 * 100]) });
    series.push({ name: `${e.name} (grid+sel.)`, points: e.budgets.map((b) => [b.budget, b.grid.top1 * 100]), dashed: true });
  }
  const ticks = [...new Set(evals.flatMap((e) => e.budgets.map((b) => b.budget)))];
  return svgLineChart({
    title: 'Top-1 accuracy vs tokens',
    xLabel: 'tokens per clip (log scale)',
    yLabel: 'top-1 accuracy (%)',
    series,
    xLog2: true,
    xTicks: ticks,
    yRange: [0, 100],
    width: 720,
    ...(chance !== undefined ? { reference: { y: chance * 100, label: 'chance' } } : {}),
  });
}

export function heatmapChart(e: ModelEvaluation): string {
  return svgHeatmap({
    title: `${e.name}: top-1 (%) at K = ${e.heatmap.k}`,
    rows: e.heatmap.frames.map((f) => `F = ${f}`),
    cols: e.heatmap.sizes.map((s) => `R = ${s}`),
    rowLabel: 'frames',
    colLabel: 'input side (pixels)',
    values: e.heatmap.top1.map((r) => r.map((v) => (v === null ? null : v * 100))),
    range: [0, 100],
  });
}

/** Training curves (loss per step, smoothed) of several runs. */
export function lossChart(runs: { name: string; dir: string }[]): string | null {
  const series: LineSeries[] = [];
  for (const r of runs) {
    const file = path.join(r.dir, 'metrics.jsonl');
    if (!fs.existsSync(file)) continue;
    const recs = readMetrics(file).filter((m) => m.event === undefined && typeof m.loss === 'number');
    const ce = recs.map((m) => [m.step as number, Array.isArray(m.ce) ? (m.ce as number[])[0]! : (m.loss as number)] as [number, number]);
    const win = Math.max(1, Math.round(ce.length / 40));
    const smooth: [number, number][] = [];
    for (let i = win - 1; i < ce.length; i += win) {
      const chunk = ce.slice(i - win + 1, i + 1);
      smooth.push([ce[i]![0], chunk.reduce((s, [, y]) => s + y, 0) / chunk.length]);
    }
    series.push({ name: r.name, points: smooth });
  }
  if (!series.length) return null;
  const maxStep = Math.max(...series.flatMap((s) => s.points.map(([x]) => x)));
  const ticks = Array.from({ length: 5 }, (_, i) => Math.round((maxStep * (i + 1)) / 5));
  return svgLineChart({ title: 'Training loss (cross-entropy of the largest head)', xLabel: 'step', yLabel: 'loss', series, xTicks: ticks, width: 720 });
}

/**
 * Validation top-1 (full grid, all tokens) vs step of several runs, from the `event: "val"` lines of their
 * metrics.jsonl; null when no run validated during training (a single end point is no curve).
 */
export function valChart(runs: { name: string; dir: string }[], chance?: number): string | null {
  const series: LineSeries[] = [];
  for (const r of runs) {
    const file = path.join(r.dir, 'metrics.jsonl');
    if (!fs.existsSync(file)) continue;
    const pts = readMetrics(file)
      .filter((m) => m.event === 'val' && typeof m.top1 === 'number' && typeof m.step === 'number')
      .map((m) => [m.step as number, (m.top1 as number) * 100] as [number, number]);
    if (pts.length >= 2) series.push({ name: r.name, points: pts });
  }
  if (!series.length) return null;
  const maxStep = Math.max(...series.flatMap((s) => s.points.map(([x]) => x)));
  const ticks = Array.from({ length: 5 }, (_, i) => Math.round((maxStep * (i + 1)) / 5));
  return svgLineChart({
    title: 'Validation top-1 during training (full grid, all tokens)',
    xLabel: 'step',
    yLabel: 'val top-1 (%)',
    series,
    xTicks: ticks,
    yRange: [0, 100],
    width: 720,
    ...(chance !== undefined ? { reference: { y: chance * 100, label: 'chance' } } : {}),
  });
}

/** Writes `name` into `dir` and returns the relative link. */
export function writeAsset(dir: string, name: string, content: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), content);
  return name;
}

export interface ReportInput {
  title: string;
  intro?: string;
  evals: ModelEvaluation[];
  chance?: number;
  /** Extra Markdown sections (already rendered), inserted after the summary. */
  sections?: string[];
  runs?: { name: string; dir: string }[];
}

/** Writes report.md plus SVG plots into `outDir`; returns the report path. */
export function writeReport(outDir: string, input: ReportInput): string {
  fs.mkdirSync(outDir, { recursive: true });
  const parts: string[] = [`# ${input.title}`, ''];
  if (input.intro) parts.push(input.intro, '');
  for (const s of input.sections ?? []) parts.push(s, '');
  const broken = input.evals.flatMap((e) => e.cells.filter((c) => c.nonFinite > 0).map((c) => `${e.name} at ${c.frames} × ${c.size}, K = ${c.k}: ${c.nonFinite} of ${c.n} clips`));
  if (broken.length) parts.push('> **Warning: non-finite logits.** These evaluations produced NaN/Inf logits, counted as wrong (the model or its weights are broken):', ...broken.map((b) => `> - ${b}`), '');
  const acc = writeAsset(outDir, 'accuracy-vs-tokens.svg', accuracyChart(input.evals, input.chance));
  parts.push('## Accuracy vs token budget', '', `![accuracy vs tokens](${acc})`, '');
  parts.push('Solid: the best of the evaluated protocols at each budget (full grid + selector, a smaller grid with all its tokens, Token Optimization); dashed: the full grid with the selector keeping K tokens.', '');
  for (const e of input.evals) {
    parts.push(`### ${e.name} (${e.mode}, heads for ${e.headTokenCounts.join('/')} tokens)`, '', budgetTable(e), '');
  }
  parts.push('## Table 1 layout: input grid × tokens (test split)', '', table1(input.evals), '');
  parts.push('## Accuracy over F × R at a fixed token count', '');
  for (const e of input.evals) {
    const f = writeAsset(outDir, `heatmap-${e.name.replace(/[^\w.-]+/g, '_')}.svg`, heatmapChart(e));
    parts.push(`![${e.name} heatmap](${f})`, '');
  }
  const lc = input.runs ? lossChart(input.runs) : null;
  const vc = input.runs ? valChart(input.runs, input.chance) : null;
  if (lc || vc) {
    parts.push('## Training curves', '');
    if (lc) parts.push(`![training loss](${writeAsset(outDir, 'training-loss.svg', lc)})`, '');
    if (vc) parts.push(`![validation accuracy](${writeAsset(outDir, 'training-val-top1.svg', vc)})`, '');
    if (!vc) parts.push('(No validation curve: the runs validated only at the end — train with `--eval-every N` for one.)', '');
  }
  const trace = input.evals.flatMap((e) =>
    e.budgets
      .filter((b) => b.to)
      .map((b) => `- ${e.name}, K=${b.budget}: ${b.to!.trace.map((t) => `${t.plan.frames}×${t.plan.size} ${pct(t.score)}%`).join(' → ')} ⇒ **${b.to!.plan.frames}×${b.to!.plan.size}**`),
  );
  if (trace.length) parts.push('## Token Optimization search traces (top-1 on the train subset)', '', ...trace, '');
  const file = path.join(outDir, 'report.md');
  fs.writeFileSync(file, parts.join('\n'));
  fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(input.evals, null, 2) + '\n');
  return file;
}
