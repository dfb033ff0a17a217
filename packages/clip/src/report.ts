/** Markdown + SVG report of Flux-CLIP evaluations (flux-eval retrieval / zero-shot, flux-pretrain --mode clip). */
import fs from 'node:fs';
import path from 'node:path';

import { svgLineChart, writeAsset, type LineSeries } from '@flux/train';

import type { BudgetRetrieval, ZeroShotResult } from './evaluate.js';

export interface ClipRunEvaluation {
  name: string;
  dir: string;
  fullTokens: number;
  retrieval?: BudgetRetrieval[];
  zeroShot?: ZeroShotResult[];
}

const pct = (x: number) => (x * 100).toFixed(1);

/** Writes `<outDir>/report.md` (+ recall-vs-tokens.svg, zero-shot-vs-tokens.svg); returns the report's path. */
export function writeClipReport(outDir: string, title: string, evals: ClipRunEvaluation[], notes: string[] = []): string {
  fs.mkdirSync(outDir, { recursive: true });
  const lines = [`# ${title}`, '', ...notes.flatMap((n) => [n, ''])];
  const label = (e: ClipRunEvaluation, k: number) => (k === e.fullTokens ? `${k} (full)` : `${k} (${Math.round((100 * k) / e.fullTokens)} %)`);
  const withR = evals.filter((e) => e.retrieval?.length);
  if (withR.length) {
    const first = withR[0]!.retrieval!;
    const chance = first[0]!.plain;
    lines.push(
      `Retrieval on ${chance.t2v.n} held-out clips, every clip's caption as a query; a retrieved item is correct when its caption equals the query's. ` +
        `Chance (random ranking, for these duplicate captions): T2V R@1/5/10 ${pct(chance.t2v.chance[1]!)} / ${pct(chance.t2v.chance[5]!)} / ${pct(chance.t2v.chance[10]!)} %, V2T ${pct(chance.v2t.chance[1]!)} / ${pct(chance.v2t.chance[5]!)} / ${pct(chance.v2t.chance[10]!)} %. ` +
        `Distinct captions: ${first[0]!.distinctCaptions} of ${chance.t2v.n}; test-caption BPE tokens outside the training vocabulary (mapped to unk): ${withR.map((e) => `${e.name} ${e.retrieval![0]!.oov.tokens} of ${e.retrieval![0]!.oov.of}`).join(', ')}.`,
      '',
      '| run | tokens | T2V R@1 | R@5 | R@10 | V2T R@1 | R@5 | R@10 | T2V R@1 (dual softmax) | V2T R@1 (dual softmax) |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const e of withR) {
      for (const r of e.retrieval!) {
        const p = r.plain;
        lines.push(`| ${e.name} | ${label(e, r.tokens)} | ${pct(p.t2v.at[1]!)} | ${pct(p.t2v.at[5]!)} | ${pct(p.t2v.at[10]!)} | ${pct(p.v2t.at[1]!)} | ${pct(p.v2t.at[5]!)} | ${pct(p.v2t.at[10]!)} | ${pct(r.dual.t2v.at[1]!)} | ${pct(r.dual.v2t.at[1]!)} |`);
      }
    }
    lines.push('');
    const series: LineSeries[] = withR.flatMap((e) => [
      { name: `${e.name} T2V`, points: e.retrieval!.map((r) => [r.tokens, r.plain.t2v.at[1]! * 100] as [number, number]) },
      { name: `${e.name} V2T`, dashed: true, points: e.retrieval!.map((r) => [r.tokens, r.plain.v2t.at[1]! * 100] as [number, number]) },
    ]);
    const ticks = [...new Set(withR.flatMap((e) => e.retrieval!.map((r) => r.tokens)))].sort((a, b) => a - b);
    const chart = svgLineChart({ title: 'Retrieval R@1 vs tokens kept', xLabel: 'tokens', yLabel: 'R@1 (%)', series, xLog2: true, xTicks: ticks, yRange: [0, 100], reference: { y: chance.t2v.chance[1]! * 100, label: 'chance' } });
    lines.push(`![recall vs tokens](${writeAsset(outDir, 'recall-vs-tokens.svg', chart)})`, '');
  }
  const withZ = evals.filter((e) => e.zeroShot?.length);
  if (withZ.length) {
    const z0 = withZ[0]!.zeroShot![0]!;
    lines.push(`Zero-shot classification of the motion classes from prompts (“the digit D moves <direction> <slowly|quickly>”, averaged over digits and speeds), ${z0.n} clips. Chance ${pct(z0.chance)} %.`, '');
    lines.push(`| run | ${withZ[0]!.zeroShot!.map((z) => label(withZ[0]!, z.tokens)).join(' | ')} |`, `|---|${withZ[0]!.zeroShot!.map(() => '---:').join('|')}|`);
    for (const e of withZ) lines.push(`| ${e.name} | ${e.zeroShot!.map((z) => pct(z.top1)).join(' | ')} |`);
    lines.push('');
    const series: LineSeries[] = withZ.map((e) => ({ name: e.name, points: e.zeroShot!.map((z) => [z.tokens, z.top1 * 100] as [number, number]) }));
    const ticks = [...new Set(withZ.flatMap((e) => e.zeroShot!.map((z) => z.tokens)))].sort((a, b) => a - b);
    const chart = svgLineChart({ title: 'Zero-shot top-1 vs tokens kept', xLabel: 'tokens', yLabel: 'top-1 (%)', series, xLog2: true, xTicks: ticks, yRange: [0, 100], reference: { y: z0.chance * 100, label: 'chance' } });
    lines.push(`![zero-shot vs tokens](${writeAsset(outDir, 'zero-shot-vs-tokens.svg', chart)})`, '');
  }
  lines.push(`Runs: ${evals.map((e) => `${e.name} \`${e.dir}\``).join(', ')}.`, '');
  const file = path.join(outDir, 'report.md');
  fs.writeFileSync(file, lines.join('\n'));
  fs.writeFileSync(path.join(outDir, 'clip-eval.json'), JSON.stringify(evals, null, 2) + '\n');
  return file;
}
