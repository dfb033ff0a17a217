/**
 * One pretraining run on @flux/train's loop: the teacher (a flux-tune run directory or a weights file),
 * the student (random or from init weights), the {@link UmtObjective}, and at the end `student.safetensors`
 * — the student under official names, ready for `flux-tune --init` — next to the run's checkpoints.
 */
import fs from 'node:fs';
import path from 'node:path';

import { CHECKSUMS_FILE, atomicWriteFileSync, checksumRecord, serializeSafetensors } from '@flux/core';
import { cosineLr, initFromWeights, loadRun, openDataset, readWeightsFile, train, type ClipDataset, type StepRecord } from '@flux/train';
import { createModel, type FluxViT, type FluxViTName } from '@flux/vit';

import { maskRatiosOf, teacherTokensOf, type PretrainConfig } from './config.js';
import { UmtObjective } from './objective.js';
import { fluxViTTeacher, type Teacher } from './teacher.js';

/** Loads the teacher of a config: a flux-tune run directory (its recorded architecture), else `teacherModel` + `teacherOverrides` with the weights file loaded strictly. */
export async function loadTeacher(cfg: Pick<PretrainConfig, 'teacher' | 'teacherModel' | 'teacherOverrides'>): Promise<{ teacher: Teacher; model: FluxViT; source: string }> {
  if (!cfg.teacher) throw new Error('no teacher: set teacher (a flux-tune run directory, or a .safetensors / .pth file of teacherModel)');
  const src = cfg.teacher;
  if (!fs.existsSync(src)) throw new Error(`teacher ${src}: no such file or directory`);
  let model: FluxViT;
  if (fs.statSync(src).isDirectory()) {
    model = loadRun(src).model;
  } else {
    model = createModel(cfg.teacherModel as FluxViTName, cfg.teacherOverrides);
    try {
      await model.load(src);
    } catch (e) {
      model.dispose();
      if (e instanceof Error && !e.message.includes(src)) e.message = `teacher ${src}: ${e.message}`;
      throw e;
    }
  }
  return { teacher: fluxViTTeacher(model), model, source: src };
}

/** The student of a config: `model` + `modelOverrides`, one projector, drop path `dropPath`, seeded by `seed`. */
export function createStudent(cfg: PretrainConfig): FluxViT {
  return createModel(cfg.model as FluxViTName, { ...(cfg.modelOverrides as object), numClasses: 1, headTokenCounts: [teacherTokensOf(cfg)], dropPathRate: cfg.dropPath }, cfg.seed);
}

export interface PretrainOptions {
  out: string;
  resume?: boolean;
  overwrite?: boolean;
  /** A teacher built by the caller (default: {@link loadTeacher} from the config). Not disposed by `pretrain`. */
  teacher?: Teacher;
  /** The training clips (default: the config's train split). */
  dataset?: ClipDataset;
  quiet?: boolean;
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  stopAfter?: number;
  lossHook?: (step: number, loss: number) => number;
  onStep?: (record: StepRecord) => void;
  onWarning?: (message: string) => void;
}

export interface PretrainResult {
  runDir: string;
  steps: number;
  finalLoss: number;
  losses: { step: number; loss: number }[];
  seconds: number;
  /** `<run>/student.safetensors` (when the run finished). */
  studentFile: string | null;
  /** Median milliseconds of the teacher's forward (selection included) per batch in this process. */
  teacherMs: number | null;
  /** Median step milliseconds in this process. */
  stepMs: number | null;
  student: FluxViT;
  alreadyComplete: boolean;
}

/** Config keys that change the trajectory (checked on resume). */
export function pretrainResumeKeys(cfg: PretrainConfig): string[] {
  return Object.keys(cfg).filter((k) => !['backend', 'checkpointEvery', 'keepCheckpoints'].includes(k));
}

/** Runs (or resumes) one Flux-UMT / vanilla UMT pretraining run. */
export async function pretrain(cfg: PretrainConfig, options: PretrainOptions): Promise<PretrainResult> {
  const own = options.teacher ? null : await loadTeacher(cfg);
  const teacher = options.teacher ?? own!.teacher;
  const student = createStudent(cfg);
  try {
    const dataset = options.dataset ?? openDataset('train', { ...cfg, valClips: 1, valData: null, testData: null });
    const objective = new UmtObjective(teacher, student, cfg, dataset);
    const teacherMs: number[] = [];
    const stepMs: number[] = [];
    const r = await train({
      objective,
      out: options.out,
      resume: options.resume ?? false,
      overwrite: options.overwrite ?? false,
      config: cfg as unknown as Record<string, unknown>,
      resumeKeys: pretrainResumeKeys(cfg),
      steps: cfg.steps,
      seed: cfg.seed,
      lr: (step) => cosineLr(step, { baseLr: cfg.lr, totalSteps: cfg.steps, warmupSteps: cfg.warmupSteps, minLr: cfg.minLr }),
      optimizer: { beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay, maxGradNorm: cfg.clipGrad },
      checkpointEvery: cfg.checkpointEvery,
      keep: cfg.keepCheckpoints,
      onStart: async () => {
        if (!cfg.studentInit) return;
        const { file, tensors } = await readWeightsFile(cfg.studentInit);
        initFromWeights(student, tensors, file);
      },
      label: `pretrain ${cfg.mode} (ρ ${maskRatiosOf(cfg).join('/')})`,
      quiet: options.quiet ?? false,
      ...(options.progressStream ? { progressStream: options.progressStream } : {}),
      ...(options.stopAfter !== undefined ? { stopAfter: options.stopAfter } : {}),
      ...(options.lossHook ? { lossHook: options.lossHook } : {}),
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      onStep: (rec) => {
        if (typeof rec.teacherMs === 'number') teacherMs.push(rec.teacherMs);
        stepMs.push(rec.ms);
        options.onStep?.(rec);
      },
    });
    objective.heads.dispose();
    const studentFile = path.join(r.runDir, 'student.safetensors');
    if (r.steps === cfg.steps && r.lastCheckpoint && !(r.alreadyComplete && fs.existsSync(studentFile))) {
      const bytes = serializeSafetensors(student.stateDict(), { format: 'pt', producer: '@flux/umt', mode: cfg.mode });
      const result = JSON.stringify({ steps: cfg.steps, finalLoss: r.finalLoss, mode: cfg.mode, maskRatios: maskRatiosOf(cfg), teacherTokens: teacherTokensOf(cfg), teacherMs: median(teacherMs), stepMs: median(stepMs) }, null, 2) + '\n';
      atomicWriteFileSync(studentFile, bytes);
      atomicWriteFileSync(path.join(r.runDir, 'result.json'), result);
      atomicWriteFileSync(path.join(r.runDir, CHECKSUMS_FILE), checksumRecord({ 'student.safetensors': bytes, 'result.json': result }));
    }
    return {
      runDir: r.runDir,
      steps: r.steps,
      finalLoss: r.finalLoss,
      losses: r.losses,
      seconds: r.seconds,
      studentFile: fs.existsSync(studentFile) && r.steps === cfg.steps ? studentFile : null,
      teacherMs: median(teacherMs),
      stepMs: median(stepMs),
      student,
      alreadyComplete: r.alreadyComplete,
    };
  } catch (err) {
    student.dispose();
    throw err;
  } finally {
    own?.teacher.dispose?.();
  }
}

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
