/** `flux-eval retrieval <runs...>` and `flux-eval zero-shot <runs...>`: Flux-CLIP runs across token budgets, with a report. */
import fs from 'node:fs';
import path from 'node:path';

import { Command } from 'commander';
import { clipBudgets, evaluateRetrieval, evaluateZeroShot, loadClipRun, writeClipReport, type ClipRunEvaluation } from '@flux/clip';
import { initBackend, requestedBackend } from '@flux/core';
import { parseInteger, parseNumberList } from '@flux/train';

export type ClipEvalKind = 'retrieval' | 'zero-shot';

export function buildClipEvalCommand(kind: ClipEvalKind): Command {
  return new Command(`flux-eval ${kind}`)
    .description(
      kind === 'retrieval'
        ? 'Text→video and video→text recall@1/5/10 of Flux-CLIP runs (flux-pretrain --mode clip) on held-out clips, with and\nwithout dual softmax, at several token budgets; a retrieved clip is correct when its caption equals the query\'s (the chance level this implies is reported).'
        : 'Zero-shot classification of the motion classes from prompts with Flux-CLIP runs, at several token budgets, with chance beside it.',
    )
    .argument('<runs...>', 'Flux-CLIP run directories (config.json, tokenizer.json, model.safetensors)')
    .option('-o, --out <dir>', `report directory (default reports/${kind}-<time>)`)
    .option('-n, --names <a,b,...>', 'display names of the runs (default: directory names)', (v: string) => v.split(','))
    .option('--test-clips <n>', 'test clips (default 1000)', parseInteger(1))
    .option('--fractions <f,...>', "budgets as fractions of the evaluation grid's tokens (default 1,0.5,0.25)", parseNumberList)
    .option('--backend <name>', 'auto | tensorflow-gpu | tensorflow | wasm | cpu (env FLUX_BACKEND)')
    .option('-q, --quiet', 'no progress lines');
}

export async function clipEvalMain(kind: ClipEvalKind, argv: string[]): Promise<void> {
  const cmd = buildClipEvalCommand(kind);
  cmd.parse(argv);
  const o = cmd.opts<{ out?: string; names?: string[]; testClips?: number; fractions?: number[]; backend?: string; quiet?: boolean }>();
  const runs = cmd.args;
  if (o.names && o.names.length !== runs.length) cmd.error(`error: --names has ${o.names.length} names for ${runs.length} runs`);
  const fractions = o.fractions ?? [1, 0.5, 0.25];
  if (fractions.some((f) => !(f > 0 && f <= 1))) cmd.error('error: --fractions must be numbers in (0, 1]');
  for (const r of runs) if (!fs.existsSync(path.join(r, 'tokenizer.json'))) cmd.error(`error: ${r} is not a Flux-CLIP run directory (no tokenizer.json)`);
  await initBackend({ backend: requestedBackend(o.backend), log: o.quiet ? false : undefined });
  const out = o.out ?? path.join('reports', `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const clips = o.testClips ?? 1000;
  const evals: ClipRunEvaluation[] = [];
  for (const [i, dir] of runs.entries()) {
    const run = loadClipRun(dir);
    try {
      if (!o.quiet) process.stderr.write(`flux-eval: ${kind} of ${dir} on ${clips} test clips\n`);
      const e: ClipRunEvaluation = { name: o.names?.[i] ?? path.basename(path.resolve(dir)), dir, fullTokens: clipBudgets(run.cfg, [1]).full };
      if (kind === 'retrieval') e.retrieval = await evaluateRetrieval(run, { clips, fractions });
      else e.zeroShot = await evaluateZeroShot(run, { clips, fractions });
      evals.push(e);
    } finally {
      run.model.dispose();
    }
  }
  const file = writeClipReport(out, kind === 'retrieval' ? 'Flux-CLIP retrieval' : 'Flux-CLIP zero-shot classification', evals);
  process.stdout.write(`report: ${file}\n`);
}
