/**
 * A Flux-CLIP run: the tokenizer's compact vocabulary from the training captions, the model (vision init from a
 * pretraining or tuning run when given), stage 1 (vision backbone frozen) and stage 2 (everything) as two
 * resumable runs of @flux/train's loop under `<out>/stage1` and `<out>/stage2`, and at the end
 * `<out>/model.safetensors`, `<out>/tokenizer.json`, `<out>/config.json`.
 */
import fs from 'node:fs';
import path from 'node:path';

import { CHECKSUMS_FILE, atomicWriteFileSync, checksumRecord, parseSafetensors, serializeSafetensors } from '@flux/core';
import { cosineLr, initFromWeights, openDataset, readWeightsFile, train, type ClipDataset, type StepRecord } from '@flux/train';
import { createModel, type FluxViTName } from '@flux/vit';

import { clipHeadCounts, type ClipConfig } from './config.js';
import { ClipModel } from './model.js';
import { ClipObjective } from './objective.js';
import { ClipTextTransformer } from './text-encoder.js';
import { ClipTokenizer } from './tokenizer.js';

export interface ClipTrainOptions {
  out: string;
  resume?: boolean;
  overwrite?: boolean;
  quiet?: boolean;
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  onStep?: (record: StepRecord & { stage: number }) => void;
  /** Stop after this many steps of the given stage (tests of resume). */
  stopAfter?: { stage: 1 | 2; steps: number };
  dataset?: ClipDataset;
}

export interface ClipTrainResult {
  out: string;
  model: ClipModel;
  tokenizer: ClipTokenizer;
  /** Final loss of each stage run. */
  finalLoss: { stage1: number | null; stage2: number | null };
  losses: { stage: number; step: number; loss: number }[];
  seconds: number;
  /** Whether the run finished (model.safetensors written). */
  complete: boolean;
}

/** Builds the model of a config (fresh weights; `tokenizer` sizes the text vocabulary). */
export function createClipModel(cfg: ClipConfig, tokenizer: ClipTokenizer, numClasses: number): ClipModel {
  const vision = createModel(cfg.model as FluxViTName, { ...(cfg.modelOverrides as object), numClasses, headTokenCounts: clipHeadCounts(cfg) }, cfg.seed);
  const text = new ClipTextTransformer({ vocabSize: tokenizer.vocabSize, contextLength: cfg.contextLength, width: cfg.textWidth, layers: cfg.textLayers, heads: cfg.textHeads, embedDim: cfg.embedDim, seed: cfg.seed });
  return new ClipModel(vision, text, { temperature: cfg.temperature, seed: cfg.seed });
}

/** The compact vocabulary of a dataset's captions. */
export async function corpusTokenizer(ds: ClipDataset, maxVocab: number): Promise<ClipTokenizer> {
  if (!ds.captions) throw new Error('the training data has no captions');
  const captions = await ds.captions(Array.from({ length: ds.count }, (_, i) => i));
  return ClipTokenizer.fromCorpus(captions, { maxVocab });
}

const resumeKeys = (cfg: ClipConfig) => Object.keys(cfg).filter((k) => !['backend', 'checkpointEvery', 'keepCheckpoints'].includes(k));

/** Runs (or resumes) both stages. */
export async function trainClip(cfg: ClipConfig, o: ClipTrainOptions): Promise<ClipTrainResult> {
  const t0 = performance.now();
  fs.mkdirSync(o.out, { recursive: true });
  const trainSet = o.dataset ?? openDataset('train', { ...cfg, valData: null, testData: null });
  const tokFile = path.join(o.out, 'tokenizer.json');
  let tokenizer: ClipTokenizer;
  if (o.resume && fs.existsSync(tokFile)) tokenizer = ClipTokenizer.fromJSON(JSON.parse(fs.readFileSync(tokFile, 'utf8')));
  else {
    tokenizer = await corpusTokenizer(trainSet, cfg.maxVocab);
    atomicWriteFileSync(tokFile, JSON.stringify(tokenizer.toJSON()) + '\n');
  }
  const model = createClipModel(cfg, tokenizer, trainSet.numClasses);
  const losses: ClipTrainResult['losses'] = [];
  const finalLoss: ClipTrainResult['finalLoss'] = { stage1: null, stage2: null };
  const total = cfg.stage1Steps + cfg.stage2Steps;
  let complete = true;
  try {
    let previous: string | null = null;
    for (const stage of [1, 2] as const) {
      const steps = stage === 1 ? cfg.stage1Steps : cfg.stage2Steps;
      if (steps === 0) continue;
      const dir = path.join(o.out, `stage${stage}`);
      const offset = stage === 1 ? 0 : cfg.stage1Steps;
      const from = previous;
      const r = await train({
        objective: new ClipObjective(model, tokenizer, cfg, trainSet, stage),
        out: dir,
        resume: (o.resume ?? false) && fs.existsSync(path.join(dir, 'config.json')),
        overwrite: o.overwrite ?? false,
        config: { ...cfg, stage } as unknown as Record<string, unknown>,
        resumeKeys: [...resumeKeys(cfg), 'stage'],
        steps,
        seed: `${cfg.seed}/stage${stage}`,
        // One cosine schedule over both stages (warmup at the start of stage 1).
        lr: (step) => cosineLr(step + offset, { baseLr: cfg.lr, totalSteps: total, warmupSteps: cfg.warmupSteps, minLr: cfg.minLr }),
        optimizer: { beta1: cfg.beta1, beta2: cfg.beta2, weightDecay: cfg.weightDecay, maxGradNorm: cfg.clipGrad, decay: (name, shape) => shape.length >= 2 && !/norm|bias|gamma|pos_embed|positional_embedding|cls_token|token_embedding|temp/.test(name) },
        checkpointEvery: cfg.checkpointEvery,
        keep: cfg.keepCheckpoints,
        onStart: async () => {
          if (from) {
            model.loadStateDict(parseSafetensors(fs.readFileSync(from), { name: from }).tensors, from);
          } else if (cfg.visionInit) {
            const w = await readWeightsFile(cfg.visionInit);
            initFromWeights(model.vision, w.tensors, w.file);
          }
        },
        label: `clip ${cfg.mode} stage ${stage}${stage === 1 ? ' (vision frozen)' : ''}`,
        quiet: o.quiet ?? false,
        ...(o.progressStream ? { progressStream: o.progressStream } : {}),
        ...(o.stopAfter?.stage === stage ? { stopAfter: o.stopAfter.steps } : {}),
        onStep: (rec) => {
          losses.push({ stage, step: rec.step, loss: rec.loss });
          o.onStep?.({ ...rec, stage });
        },
      });
      if (stage === 1) finalLoss.stage1 = r.finalLoss;
      else finalLoss.stage2 = r.finalLoss;
      if (r.steps < steps || !r.lastCheckpoint) {
        complete = false;
        break;
      }
      previous = path.join(r.lastCheckpoint, 'model.safetensors');
    }
    if (complete && previous) {
      const bytes = serializeSafetensors(model.stateDict(), { format: 'pt', producer: '@flux/clip' });
      const config = JSON.stringify(cfg, null, 2) + '\n';
      atomicWriteFileSync(path.join(o.out, 'model.safetensors'), bytes);
      atomicWriteFileSync(path.join(o.out, 'config.json'), config);
      const tok = fs.readFileSync(tokFile);
      atomicWriteFileSync(path.join(o.out, CHECKSUMS_FILE), checksumRecord({ 'model.safetensors': bytes, 'config.json': config, 'tokenizer.json': tok }));
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { out: o.out, model, tokenizer, finalLoss, losses, seconds: (performance.now() - t0) / 1000, complete };
}
