/**
 * Evaluation of a trained probe on held-out clips at several budgets: multiple-choice QA accuracy by option
 * likelihood (MVBench style: the option whose tokens have the highest mean log-probability after the visual
 * prefix and the question) and caption quality (greedy captions scored by event precision / recall / F1 against
 * the reference captions, Dream-1k style). Chance of the QA is the mean of 1/options over the questions asked.
 */
import { evalBatch, type ClipDataset } from '@flux/train';
import type { FluxViT } from '@flux/vit';
import * as tf from '@tensorflow/tfjs-core';

import { meanEventScore, type EventScore } from './events.js';
import type { LanguageModel } from './lm.js';
import { CAPTION_PROMPT, bosOf, probeEmbeddings, questionPrompt, visualTokens, type ProbeText, type VisualMode } from './probe.js';
import type { MlpProjector } from './projector.js';
import type { TextTokenizer } from './text-tokenizer.js';

export interface ProbeEvalOptions {
  frames: number;
  size: number;
  patch: number;
  budgets: number[];
  visual: VisualMode;
  /** Test clips (the first N). */
  clips: number;
  /** Caption tokens generated at most. */
  maxCaptionTokens: number;
  batchSize?: number;
}

export interface ProbeBudgetResult {
  tokens: number;
  qaAccuracy: number;
  qaChance: number;
  questions: number;
  /** QA by question kind (direction, speed, digit, count, …): accuracy, chance and number of questions. */
  byKind: Record<string, { accuracy: number; chance: number; questions: number }>;
  caption: EventScore;
  /** A few generated captions with their references (for the report). */
  samples: { pred: string; ref: string }[];
}

export interface ProbeParts {
  encoder: FluxViT;
  lm: LanguageModel;
  tokenizer: TextTokenizer;
  projector: MlpProjector;
}

/** BOS + visual tokens + prompt embeddings [B, 1 + N + |prompt|, D] (the order the probe is trained on). */
function prefixFor(p: ProbeParts, visual: tf.Tensor3D, prompt: number[]): tf.Tensor3D {
  return tf.tidy(() => {
    const b = visual.shape[0];
    const ids = tf.tensor2d(Int32Array.from(Array.from({ length: b }, () => [bosOf(p.tokenizer), ...prompt]).flat()), [b, prompt.length + 1], 'int32');
    return probeEmbeddings(p.lm, p.projector, visual, ids);
  });
}

export async function evaluateProbe(p: ProbeParts, data: ClipDataset, text: (indices: readonly number[]) => ProbeText[] | Promise<ProbeText[]>, o: ProbeEvalOptions): Promise<ProbeBudgetResult[]> {
  const n = Math.min(o.clips, data.count);
  const B = o.batchSize ?? 16;
  const full = o.frames * (o.size / o.patch) ** 2;
  const captionPrompt = p.tokenizer.encode(CAPTION_PROMPT, { addBos: false });
  const stop = [...new Set([p.tokenizer.eosId, p.tokenizer.bosId, ...p.tokenizer.encode('.', { addBos: false }).slice(-1)].filter((x): x is number => x !== null))];
  const out: ProbeBudgetResult[] = [];
  for (const k of o.budgets) {
    const pairs: { pred: string; ref: string }[] = [];
    const kinds: Record<string, { right: number; chance: number; questions: number }> = {};
    for (let s = 0; s < n; s += B) {
      const idx = Array.from({ length: Math.min(B, n - s) }, (_, i) => s + i);
      const { video } = await evalBatch(data, idx, o.frames, o.size);
      const visual = visualTokens(p.encoder, video, k < full ? k : undefined, o.visual);
      video.dispose();
      const texts = await text(idx);
      // Captions: greedy from the visual prefix + the caption prompt, one batch.
      const cp = prefixFor(p, visual, captionPrompt);
      const gen = p.lm.generate(cp, { maxTokens: o.maxCaptionTokens, stopIds: stop });
      cp.dispose();
      gen.forEach((g, i) => {
        const kept = [...g].filter((t) => !stop.includes(t));
        pairs.push({ pred: kept.length ? p.tokenizer.decode(kept).trim() : '', ref: texts[i]!.caption });
      });
      // Questions: one prefix per (clip, question), repeated per option.
      for (let i = 0; i < idx.length; i++) {
        for (const q of texts[i]!.qa) {
          const one = tf.tidy(() => tf.slice(visual, [i, 0, 0], [1, -1, -1]) as tf.Tensor3D);
          const rep = tf.tidy(() => tf.tile(one, [q.options.length, 1, 1]) as tf.Tensor3D);
          const prefix = prefixFor(p, rep, p.tokenizer.encode(questionPrompt(q), { addBos: false }));
          const conts = q.options.map((opt) => Int32Array.from(p.tokenizer.encode(` ${opt}`, { addBos: false })));
          const ll = p.lm.logLikelihood(prefix, conts);
          tf.dispose([one, rep, prefix]);
          let best = 0;
          for (let j = 1; j < conts.length; j++) if (ll[j]! / conts[j]!.length > ll[best]! / conts[best]!.length) best = j;
          const kind = (kinds[q.kind] ??= { right: 0, chance: 0, questions: 0 });
          if (best === q.answer) kind.right++;
          kind.questions++;
          kind.chance += 1 / q.options.length;
        }
      }
      visual.dispose();
    }
    // The overall QA figures are the sums over the kinds.
    const all = Object.values(kinds).reduce((a, v) => ({ right: a.right + v.right, chance: a.chance + v.chance, questions: a.questions + v.questions }), { right: 0, chance: 0, questions: 0 });
    const questions = all.questions;
    out.push({ tokens: k, qaAccuracy: questions ? all.right / questions : 0, qaChance: questions ? all.chance / questions : 0, questions, byKind: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, { accuracy: v.right / v.questions, chance: v.chance / v.questions, questions: v.questions }])), caption: meanEventScore(pairs), samples: pairs.slice(0, 4) });
  }
  return out;
}
