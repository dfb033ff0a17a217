/**
 * Trains the probe's projector on @flux/train's loop with the encoder and the language model frozen (the paper's
 * recipe: lr 1e-3, cosine schedule, 3 % warmup). The run directory holds the projector only
 * (`checkpoints/…/model.safetensors`, `projector.safetensors` at the end).
 */
import fs from 'node:fs';
import path from 'node:path';

import { CHECKSUMS_FILE, atomicWriteFileSync, checksumRecord, parseSafetensors, serializeSafetensors } from '@flux/core';
import { cosineLr, train, type ClipDataset, type StepRecord } from '@flux/train';
import type { FluxViT } from '@flux/vit';

import type { LanguageModel } from './lm.js';
import { ProbeObjective, type ProbeConfig, type ProbeText } from './probe.js';
import { MlpProjector } from './projector.js';
import type { TextTokenizer } from './text-tokenizer.js';

export interface TrainProbeOptions {
  encoder: FluxViT;
  lm: LanguageModel;
  tokenizer: TextTokenizer;
  data: ClipDataset;
  text: (indices: readonly number[]) => ProbeText[] | Promise<ProbeText[]>;
  cfg: ProbeConfig;
  steps: number;
  lr?: number;
  /** Hidden width of the projector (default 4 × the LM width). */
  hidden?: number;
  out: string;
  resume?: boolean;
  overwrite?: boolean;
  quiet?: boolean;
  stopAfter?: number;
  onStep?: (r: StepRecord) => void;
}

export interface TrainProbeResult {
  projector: MlpProjector;
  losses: { step: number; loss: number }[];
  finalLoss: number;
  seconds: number;
  complete: boolean;
}

export async function trainProbe(o: TrainProbeOptions): Promise<TrainProbeResult> {
  o.encoder.freeze();
  o.lm.freeze();
  const inDim = o.cfg.visual === 'tokens' ? o.encoder.config.embedDim : o.encoder.config.clipEmbedDim;
  const projector = new MlpProjector(inDim, o.hidden ?? 4 * o.lm.dim, o.lm.dim, o.cfg.seed);
  const objective = new ProbeObjective(o.encoder, o.lm, o.tokenizer, projector, o.cfg, o.data, o.text);
  const lr = o.lr ?? 1e-3;
  const warmup = Math.max(1, Math.round(0.03 * o.steps));
  try {
    const r = await train({
      objective,
      out: o.out,
      resume: o.resume ?? false,
      overwrite: o.overwrite ?? false,
      config: { ...o.cfg, steps: o.steps, lr, hidden: projector.hidden } as unknown as Record<string, unknown>,
      steps: o.steps,
      seed: o.cfg.seed,
      lr: (step) => cosineLr(step, { baseLr: lr, totalSteps: o.steps, warmupSteps: warmup, minLr: lr / 100 }),
      optimizer: { beta1: 0.9, beta2: 0.999, weightDecay: 0, maxGradNorm: 1 },
      checkpointEvery: Math.max(1, Math.floor(o.steps / 2)),
      keep: 1,
      label: `probe (${o.cfg.visual}, budgets ${o.cfg.budgets.join('/')})`,
      quiet: o.quiet ?? false,
      ...(o.stopAfter !== undefined ? { stopAfter: o.stopAfter } : {}),
      ...(o.onStep ? { onStep: o.onStep } : {}),
    });
    const complete = r.steps === o.steps;
    if (complete && !r.alreadyComplete) {
      const bytes = serializeSafetensors(projector.stateDict(), { format: 'pt', producer: '@flux/chat-probe' });
      atomicWriteFileSync(path.join(r.runDir, 'projector.safetensors'), bytes);
      atomicWriteFileSync(path.join(r.runDir, CHECKSUMS_FILE), checksumRecord({ 'projector.safetensors': bytes }));
    } else if (r.alreadyComplete && fs.existsSync(path.join(r.runDir, 'projector.safetensors'))) {
      const f = path.join(r.runDir, 'projector.safetensors');
      projector.loadStateDict(parseSafetensors(fs.readFileSync(f), { name: f }).tensors, f);
    }
    return { projector, losses: r.losses, finalLoss: r.finalLoss, seconds: r.seconds, complete };
  } catch (e) {
    projector.dispose();
    throw e;
  }
}
