#!/usr/bin/env node
/** flux-pretrain: Flux-UMT / vanilla UMT masked-distillation pretraining from the command line. */
import fs from 'node:fs';
import path from 'node:path';

import { Command, Option } from 'commander';
import { initBackend, requestedBackend } from '@flux/core';
import { ConfigError, TrainingDivergedError, parseInteger, parseNumber, parseNumberList, readConfigFile } from '@flux/train';
import { resolveClipConfig, type ClipConfig } from '@flux/clip';
import { DEFAULT_PRETRAIN_CONFIG, pretrain, resolvePretrainConfig, type PretrainConfig, type PretrainMode } from '@flux/umt';
import { MOVING_MNIST_TASKS } from '@flux/video';

import { DEFAULT_CLIP_STUDY, runClipStudy, type ClipStudyOptions } from './clip-study.js';
import { DEFAULT_STUDY, runStudy, type StudyOptions } from './study.js';

const S = DEFAULT_STUDY;
const P = DEFAULT_PRETRAIN_CONFIG;

export function buildPretrainCommand(): Command {
  const cmd = new Command('flux-pretrain');
  cmd
    .description(
      'Masked-distillation pretraining of a FluxViT student from a frozen teacher: Flux-UMT (flexi-sampled clips,\n' +
        'the teacher sees K_t group-dynamic tokens, the student attention-masked subsets at three token counts) or\n' +
        'vanilla UMT (fixed grid, the teacher sees every token).\n\n' +
        'With no arguments it runs the embedded study: (1) tunes a larger teacher on the labelled Moving-MNIST train\n' +
        'split, (2) distils a student from it on the train clips without labels, with Flux-UMT and with vanilla UMT,\n' +
        '(3) tunes each student and one from scratch on 5 % of the labels, (4) writes report.md (top-1 at full,\n' +
        '50 % and 25 % tokens, paired differences, plots). --run pretrains once, with the settings given.',
    )
    .option('-o, --out <dir>', `output directory (default ${S.out}; with --run: runs/pretrain-<mode>-<time>)`)
    .addOption(new Option('--mode <mode>', 'flux: Flux-UMT; vanilla: UMT on a fixed grid (default: both, for the comparison; --run: flux); clip: Flux-CLIP video-text training (Flux-Multi and a fixed-grid arm) with retrieval and zero-shot evaluation').choices(['flux', 'vanilla', 'clip']))
    .option('--teacher <ckpt>', 'the teacher: a flux-tune run directory, or a .safetensors / official .pth file of --teacher-model (skips training one)')
    .option('--teacher-model <variant>', `FluxViT variant of a --teacher weights file (default ${P.teacherModel}; its overrides via --config teacherOverrides)`)
    .option('--student-init <ckpt>', 'start the student from these weights (.safetensors, official .pth, or a run directory) instead of random')
    .option('--run', 'one pretraining run (needs --teacher), no study: writes student.safetensors for flux-tune --init')
    .option('-c, --config <file.json>', 'pretraining settings (keys as in config.json of a pretraining run); flags override it')
    .addOption(new Option('--task <name>', 'the embedded data\'s task (default distract)').choices(Object.keys(MOVING_MNIST_TASKS)))
    .option('--steps <n>', `pretraining steps (study default ${S.pretrain.steps})`, parseInteger(1))
    .option('-b, --batch-size <n>', `clips per pretraining step (default ${P.batchSize})`, parseInteger(1))
    .option('--lr <x>', `peak pretraining learning rate (default ${P.lr})`, parseNumber(0))
    .option('--teacher-tokens <n>', 'K_t: tokens the teacher sees (default: the fixed grid\'s tokens)', parseInteger(1))
    .option('--mask-ratios <r,...>', 'student mask ratios, one student forward each (default flux 0.6,0.7,0.8; vanilla 0.8)', parseNumberList)
    .option('--align-layers <n>', `aligned layers (default ${P.alignLayers})`, parseInteger(1))
    .option('--teacher-steps <n>', `study: steps of the teacher's tuning (default ${S.teacherTune.steps})`, parseInteger(1))
    .option('--tune-steps <n>', `study: steps of each student's tuning (default ${S.tune.steps})`, parseInteger(1))
    .option('--labels <fraction>', `study: fraction of the train labels the students are tuned on (default ${S.labelFraction})`, parseNumber(1e-6, 1))
    .option('--test-clips <n>', `study: test clips (default ${S.testClips})`, parseInteger(1))
    .option('--no-tune', 'study: stop after pretraining')
    .option('--seed <n>', `seed (default ${P.seed})`, parseInteger(0))
    .option('--resume', 'continue in --out (a study keeps its finished stages; a run continues from its latest checkpoint)')
    .option('--overwrite', 'start over in an --out that already holds runs')
    .option('--backend <name>', 'auto | tensorflow-gpu | tensorflow | wasm | wasm-threads | wasm-simd | cpu (env FLUX_BACKEND)')
    .option('-q, --quiet', 'no progress output')
    .addHelpText(
      'after',
      `
Examples:
  $ flux-pretrain                                      # the embedded study (≈ 25 min on 2 cores, native backend)
  $ flux-pretrain --mode flux --teacher runs/teacher   # study with your teacher, Flux-UMT arm only
  $ flux-pretrain --run --teacher runs/teacher --out runs/umt --steps 1000
  $ flux-tune --init runs/umt --out runs/tuned         # tune the pretrained student
  $ flux-pretrain --run --teacher fluxvit_s.pth --teacher-model fluxvit_small_patch14 --config umt.json
  $ flux-pretrain --mode clip                          # Flux-CLIP on the embedded captions (≈ 20 min), report in runs/clip
  $ flux-pretrain --mode clip --student-init runs/pretrain/pretrain-flux   # vision tower from a Flux-UMT student

A NaN/inf loss stops a run with an error; the last good checkpoint is kept and --resume continues from it.`,
    );
  return cmd;
}

interface CliOpts {
  out?: string;
  mode?: PretrainMode | 'clip';
  teacher?: string;
  teacherModel?: string;
  studentInit?: string;
  run?: boolean;
  config?: string;
  task?: string;
  steps?: number;
  batchSize?: number;
  lr?: number;
  teacherTokens?: number;
  maskRatios?: number[];
  alignLayers?: number;
  teacherSteps?: number;
  tuneSteps?: number;
  labels?: number;
  testClips?: number;
  tune?: boolean;
  seed?: number;
  resume?: boolean;
  overwrite?: boolean;
  backend?: string;
  quiet?: boolean;
}

/** Pretraining settings from the config file and flags (the study's arms set mode and teacher themselves). */
export function pretrainLayers(o: CliOpts): Partial<PretrainConfig>[] {
  const file = (o.config ? readConfigFile(o.config) : {}) as Partial<PretrainConfig>;
  const flags: Partial<PretrainConfig> = {
    task: o.task,
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    teacherTokens: o.teacherTokens,
    maskRatios: o.maskRatios,
    alignLayers: o.alignLayers,
    studentInit: o.studentInit,
    teacherModel: o.teacherModel,
    seed: o.seed,
    backend: o.backend,
  };
  return [file, Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined))];
}

/** The Flux-CLIP study's options from the flags (`--config` takes Flux-CLIP config keys). */
export function clipStudyFromCli(o: CliOpts): ClipStudyOptions {
  const file = (o.config ? readConfigFile(o.config) : {}) as Partial<ClipConfig>;
  const flags: Partial<ClipConfig> = { task: o.task, stage2Steps: o.steps, batchSize: o.batchSize, lr: o.lr, seed: o.seed, visionInit: o.studentInit, backend: o.backend };
  const clip = { ...file, ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) } as Partial<ClipConfig>;
  resolveClipConfig(clip); // validate now, naming the bad key
  return { ...DEFAULT_CLIP_STUDY, out: o.out ?? DEFAULT_CLIP_STUDY.out, clip, testClips: o.testClips ?? DEFAULT_CLIP_STUDY.testClips, resume: o.resume ?? false, overwrite: o.overwrite ?? false, quiet: o.quiet ?? false };
}

/** The study's options from the flags. */
export function studyFromCli(o: CliOpts): StudyOptions {
  const layers = pretrainLayers(o);
  const pre = Object.assign({}, S.pretrain, ...layers) as Partial<PretrainConfig>;
  resolvePretrainConfig(pre); // validate early, with the file's and flags' names
  return {
    ...S,
    out: o.out ?? S.out,
    modes: o.mode && o.mode !== 'clip' ? [o.mode] : [...S.modes],
    teacher: o.teacher ?? null,
    teacherTune: { ...S.teacherTune, ...(o.teacherSteps !== undefined ? { steps: o.teacherSteps } : {}), ...(o.task ? { task: o.task } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) },
    pretrain: pre,
    tune: { ...S.tune, ...(o.tuneSteps !== undefined ? { steps: o.tuneSteps } : {}), ...(o.task ? { task: o.task } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) },
    labelFraction: o.labels ?? S.labelFraction,
    testClips: o.testClips ?? S.testClips,
    tuneStudents: o.tune !== false,
    resume: o.resume ?? false,
    overwrite: o.overwrite ?? false,
    quiet: o.quiet ?? false,
  };
}

export async function main(argv = process.argv): Promise<void> {
  const cmd = buildPretrainCommand();
  cmd.parse(argv);
  const o = cmd.opts<CliOpts>();
  if (o.resume && !o.out && o.run) cmd.error('error: --resume --run needs --out <dir> (the run to continue)');
  if (o.mode === 'clip') {
    let clip: ClipStudyOptions;
    try {
      clip = clipStudyFromCli(o);
    } catch (err) {
      if (err instanceof ConfigError || err instanceof RangeError) cmd.error(`error: ${err.message}`);
      throw err;
    }
    const backend = await initBackend({ backend: requestedBackend(o.backend, 'auto'), log: o.quiet ? false : undefined });
    const r = await runClipStudy({ ...clip, backendName: `${backend.kind} (${backend.threads} threads)` });
    process.stdout.write(`report: ${r.report} (${r.minutes.total!.toFixed(1)} min)\n`);
    for (const e of r.evals) {
      const line = e.retrieval!.map((x) => `${x.tokens} tokens T2V R@1 ${(x.plain.t2v.at[1]! * 100).toFixed(1)}%`).join(', ');
      process.stdout.write(`  ${e.name.padEnd(16)} ${line}; zero-shot ${e.zeroShot!.map((z) => `${(z.top1 * 100).toFixed(1)}%`).join(' / ')}\n`);
    }
    return;
  }
  let study: StudyOptions | null = null;
  let runCfg: PretrainConfig | null = null;
  try {
    if (o.run) {
      if (!o.teacher) cmd.error('error: --run needs --teacher <ckpt> (a flux-tune run directory or a weights file)');
      const resumeCfg = o.resume && o.out && fs.existsSync(path.join(o.out, 'config.json')) && !o.config ? [readConfigFile(path.join(o.out, 'config.json')) as Partial<PretrainConfig>] : [];
      runCfg = resolvePretrainConfig(...resumeCfg, ...pretrainLayers(o), { ...(o.mode ? { mode: o.mode as PretrainMode } : {}), teacher: o.teacher });
    } else {
      study = studyFromCli(o);
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof RangeError) cmd.error(`error: ${err.message}`);
    throw err;
  }
  const backend = await initBackend({ backend: requestedBackend(o.backend, runCfg?.backend ?? 'auto'), log: o.quiet ? false : undefined });
  try {
    if (runCfg) {
      const out = o.out ?? path.join('runs', `pretrain-${runCfg.mode}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      const r = await pretrain(runCfg, { out, resume: o.resume ?? false, overwrite: o.overwrite ?? false, quiet: o.quiet ?? false });
      r.student.dispose();
      process.stdout.write(
        `run ${r.runDir}: ${r.steps} steps in ${r.seconds.toFixed(0)} s, final loss ${r.finalLoss.toFixed(4)}` +
          (r.teacherMs !== null ? `, teacher ${r.teacherMs.toFixed(0)} ms/batch` : '') +
          (r.studentFile ? `\nstudent: ${r.studentFile} (flux-tune --init ${r.runDir})` : '') +
          '\n',
      );
      return;
    }
    const s = await runStudy({ ...study!, backendName: `${backend.kind} (${backend.threads} threads)` });
    if (!s.report) {
      process.stdout.write(`pretrained in ${s.minutes.total!.toFixed(1)} min: ${study!.modes.map((m) => path.join(s.out, `pretrain-${m}`)).join(', ')}\n`);
      return;
    }
    process.stdout.write(`report: ${s.report} (${s.minutes.total!.toFixed(1)} min)\n`);
    for (const a of s.arms) process.stdout.write(`  ${a.name.padEnd(13)} ${a.top1.map((r) => `${r.tokens} tokens ${(r.top1 * 100).toFixed(1)}%`).join(', ')}\n`);
  } catch (err) {
    if (err instanceof TrainingDivergedError) {
      process.stderr.write(`flux-pretrain: ${err.message}\n`);
      process.exitCode = 3;
      return;
    }
    throw err;
  }
}

function invokedDirectly(): boolean {
  try {
    return Boolean(process.argv[1]) && /flux-pretrain(\.js)?$|pretrain[\\/]dist[\\/]cli\.js$/.test(fs.realpathSync(process.argv[1]!));
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main().catch((err: unknown) => {
    process.stderr.write(`flux-pretrain: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
