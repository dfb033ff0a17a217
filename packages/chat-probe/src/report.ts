/** Markdown + SVG report of chat-probe evaluations (`flux-eval probe`). */
import fs from 'node:fs';
import path from 'node:path';

import { svgLineChart, writeAsset, type LineSeries } from '@flux/train';

import type { ProbeBudgetResult } from './evaluate.js';

export interface ProbeRunResult {
  encoder: string;
  lm: string;
  fullTokens: number;
  budgets: ProbeBudgetResult[];
}

const pct = (x: number) => (x * 100).toFixed(1);

export function writeProbeReport(outDir: string, runs: ProbeRunResult[], notes: string[] = []): string {
  fs.mkdirSync(outDir, { recursive: true });
  const lines = ['# Chat probe: frozen encoder + frozen LM, trained projector', '', ...notes.flatMap((n) => [n, ''])];
  if (runs.length) {
    const b0 = runs[0]!.budgets;
    const label = (k: number) => (k === runs[0]!.fullTokens ? `${k} (full)` : `${k} (${Math.round((100 * k) / runs[0]!.fullTokens)} %)`);
    lines.push(`Multiple-choice QA accuracy by option likelihood (chance ${pct(b0[0]!.qaChance)} % over ${b0[0]!.questions} questions) and caption event F1 (precision / recall in brackets).`, '');
    lines.push(`| encoder | LM | ${b0.map((b) => `QA @ ${label(b.tokens)}`).join(' | ')} | ${b0.map((b) => `caption F1 @ ${label(b.tokens)}`).join(' | ')} |`);
    lines.push(`|---|---|${b0.map(() => '---:').join('|')}|${b0.map(() => '---:').join('|')}|`);
    for (const r of runs) {
      lines.push(`| ${r.encoder} | ${r.lm} | ${r.budgets.map((b) => pct(b.qaAccuracy)).join(' | ')} | ${r.budgets.map((b) => `${pct(b.caption.f1)} (${pct(b.caption.precision)} / ${pct(b.caption.recall)})`).join(' | ')} |`);
    }
    lines.push('');
    const ticks = [...new Set(runs.flatMap((r) => r.budgets.map((b) => b.tokens)))].sort((a, b) => a - b);
    const qa: LineSeries[] = runs.map((r) => ({ name: `${r.encoder} + ${r.lm}`, points: r.budgets.map((b) => [b.tokens, b.qaAccuracy * 100] as [number, number]) }));
    const f1: LineSeries[] = runs.map((r) => ({ name: `${r.encoder} + ${r.lm}`, points: r.budgets.map((b) => [b.tokens, b.caption.f1 * 100] as [number, number]) }));
    lines.push(`![QA accuracy vs tokens](${writeAsset(outDir, 'probe-qa-vs-tokens.svg', svgLineChart({ title: 'MC-QA accuracy vs tokens kept', xLabel: 'tokens', yLabel: 'accuracy (%)', series: qa, xLog2: true, xTicks: ticks, yRange: [0, 100], reference: { y: b0[0]!.qaChance * 100, label: 'chance' } }))})`, '');
    lines.push(`![caption F1 vs tokens](${writeAsset(outDir, 'probe-caption-f1-vs-tokens.svg', svgLineChart({ title: 'Caption event F1 vs tokens kept', xLabel: 'tokens', yLabel: 'F1 (%)', series: f1, xLog2: true, xTicks: ticks, yRange: [0, 100] }))})`, '');
    const kinds = [...new Set(runs.flatMap((r) => r.budgets.flatMap((b) => Object.keys(b.byKind))))];
    if (kinds.length) {
      lines.push('QA accuracy by question kind, % (chance in brackets), at each budget:', '');
      lines.push(`| encoder | LM | tokens | ${kinds.join(' | ')} |`, `|---|---|---:|${kinds.map(() => '---:').join('|')}|`);
      for (const r of runs) for (const b of r.budgets) lines.push(`| ${r.encoder} | ${r.lm} | ${b.tokens} | ${kinds.map((k) => (b.byKind[k] ? `${pct(b.byKind[k]!.accuracy)} (${pct(b.byKind[k]!.chance)})` : '–')).join(' | ')} |`);
      lines.push('');
    }
    lines.push('Sample captions (first test clips, full tokens):', '');
    for (const r of runs) for (const s of r.budgets[0]!.samples.slice(0, 2)) lines.push(`- ${r.encoder} + ${r.lm}: “${s.pred}” — reference “${s.ref}”`);
    lines.push('');
  }
  const file = path.join(outDir, 'report.md');
  fs.writeFileSync(file, lines.join('\n'));
  fs.writeFileSync(path.join(outDir, 'probe-results.json'), JSON.stringify(runs, null, 2) + '\n');
  return file;
}
