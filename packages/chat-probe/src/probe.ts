/**
 * The chat probe: a frozen FluxViT and a frozen language model joined by a trained {@link MlpProjector}. Visual
 * tokens of a clip at a budget (the last block's outputs at the kept tokens, CLS first — or the pooled feature as
 * one token) are projected into the LM's embedding space as a prefix; the LM reads `BOS + prompt` after it and the
 * loss is the cross-entropy of the answer / caption tokens only. Tasks on the embedded default: captions ("Describe
 * the video.") and multiple-choice questions (direction, speed, digit identity).
 */
import { Rng, type TensorRecord } from '@flux/core';
import { ClipBatcher, gridSampling, type ClipDataset, type NamedParam, type Objective, type StepLoss } from '@flux/train';
import type { QaItem } from '@flux/video';
import type { FluxViT } from '@flux/vit';
import * as tf from '@tensorflow/tfjs-core';

import type { LanguageModel } from './lm.js';
import { MlpProjector } from './projector.js';
import type { TextTokenizer } from './text-tokenizer.js';

export type VisualMode = 'tokens' | 'pooled';

/** The tokenizer's BOS id (1, Llama's, when it has none). */
export function bosOf(t: TextTokenizer): number {
  return t.bosId ?? 1;
}

/** Visual tokens of clips at `k` kept tokens (all when omitted): [B, 1+K, C] block outputs, or [B, 1, D] pooled, each token layer-normalised (no affine). Runs outside any tape. */
export function visualTokens(encoder: FluxViT, video: tf.Tensor5D, k: number | undefined, mode: VisualMode): tf.Tensor3D {
  return tf.tidy(() => {
    const r = encoder.forward(video, { ...(k !== undefined ? { k } : {}), returnLayers: mode === 'tokens' ? [-1] : [], training: false, reuseEmbedding: true });
    const x = mode === 'tokens' ? r.layers![0]! : (tf.expandDims(r.pooled, 1) as tf.Tensor3D);
    // Parameter-free LayerNorm per token: the residual stream of the last block is unnormalised (FluxViT has no
    // final norm), and its scale would otherwise set the prefix's scale in the LM's embedding space.
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))) as tf.Tensor3D;
  });
}

/**
 * The LM input of the probe [B, 1 + N + T − 1, D]: the embedding of `ids`' first token (BOS), the projected visual
 * tokens [B, N, C], then the embeddings of the rest of `ids` [B, T] (prompt, and target when training) — LLaVA's
 * order, the image after the start of the text. Training and evaluation both build their inputs here.
 */
export function probeEmbeddings(lm: LanguageModel, projector: MlpProjector, visual: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const e = lm.embed(ids);
    const t = e.shape[1];
    const parts = [tf.slice(e, [0, 0, 0], [-1, 1, -1]), projector.apply(visual)];
    if (t > 1) parts.push(tf.slice(e, [0, 1, 0], [-1, t - 1, -1]));
    return tf.concat(parts, 1) as tf.Tensor3D;
  });
}

/** What a clip's metadata must give the probe: its caption and its questions. */
export interface ProbeText {
  caption: string;
  qa: QaItem[];
}

/** The prompt and target of a caption example. */
export const CAPTION_PROMPT = 'Describe the video.';

/** Prompt of a multiple-choice question (the options are listed; the target is the right option's text). */
export function questionPrompt(q: QaItem): string {
  return `Question: ${q.question} Options: ${q.options.join(', ')}. Answer:`;
}

export interface ProbeConfig {
  frames: number;
  size: number;
  patch: number;
  /** Token budgets the projector is trained on (one per step, in turn) — one projector for every budget. */
  budgets: number[];
  visual: VisualMode;
  batchSize: number;
  /** Fraction of examples that are captions (the rest questions). */
  captionFraction: number;
  seed: number;
}

export interface ProbeBatch {
  visual: tf.Tensor3D;
  /** [B, T] BOS + prompt + target ids, right-padded (the visual tokens go in after BOS). */
  ids: tf.Tensor2D;
  /** Flat indices into [B·(N+T)] of the logits rows that predict target tokens, and those tokens. */
  rows: Int32Array;
  labels: Int32Array;
  /** Weight of each target token: 1 / (its example's target length) / B — every example counts the same, however many tokens its answer has. */
  weights: Float32Array;
  k: number;
}

export class ProbeObjective implements Objective<ProbeBatch> {
  readonly batcher: ClipBatcher;

  constructor(
    readonly encoder: FluxViT,
    readonly lm: LanguageModel,
    readonly tokenizer: TextTokenizer,
    readonly projector: MlpProjector,
    readonly cfg: ProbeConfig,
    readonly data: ClipDataset,
    readonly text: (indices: readonly number[]) => ProbeText[] | Promise<ProbeText[]>,
  ) {
    this.batcher = new ClipBatcher(gridSampling({ fixed: true, seed: cfg.seed, batchSize: cfg.batchSize, frames: cfg.frames, size: cfg.size, patch: cfg.patch, flexiFrames: [1, 1, 1], flexiSizes: [1, 1, 1], tokenThreshold: [0, 0] }), data);
  }

  params(): NamedParam[] {
    return [...this.projector.params].map(([name, variable]) => ({ name, variable }));
  }

  async batch(step: number): Promise<ProbeBatch> {
    const tb = await this.batcher.batch(step);
    tb.labels.dispose();
    const k = this.cfg.budgets[step % this.cfg.budgets.length]!;
    const full = this.cfg.frames * (this.cfg.size / this.cfg.patch) ** 2;
    const visual = visualTokens(this.encoder, tb.video, k < full ? k : undefined, this.cfg.visual);
    tb.video.dispose();
    const rng = new Rng(`probe-text/${this.cfg.seed}/${step}`);
    const texts = await this.text(tb.clipIndices);
    const seqs = texts.map((t) => {
      const caption = t.qa.length === 0 || rng.next() < this.cfg.captionFraction;
      const q = caption ? null : t.qa[rng.int(t.qa.length)]!;
      const prompt = [bosOf(this.tokenizer), ...this.tokenizer.encode(caption ? CAPTION_PROMPT : questionPrompt(q!), { addBos: false })];
      const target = this.tokenizer.encode(` ${caption ? t.caption : q!.options[q!.answer]!}`, { addBos: false });
      return { prompt, target };
    });
    const n = visual.shape[1];
    const T = Math.max(...seqs.map((s) => s.prompt.length + s.target.length));
    const ids = new Int32Array(seqs.length * T);
    const rows: number[] = [];
    const weights: number[] = [];
    const labels: number[] = [];
    seqs.forEach((s, b) => {
      const all = [...s.prompt, ...s.target];
      ids.set(all, b * T);
      for (let j = 0; j < s.target.length; j++) {
        rows.push(b * (n + T) + n + s.prompt.length - 1 + j);
        labels.push(s.target[j]!);
        weights.push(1 / s.target.length / seqs.length);
      }
    });
    return { visual, ids: tf.tensor2d(ids, [seqs.length, T], 'int32'), rows: Int32Array.from(rows), labels: Int32Array.from(labels), weights: Float32Array.from(weights), k };
  }

  loss(b: ProbeBatch): StepLoss {
    const total = tf.tidy(() => {
      const inputs = probeEmbeddings(this.lm, this.projector, b.visual, b.ids);
      const { logits } = this.lm.forward(inputs);
      const v = logits.shape[2];
      const picked = tf.gather(tf.reshape(logits, [-1, v]), tf.tensor1d(b.rows, 'int32'));
      const lp = tf.logSoftmax(picked, 1);
      const oneHot = tf.oneHot(tf.tensor1d(b.labels, 'int32'), v);
      // Mean over each example's answer tokens, then over the examples (a one-word answer weighs as much as a caption).
      return tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(lp, oneHot), 1), tf.tensor1d(b.weights)))) as tf.Scalar;
    });
    return { total };
  }

  disposeBatch(b: ProbeBatch): void {
    b.visual.dispose();
    b.ids.dispose();
  }

  describeBatch(b: ProbeBatch): Record<string, number> {
    return { tokens: b.k, targetTokens: b.labels.length };
  }

  stateDict(): Map<string, TensorRecord> {
    return this.projector.stateDict();
  }

  loadStateDict(t: Map<string, TensorRecord>, file: string): void {
    this.projector.loadStateDict(t, file);
  }
}
