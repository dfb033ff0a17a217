/**
 * A built-in small Llama and its next-token trainer on @flux/train's loop, so a frozen LM that knows a corpus's
 * vocabulary (the embedded Moving-MNIST captions, say) can be built offline. Pair it with any
 * {@link TextTokenizer}; the stories260K `tokenizer.json` (512 tokens, byte fallback, so any English text) fits
 * the default vocabulary.
 *
 * Run directory (`out`): the engine's `config.json`, `metrics.jsonl`, `checkpoints/step-NNNNNN/` (weights in HF
 * names and layouts), and once finished `out/model/`, a Hugging Face folder {@link loadLlama} reads (with the
 * tokenizer files when the tokenizer is an {@link HfTokenizer}).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { Rng, type TensorRecord } from '@flux/core';
import { cosineLr, train, type NamedParam, type Objective, type StepLoss, type StepRecord } from '@flux/train';
import * as tf from '@tensorflow/tfjs-core';

import { LanguageModelError } from './lm-errors.js';
import { LlamaModel, llamaConfigToHf, type LlamaConfigInput } from './llama.js';
import { saveLlama } from './llama-io.js';
import { HfTokenizer, type TextTokenizer } from './text-tokenizer.js';

/** Defaults of {@link createTinyLlama}: 2 layers of width 64, 4 query / 2 kv heads, vocabulary 512 (stories260K's). */
export const TINY_LLAMA_DEFAULTS = Object.freeze({
  architecture: 'llama',
  vocabSize: 512,
  hiddenSize: 64,
  intermediateSize: 172,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  maxPositions: 256,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  tieWordEmbeddings: true,
  bosId: 1,
  eosIds: [2],
  seed: 0,
} as const satisfies LlamaConfigInput);

/** A randomly initialised {@link LlamaModel} (HF's init, seeded): {@link TINY_LLAMA_DEFAULTS} overridden by `config`. */
export function createTinyLlama(config: Partial<LlamaConfigInput> = {}): LlamaModel {
  return new LlamaModel({ ...TINY_LLAMA_DEFAULTS, eosIds: [...TINY_LLAMA_DEFAULTS.eosIds], ...config } as LlamaConfigInput);
}

export interface TrainLanguageModelOptions {
  steps: number;
  /** Sequences per step. */
  batchSize: number;
  /** Peak learning rate (AdamW, cosine decay after a linear warmup). */
  lr: number;
  /** Tokens per training sequence (inputs; BOS + text + EOS is cut to seqLen + 1 tokens). */
  seqLen: number;
  /** Run directory. */
  out: string;
  resume?: boolean;
  overwrite?: boolean;
  /** Batch-sampling seed (default 0). */
  seed?: number | string;
  /** Default min(10, steps / 10). */
  warmupSteps?: number;
  /** Default lr / 10. */
  minLr?: number;
  /** AdamW weight decay on matrices (not embeddings, norms or biases). Default 0.01. */
  weightDecay?: number;
  /** Global gradient-norm clip. Default 1. */
  clipGrad?: number;
  /** Default: steps / 4, at least 1. */
  checkpointEvery?: number;
  /** Checkpoints kept. Default 2. */
  keep?: number;
  quiet?: boolean;
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Stop after this many steps (tests of resume). */
  stopAfter?: number;
  onStep?: (record: StepRecord) => void;
}

export interface TrainLanguageModelResult {
  out: string;
  /** Steps done in total (== steps when complete). */
  steps: number;
  /** Loss of each step run in this call. */
  losses: { step: number; loss: number }[];
  finalLoss: number;
  /** Whether the run finished and `out/model/` was written. */
  complete: boolean;
  /** `out/model` when complete. */
  modelDir: string | null;
  seconds: number;
}

export interface LmBatch {
  /** int32 [B, seqLen] inputs. */
  ids: tf.Tensor2D;
  /** int32 [B, seqLen] next tokens. */
  targets: tf.Tensor2D;
  /** float32 [B, seqLen], 1 where the target is real. */
  mask: tf.Tensor2D;
  tokens: number;
}

/** Masked mean next-token cross-entropy of logits [B, T, V] against targets [B, T]. */
export function nextTokenLoss(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const V = logits.shape[2];
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(targets, V)), -1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, mask))), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}

/** Next-token prediction over tokenized texts (BOS + text + EOS each), one random text per row, right-padded. */
export class NextTokenObjective implements Objective<LmBatch> {
  private readonly sequences: Int32Array[];

  constructor(
    readonly model: LlamaModel,
    texts: readonly string[],
    tokenizer: TextTokenizer,
    readonly options: { batchSize: number; seqLen: number; seed: number | string },
  ) {
    if (model.frozen) throw new LanguageModelError('trainLanguageModel: the model is frozen');
    this.sequences = texts.map((t, i) => {
      if (typeof t !== 'string') throw new LanguageModelError(`trainLanguageModel: texts[${i}] is not a string`);
      const ids = [...(model.bosId !== null ? [model.bosId] : []), ...tokenizer.encode(t, { addBos: false }), ...(model.eosId !== null ? [model.eosId] : [])];
      const bad = ids.find((x) => x < 0 || x >= model.vocabSize);
      if (bad !== undefined) throw new LanguageModelError(`trainLanguageModel: texts[${i}] has token id ${bad}, outside the model's vocabulary 0…${model.vocabSize - 1} (tokenizer and model do not match)`);
      return Int32Array.from(ids.slice(0, options.seqLen + 1));
    });
    if (!this.sequences.some((s) => s.length >= 2)) throw new LanguageModelError('trainLanguageModel: no text gives two tokens or more');
  }

  params(): NamedParam[] {
    return this.model.names().map((name) => ({ name, variable: this.model.params.get(name)! }));
  }

  batch(step: number): LmBatch {
    const { batchSize: B, seqLen: T, seed } = this.options;
    const rng = new Rng(`lm-batch/${seed}/${step}`);
    const ids = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    const mask = new Float32Array(B * T);
    let tokens = 0;
    for (let b = 0; b < B; b++) {
      let s: Int32Array;
      do s = this.sequences[rng.int(this.sequences.length)]!;
      while (s.length < 2);
      for (let t = 0; t + 1 < s.length; t++) {
        ids[b * T + t] = s[t]!;
        targets[b * T + t] = s[t + 1]!;
        mask[b * T + t] = 1;
        tokens++;
      }
    }
    return { ids: tf.tensor2d(ids, [B, T], 'int32'), targets: tf.tensor2d(targets, [B, T], 'int32'), mask: tf.tensor2d(mask, [B, T]), tokens };
  }

  loss(b: LmBatch): StepLoss {
    const { logits } = this.model.forward(this.model.embed(b.ids));
    return { total: nextTokenLoss(logits, b.targets, b.mask) };
  }

  disposeBatch(b: LmBatch): void {
    tf.dispose([b.ids, b.targets, b.mask]);
  }

  describeBatch(b: LmBatch): Record<string, number> {
    return { tokens: b.tokens };
  }

  stateDict(): Map<string, TensorRecord> {
    return this.model.stateDict();
  }

  loadStateDict(tensors: Map<string, TensorRecord>, file: string): void {
    this.model.loadStateDict(tensors, file);
  }
}

/**
 * Trains `model` (in place) for next-token prediction on `texts` with @flux/train's `train()` in the resumable
 * run directory `out`. A resumed run continues bit for bit; the config (model, data hash, hyper-parameters) must
 * match the stored one.
 */
export async function trainLanguageModel(model: LlamaModel, texts: readonly string[], tokenizer: TextTokenizer, o: TrainLanguageModelOptions): Promise<TrainLanguageModelResult> {
  const t0 = performance.now();
  if (!Array.isArray(texts) || texts.length === 0) throw new LanguageModelError('trainLanguageModel: texts must be a non-empty array of strings');
  for (const k of ['steps', 'batchSize', 'seqLen'] as const) if (!Number.isInteger(o[k]) || o[k] < 1) throw new LanguageModelError(`trainLanguageModel: ${k} must be a positive integer, got ${String(o[k])}`);
  if (!(o.lr > 0)) throw new LanguageModelError(`trainLanguageModel: lr must be positive, got ${String(o.lr)}`);
  if (o.seqLen > model.maxPositions) throw new LanguageModelError(`trainLanguageModel: seqLen ${o.seqLen} is longer than the model's context ${model.maxPositions}`);
  const seed = o.seed ?? 0;
  const warmupSteps = o.warmupSteps ?? Math.min(10, Math.floor(o.steps / 10));
  const minLr = o.minLr ?? o.lr / 10;
  const objective = new NextTokenObjective(model, texts, tokenizer, { batchSize: o.batchSize, seqLen: o.seqLen, seed });
  const hash = crypto.createHash('sha256');
  for (const t of texts) hash.update(t).update('\0');
  const config = {
    model: llamaConfigToHf(model.config),
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    seqLen: o.seqLen,
    seed,
    warmupSteps,
    minLr,
    weightDecay: o.weightDecay ?? 0.01,
    clipGrad: o.clipGrad ?? 1,
    texts: texts.length,
    textsSha256: hash.digest('hex'),
  };
  fs.mkdirSync(o.out, { recursive: true });
  const r = await train({
    objective,
    out: o.out,
    resume: (o.resume ?? false) && fs.existsSync(path.join(o.out, 'config.json')),
    overwrite: o.overwrite ?? false,
    config,
    steps: o.steps,
    seed: `lm/${seed}`,
    lr: (step) => cosineLr(step, { baseLr: o.lr, totalSteps: o.steps, warmupSteps, minLr }),
    optimizer: { weightDecay: config.weightDecay, maxGradNorm: config.clipGrad, decay: (name, shape) => shape.length >= 2 && name !== 'model.embed_tokens.weight' },
    checkpointEvery: o.checkpointEvery ?? Math.max(1, Math.floor(o.steps / 4)),
    keep: o.keep ?? 2,
    label: 'language model',
    quiet: o.quiet ?? false,
    ...(o.progressStream ? { progressStream: o.progressStream } : {}),
    ...(o.stopAfter !== undefined ? { stopAfter: o.stopAfter } : {}),
    ...(o.onStep ? { onStep: o.onStep } : {}),
  });
  const complete = r.steps === o.steps;
  const modelDir = complete ? path.join(o.out, 'model') : null;
  if (modelDir) saveLlama(model, modelDir, tokenizer instanceof HfTokenizer ? { tokenizer } : {});
  return { out: o.out, steps: r.steps, losses: r.losses, finalLoss: r.finalLoss, complete, modelDir, seconds: (performance.now() - t0) / 1000 };
}
