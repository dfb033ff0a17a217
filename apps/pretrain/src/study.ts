/**
 * The embedded pretraining study, what `flux-pretrain` runs with no arguments:
 *
 * 1. **teacher** — a larger FluxViT tuned with flux-tune's `tune` (Flux-Multi) on the labelled train split;
 * 2. **distil** — a student pretrained on the train clips *without labels*, with Flux-UMT and with vanilla UMT;
 * 3. **tune** — each student, and the same student from scratch, Flux-Multi tuned on a small labelled subset
 *    (5 % of the labels) with one identical budget;
 * 4. **report** — test top-1 at full, 50 % and 25 % tokens, paired differences over the test clips, plots.
 *
 * Every stage is a resumable run directory under `out`; with `resume`, finished stages are kept as they are.
 */
import fs from 'node:fs';
import path from 'node:path';

import { readMetrics } from '@flux/core';
import {
  comparePaired,
  createFluxModel,
  DEFAULT_TUNE_CONFIG,
  evaluateAccuracy,
  gridTokens,
  headFor,
  loadRun,
  lossChart,
  openDataset,
  patchSizeOf,
  resolveTuneConfig,
  svgLineChart,
  tune,
  valChart,
  writeAsset,
  type LineSeries,
  type LoadedRun,
  type TuneConfig,
} from '@flux/train';

type FluxViT = LoadedRun['model'];
import { pretrain, resolvePretrainConfig, teacherTokensOf, type PretrainConfig, type PretrainMode } from '@flux/umt';

export interface StudyOptions {
  out: string;
  /** Pretraining arms (default both: the Flux-UMT vs vanilla UMT comparison). */
  modes: PretrainMode[];
  /** A teacher to use instead of training one (flux-tune run directory, or a weights file of `pretrain.teacherModel`). */
  teacher: string | null;
  /** The teacher's tuning run (stage 1): architecture and budget on top of flux-tune's defaults. */
  teacherTune: Partial<TuneConfig>;
  /** Pretraining settings shared by the arms (mode and teacher are set per arm). */
  pretrain: Partial<PretrainConfig>;
  /** Tuning of the students (stage 3), identical for every arm. */
  tune: Partial<TuneConfig>;
  /** Fraction of the train split's labels used for tuning. */
  labelFraction: number;
  /** Test clips of the final evaluation. */
  testClips: number;
  /** Token budgets evaluated, as fractions of the full grid's tokens. */
  budgets: number[];
  /** Stop after pretraining (no tuning, no report). */
  tuneStudents: boolean;
  resume: boolean;
  overwrite: boolean;
  quiet: boolean;
  /** Extra note for the report (e.g. the backend). */
  backendName?: string;
}

/** The student and tuning recipe of flux-tune's default; the teacher is 1.5× wider and 1.5× deeper. */
export const DEFAULT_STUDY: StudyOptions = {
  out: 'runs/pretrain',
  modes: ['flux', 'vanilla'],
  teacher: null,
  teacherTune: {
    modelOverrides: { ...DEFAULT_TUNE_CONFIG.modelOverrides, embedDim: 96, depth: 6, numHeads: 4, clipEmbedDim: 96, clipNumHeads: 4 },
    steps: 500,
    evalEvery: 0,
  },
  pretrain: { steps: 300 },
  tune: { steps: 300, evalEvery: 100 },
  labelFraction: 0.05,
  testClips: 1000,
  budgets: [1, 0.5, 0.25],
  tuneStudents: true,
  resume: false,
  overwrite: false,
  quiet: false,
};

export interface ArmResult {
  name: string;
  /** Pretraining run directory (null: from scratch). */
  pretrainDir: string | null;
  tuneDir: string | null;
  /** Test top-1 per budget (fractions), with per-clip correctness for the paired comparisons. */
  top1: { tokens: number; top1: number; correct: Uint8Array }[];
}

export interface StudyResult {
  out: string;
  report: string | null;
  teacherDir: string;
  arms: ArmResult[];
  teacherTop1: { tokens: number; top1: number }[];
  minutes: Record<string, number>;
  /** Median ms of the teacher forward per pretraining batch, per mode (and of the whole step in `stepMs`). */
  teacherMs: Partial<Record<PretrainMode, number>>;
  stepMs: Partial<Record<PretrainMode, number>>;
}

const log = (quiet: boolean, msg: string) => {
  if (!quiet) process.stderr.write(`flux-pretrain: ${msg}\n`);
};

/** Whether `dir` holds a run to continue. */
function hasRun(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json'));
}

/** Runs the study (see the module comment). */
export async function runStudy(o: StudyOptions): Promise<StudyResult> {
  const minutes: Record<string, number> = {};
  const t0 = performance.now();
  const lap = (name: string, since: number) => (minutes[name] = (performance.now() - since) / 60_000);
  if (!(o.labelFraction > 0 && o.labelFraction <= 1)) throw new RangeError(`labelFraction must be in (0, 1], got ${o.labelFraction}`);
  if (!o.modes.length && !o.tuneStudents) throw new RangeError('nothing to do: no pretraining mode and no tuning');
  fs.mkdirSync(o.out, { recursive: true });
  const stage = (name: string) => path.join(o.out, name);
  const runFlags = (dir: string) => ({ resume: o.resume && hasRun(dir), overwrite: o.overwrite });

  // Settings every stage shares: the embedded data and task, the tuning model's grid.
  const task = o.tune.task ?? o.pretrain.task ?? o.teacherTune.task ?? 'distract';
  const base = resolveTuneConfig({ task, ...o.tune });

  // 1. The teacher.
  let teacherDir = o.teacher ?? stage('teacher');
  if (!o.teacher) {
    const ts = performance.now();
    const tcfg = resolveTuneConfig({ task, evalClips: base.evalClips }, o.teacherTune);
    log(o.quiet, `1/4 teacher: ${tcfg.model} ${JSON.stringify(tcfg.modelOverrides)} tuned (${tcfg.mode}) on ${tcfg.trainClips} labelled clips, ${tcfg.steps} steps → ${teacherDir}`);
    const r = await tune(tcfg, { out: teacherDir, ...runFlags(teacherDir), createModel: createFluxModel, quiet: o.quiet });
    r.model.dispose();
    lap('teacher', ts);
  } else {
    teacherDir = o.teacher;
    log(o.quiet, `1/4 teacher: ${teacherDir} (given)`);
  }

  // 2. Distillation without labels.
  const teacherMs: StudyResult['teacherMs'] = {};
  const stepMs: StudyResult['stepMs'] = {};
  const pretrainDirs = new Map<PretrainMode, string>();
  for (const mode of o.modes) {
    const ts = performance.now();
    const dir = stage(`pretrain-${mode}`);
    const pcfg = resolvePretrainConfig(
      { task, model: base.model, modelOverrides: base.modelOverrides, frames: base.frames, size: base.size, trainClips: base.trainClips, clipLength: base.clipLength, clipSize: base.clipSize },
      o.pretrain,
      { mode, teacher: teacherDir },
    );
    log(o.quiet, `2/4 distil (${mode === 'flux' ? 'Flux-UMT' : 'vanilla UMT'}): ${pcfg.steps} steps on ${pcfg.trainClips} unlabelled clips, teacher tokens ${teacherTokensOf(pcfg)} → ${dir}`);
    const r = await pretrain(pcfg, { out: dir, ...runFlags(dir), quiet: o.quiet });
    r.student.dispose();
    const stored = readResult(dir);
    const tms = r.teacherMs ?? stored?.teacherMs ?? null;
    const sms = r.stepMs ?? stored?.stepMs ?? null;
    if (tms !== null) teacherMs[mode] = tms;
    if (sms !== null) stepMs[mode] = sms;
    pretrainDirs.set(mode, dir);
    lap(`pretrain-${mode}`, ts);
  }
  if (!o.tuneStudents) {
    minutes.total = (performance.now() - t0) / 60_000;
    return { out: o.out, report: null, teacherDir, arms: [], teacherTop1: [], minutes, teacherMs, stepMs };
  }

  // 3. Label-scarce tuning, the same budget for every arm.
  const labelled = Math.max(1, Math.round(base.trainClips * o.labelFraction));
  const arms: { name: string; pretrainDir: string | null }[] = [
    ...o.modes.map((m) => ({ name: m === 'flux' ? 'Flux-UMT' : 'vanilla UMT', pretrainDir: pretrainDirs.get(m)! })),
    { name: 'from scratch', pretrainDir: null },
  ];
  const tuned: { name: string; pretrainDir: string | null; tuneDir: string }[] = [];
  for (const arm of arms) {
    const ts = performance.now();
    const slug = arm.pretrainDir ? path.basename(arm.pretrainDir).replace(/^pretrain-/, '') : 'scratch';
    const dir = stage(`tune-${slug}`);
    const cfg = resolveTuneConfig({ ...base, trainClips: labelled, init: arm.pretrainDir });
    log(o.quiet, `3/4 tune (${arm.name}): Flux-Multi on ${labelled} labelled clips (${(o.labelFraction * 100).toFixed(0)} %), ${cfg.steps} steps → ${dir}`);
    const r = await tune(cfg, { out: dir, ...runFlags(dir), createModel: createFluxModel, quiet: o.quiet });
    r.model.dispose();
    tuned.push({ ...arm, tuneDir: dir });
    lap(`tune-${slug}`, ts);
  }

  // 4. Evaluation on the test split at the budgets, then the report.
  const te = performance.now();
  const test = openDataset('test', base, { testClips: o.testClips });
  const fullTokens = gridTokens(base.frames, base.size, patchSizeOf(base));
  const budgets = o.budgets.map((f) => Math.max(1, Math.round(f * fullTokens)));
  const evalModel = async (model: FluxViT) => {
    const out: { tokens: number; top1: number; correct: Uint8Array }[] = [];
    for (const k of budgets) {
      const a = await evaluateAccuracy(model, test, { frames: base.frames, size: base.size, ...(k < fullTokens ? { k } : {}), head: headFor(k, model.config.headTokenCounts), perClip: true });
      out.push({ tokens: k, top1: a.top1, correct: a.correct! });
    }
    return out;
  };
  log(o.quiet, `4/4 evaluate: ${test.count} test clips at ${budgets.join(', ')} tokens (of ${fullTokens})`);
  const results: ArmResult[] = [];
  for (const arm of tuned) {
    const run = loadRun(arm.tuneDir, arm.name);
    const top1 = await evalModel(run.model);
    run.model.dispose();
    results.push({ name: arm.name, pretrainDir: arm.pretrainDir, tuneDir: arm.tuneDir, top1 });
  }
  const teacherRun = fs.existsSync(path.join(teacherDir, 'config.json')) ? loadRun(teacherDir, 'teacher') : null;
  const teacherTop1: StudyResult['teacherTop1'] = [];
  if (teacherRun && teacherRun.cfg.frames === base.frames && teacherRun.cfg.size === base.size && patchSizeOf(teacherRun.cfg) === patchSizeOf(base)) {
    for (const r of await evalModel(teacherRun.model)) teacherTop1.push({ tokens: r.tokens, top1: r.top1 });
  }
  teacherRun?.model.dispose();
  lap('evaluate', te);
  minutes.total = (performance.now() - t0) / 60_000;
  const report = writeStudyReport(o, { teacherDir, results, teacherTop1, budgets, fullTokens, labelled, minutes, teacherMs, stepMs, numClasses: test.numClasses, testCount: test.count });
  return { out: o.out, report, teacherDir, arms: results, teacherTop1, minutes, teacherMs, stepMs };
}

function readResult(dir: string): { teacherMs?: number; stepMs?: number } | null {
  const f = path.join(dir, 'result.json');
  if (!fs.existsSync(f)) return null;
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8')) as { teacherMs?: number; stepMs?: number };
  } catch {
    return null;
  }
}

const pct = (x: number) => (x * 100).toFixed(1);

function paired(a: ArmResult, b: ArmResult, k: number): string {
  const ca = a.top1.find((r) => r.tokens === k)!.correct;
  const cb = b.top1.find((r) => r.tokens === k)!.correct;
  const c = comparePaired([...ca], [...cb]);
  const sign = c.mean >= 0 ? '+' : '−';
  return `${sign}${Math.abs(c.mean * 100).toFixed(1)} ± ${(c.se * 100).toFixed(1)} (${c.verdict})`;
}

interface ReportData {
  teacherDir: string;
  results: ArmResult[];
  teacherTop1: { tokens: number; top1: number }[];
  budgets: number[];
  fullTokens: number;
  labelled: number;
  minutes: Record<string, number>;
  teacherMs: StudyResult['teacherMs'];
  stepMs: StudyResult['stepMs'];
  numClasses: number;
  testCount: number;
}

function writeStudyReport(o: StudyOptions, d: ReportData): string {
  const label = (k: number) => (k === d.fullTokens ? `${k} (full)` : `${k} (${Math.round((100 * k) / d.fullTokens)} %)`);
  const lines: string[] = [];
  lines.push('# Flux-UMT pretraining study', '');
  lines.push(
    `Teacher → masked distillation on unlabelled clips → Flux-Multi tuning on ${d.labelled} labelled clips (${(o.labelFraction * 100).toFixed(0)} % of the train split), ` +
      `the same tuning budget for every arm → test top-1 on ${d.testCount} held-out clips at a fixed grid, tokens kept by the group-dynamic selector (the protocol of the paper's Table 5). ` +
      `Chance: ${pct(1 / d.numClasses)} %.${o.backendName ? ` Backend: ${o.backendName}.` : ''}`,
    '',
  );
  lines.push(`| arm | ${d.budgets.map(label).join(' | ')} |`, `|---|${d.budgets.map(() => '---:').join('|')}|`);
  if (d.teacherTop1.length) lines.push(`| teacher (all labels) | ${d.budgets.map((k) => pct(d.teacherTop1.find((r) => r.tokens === k)?.top1 ?? NaN)).join(' | ')} |`);
  for (const a of d.results) lines.push(`| ${a.name} | ${d.budgets.map((k) => pct(a.top1.find((r) => r.tokens === k)!.top1)).join(' | ')} |`);
  lines.push('');
  const flux = d.results.find((a) => a.name === 'Flux-UMT');
  const vanilla = d.results.find((a) => a.name === 'vanilla UMT');
  const scratch = d.results.find((a) => a.name === 'from scratch');
  const cmp: [string, ArmResult | undefined, ArmResult | undefined][] = [
    ['Flux-UMT − from scratch', flux, scratch],
    ['Flux-UMT − vanilla UMT', flux, vanilla],
    ['vanilla UMT − from scratch', vanilla, scratch],
  ];
  const rows = cmp.filter(([, a, b]) => a && b);
  if (rows.length) {
    lines.push('Paired differences over the test clips (points of top-1 ± standard error; a win or loss only beyond 2 SE):', '');
    lines.push(`| comparison | ${d.budgets.map(label).join(' | ')} |`, `|---|${d.budgets.map(() => '---:').join('|')}|`);
    for (const [name, a, b] of rows) lines.push(`| ${name} | ${d.budgets.map((k) => paired(a!, b!, k)).join(' | ')} |`);
    lines.push('');
  }
  if (d.teacherMs.flux !== undefined && d.teacherMs.vanilla !== undefined) {
    lines.push(
      `Teacher cost per batch (forward on K_t tokens, selection included): Flux-UMT ${d.teacherMs.flux.toFixed(0)} ms, vanilla UMT ${d.teacherMs.vanilla.toFixed(0)} ms — ratio ${(d.teacherMs.flux / d.teacherMs.vanilla).toFixed(2)} at the same K_t. ` +
        `Whole step (incl. ${'the Flux-Multi students'}): ${d.stepMs.flux?.toFixed(0)} ms vs ${d.stepMs.vanilla?.toFixed(0)} ms. Side-by-side figures with one student count each: \`pnpm bench\` (packages/umt/bench).`,
      '',
    );
  }
  const series: LineSeries[] = d.results.map((a) => ({ name: a.name, points: a.top1.map((r) => [r.tokens, r.top1 * 100] as [number, number]) }));
  if (d.teacherTop1.length) series.push({ name: 'teacher', dashed: true, points: d.teacherTop1.map((r) => [r.tokens, r.top1 * 100] as [number, number]) });
  const chart = svgLineChart({ title: 'Test top-1 vs tokens kept (tuned on few labels)', xLabel: 'tokens', yLabel: 'top-1 (%)', series, xLog2: true, xTicks: [...d.budgets].sort((a, b) => a - b), yRange: [0, 100], reference: { y: 100 / d.numClasses, label: 'chance' } });
  lines.push(`![accuracy vs tokens](${writeAsset(o.out, 'accuracy-vs-tokens.svg', chart)})`, '');
  const pre = d.results.filter((a) => a.pretrainDir).map((a) => ({ name: a.name, dir: a.pretrainDir! }));
  const pl = pretrainLossChart(pre);
  if (pl) lines.push(`![pretraining loss](${writeAsset(o.out, 'pretraining-loss.svg', pl)})`, '');
  const vc = valChart(
    d.results.map((a) => ({ name: a.name, dir: a.tuneDir! })),
    1 / d.numClasses,
  );
  if (vc) lines.push(`![validation top-1 during tuning](${writeAsset(o.out, 'tuning-val-top1.svg', vc)})`, '');
  const tl = lossChart(d.results.map((a) => ({ name: a.name, dir: a.tuneDir! })));
  if (tl) lines.push(`![tuning loss](${writeAsset(o.out, 'tuning-loss.svg', tl)})`, '');
  lines.push('Time (minutes):', '');
  lines.push(`| ${Object.keys(d.minutes).join(' | ')} |`, `|${Object.keys(d.minutes).map(() => '---:').join('|')}|`, `| ${Object.values(d.minutes).map((m) => m.toFixed(1)).join(' | ')} |`, '');
  lines.push(`Runs: teacher \`${d.teacherDir}\`; ${d.results.map((a) => `${a.name}: ${a.pretrainDir ? `\`${a.pretrainDir}\` → ` : ''}\`${a.tuneDir}\``).join('; ')}.`, '');
  const file = path.join(o.out, 'report.md');
  fs.writeFileSync(file, lines.join('\n'));
  fs.writeFileSync(
    path.join(o.out, 'study.json'),
    JSON.stringify({ budgets: d.budgets, fullTokens: d.fullTokens, labelled: d.labelled, minutes: d.minutes, teacherMs: d.teacherMs, stepMs: d.stepMs, teacher: d.teacherTop1, arms: d.results.map((a) => ({ name: a.name, pretrainDir: a.pretrainDir, tuneDir: a.tuneDir, top1: a.top1.map((r) => ({ tokens: r.tokens, top1: r.top1 })) })) }, null, 2) + '\n',
  );
  return file;
}

/** The alignment loss per step (sum over the student counts) of the pretraining runs. */
function pretrainLossChart(runs: { name: string; dir: string }[]): string | null {
  const series: LineSeries[] = [];
  for (const r of runs) {
    const f = path.join(r.dir, 'metrics.jsonl');
    if (!fs.existsSync(f)) continue;
    const pts = readMetrics(f)
      .filter((m) => m.event === undefined && typeof m.loss === 'number')
      .map((m) => {
        const align = m.align as number[] | undefined;
        const pooled = m.pooled as number[] | undefined;
        // Per student forward (the arms have different counts of student forwards): mean over the counts.
        const per = align && pooled ? (align.reduce((a, b) => a + b, 0) + pooled.reduce((a, b) => a + b, 0)) / align.length : (m.loss as number);
        return [m.step as number, per] as [number, number];
      });
    const win = Math.max(1, Math.round(pts.length / 40));
    const smooth: [number, number][] = [];
    for (let i = win - 1; i < pts.length; i += win) smooth.push([pts[i]![0], pts.slice(i - win + 1, i + 1).reduce((s, [, y]) => s + y, 0) / win]);
    series.push({ name: r.name, points: smooth });
  }
  if (!series.length) return null;
  const maxStep = Math.max(...series.flatMap((s) => s.points.map(([x]) => x)));
  return svgLineChart({ title: 'Pretraining alignment loss per student forward (layers + pooled)', xLabel: 'step', yLabel: 'loss', series, xTicks: Array.from({ length: 5 }, (_, i) => Math.round((maxStep * (i + 1)) / 5)), width: 720 });
}
