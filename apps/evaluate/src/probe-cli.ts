/** `flux-eval probe [encoder runs...]`: the chat probe (frozen encoder + frozen LM + trained projector), with a report. */
import { Command, Option } from 'commander';
import { initBackend, requestedBackend } from '@flux/core';
import { parseInteger, parseNumberList } from '@flux/train';

import { DEFAULT_PROBE_STUDY, runProbeStudy, type ProbeStudyOptions } from './probe-study.js';

const D = DEFAULT_PROBE_STUDY;

export function buildProbeCommand(): Command {
  return new Command('flux-eval probe')
    .description(
      'The chat probe: a frozen FluxViT encoder and a frozen language model joined by a trained MLP projector (the\n' +
        '"linear probe" of chat models), scored by multiple-choice QA accuracy (option likelihood) and caption event F1\n' +
        'at several token budgets. With no runs: tunes a fixed-grid and a Flux-Multi encoder on the embedded data,\n' +
        'trains the built-in LM, and probes each encoder with stories260K and with the built-in LM.',
    )
    .argument('[encoders...]', 'flux-tune run directories (default: tune the two embedded encoders)')
    .option('-o, --out <dir>', `output directory (default ${D.out})`)
    .option('--lm <list>', `language models: stories260k, builtin, or Llama folders (default ${D.lms.join(',')})`, (v: string) => v.split(','))
    .option('--probe-steps <n>', `projector training steps (default ${D.probeSteps})`, parseInteger(1))
    .option('--builtin-steps <n>', `steps of the built-in LM's training (default ${D.builtinSteps})`, parseInteger(1))
    .option('--encoder-steps <n>', `steps of each embedded encoder's tuning (default ${D.encoderTune.steps})`, parseInteger(1))
    .addOption(new Option('--visual <mode>', `visual tokens: the encoder's last-block tokens or its pooled feature (default ${D.visual})`).choices(['tokens', 'pooled']))
    .option('--test-clips <n>', `held-out clips (default ${D.testClips})`, parseInteger(1))
    .option('--fractions <f,...>', `budgets as fractions of the grid's tokens (default ${D.fractions.join(',')})`, parseNumberList)
    .option('--resume', 'keep the finished stages in --out')
    .option('--overwrite', 'start over in an --out that holds runs')
    .option('--backend <name>', 'auto | tensorflow-gpu | tensorflow | wasm | cpu (env FLUX_BACKEND)')
    .option('-q, --quiet', 'no progress lines');
}

export function probeOptionsFromCli(args: string[], o: Record<string, unknown>): ProbeStudyOptions {
  const fractions = (o.fractions as number[] | undefined) ?? D.fractions;
  if (fractions.some((f) => !(f > 0 && f <= 1))) throw new RangeError('--fractions must be numbers in (0, 1]');
  const lms = (o.lm as string[] | undefined) ?? D.lms;
  if (!lms.length) throw new RangeError('--lm needs at least one language model');
  return {
    ...D,
    out: (o.out as string | undefined) ?? D.out,
    encoders: args,
    lms,
    encoderTune: { ...D.encoderTune, ...(o.encoderSteps !== undefined ? { steps: o.encoderSteps as number } : {}) },
    probeSteps: (o.probeSteps as number | undefined) ?? D.probeSteps,
    builtinSteps: (o.builtinSteps as number | undefined) ?? D.builtinSteps,
    visual: (o.visual as ProbeStudyOptions['visual'] | undefined) ?? D.visual,
    testClips: (o.testClips as number | undefined) ?? D.testClips,
    fractions,
    resume: Boolean(o.resume),
    overwrite: Boolean(o.overwrite),
    quiet: Boolean(o.quiet),
  };
}

export async function probeMain(argv: string[]): Promise<void> {
  const cmd = buildProbeCommand();
  cmd.parse(argv);
  let opts: ProbeStudyOptions;
  try {
    opts = probeOptionsFromCli(cmd.args, cmd.opts());
  } catch (e) {
    cmd.error(`error: ${(e as Error).message}`);
  }
  await initBackend({ backend: requestedBackend(cmd.opts().backend as string | undefined), log: opts!.quiet ? false : undefined });
  const r = await runProbeStudy(opts!);
  process.stdout.write(`report: ${r.report} (${r.minutes.total!.toFixed(1)} min)\n`);
  for (const run of r.runs) process.stdout.write(`  ${`${run.encoder} + ${run.lm}`.padEnd(36)} QA ${run.budgets.map((b) => `${(b.qaAccuracy * 100).toFixed(1)}%`).join(' / ')}, caption F1 ${run.budgets.map((b) => `${(b.caption.f1 * 100).toFixed(1)}%`).join(' / ')}\n`);
}
