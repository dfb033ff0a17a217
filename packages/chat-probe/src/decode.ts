/**
 * Scoring and decoding over any {@link LanguageModel}: log-likelihoods of continuations, greedy decoding and
 * beam search with the model's KV cache. `LlamaModel`'s `logLikelihood` and `generate` are these functions.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { GenerateOptions, KVCache, LanguageModel } from './lm.js';
import { LanguageModelError } from './lm-errors.js';

/** Ids and the summed log-probability of each generated row (stop tokens that ended a row included in the sum). */
export interface Decoded {
  ids: Int32Array[];
  /** Σ log p(token) over each row's generated tokens, plus log p(stop) where a stop id ended the row. */
  logProbs: Float32Array;
}

function isRowList(p: GenerateOptions['promptIds']): p is ArrayLike<number>[] {
  return Array.isArray(p) && p.length > 0 && typeof p[0] !== 'number';
}

function checkIds(ids: ArrayLike<number>, vocab: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= vocab) throw new LanguageModelError(`${what}[${i}] = ${v} is not a token id (0…${vocab - 1})`);
  }
}

function checkPrefix(model: LanguageModel, prefix: tf.Tensor3D | null, what: string): void {
  if (prefix === null) return;
  if (!(prefix instanceof tf.Tensor) || prefix.rank !== 3 || prefix.dtype !== 'float32') throw new LanguageModelError(`${what}: prefix must be a float32 tf.Tensor3D [B, P, D] or null`);
  if (prefix.shape[2] !== model.dim) throw new LanguageModelError(`${what}: prefix width ${prefix.shape[2]} is not the model's embedding width ${model.dim}`);
  if (prefix.shape[0] < 1) throw new LanguageModelError(`${what}: empty batch (B = 0)`);
}

function bosOf(model: LanguageModel, what: string): number {
  if (model.bosId === null) throw new LanguageModelError(`${what}: the context is empty and the model has no BOS id to start from; pass a prefix or prompt ids`);
  return model.bosId;
}

/**
 * The context embeddings [B, N, D]: the prefix, then the prompt ids embedded; `[bosId]` when both are empty.
 * `prompt` is one list shared by every row, or one per row (equal lengths).
 */
function contextEmbeddings(model: LanguageModel, prefix: tf.Tensor3D | null, prompt: ArrayLike<number>[] | null, rows: number, what: string): tf.Tensor3D {
  return tf.tidy(() => {
    const len = prompt ? prompt[0]!.length : 0;
    if (prefix === null && len === 0) return model.embed(tf.fill([rows, 1], bosOf(model, what), 'int32') as tf.Tensor2D);
    const parts: tf.Tensor3D[] = [];
    if (prefix) parts.push(prefix);
    if (len > 0) {
      const ids = new Int32Array(rows * len);
      for (let b = 0; b < rows; b++) ids.set(Array.from(prompt!.length === 1 ? prompt![0]! : prompt![b]!), b * len);
      parts.push(model.embed(tf.tensor2d(ids, [rows, len], 'int32')));
    }
    return (parts.length === 1 ? tf.clone(parts[0]!) : tf.concat(parts, 1)) as tf.Tensor3D;
  });
}

/** log-softmax of the last position's logits, one Float32Array [V] per row (then the logits are freed). */
function lastLogProbs(logits: tf.Tensor3D): Float32Array[] {
  const [b, t, v] = logits.shape;
  const lp = tf.tidy(() => tf.logSoftmax(tf.reshape(tf.slice(logits, [0, t - 1, 0], [b, 1, v]), [b, v])));
  logits.dispose();
  const data = lp.dataSync() as Float32Array;
  lp.dispose();
  return Array.from({ length: b }, (_, i) => data.subarray(i * v, (i + 1) * v));
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** See {@link LanguageModel.logLikelihood}. */
export function logLikelihood(model: LanguageModel, prefix: tf.Tensor3D | null, continuation: ArrayLike<number>[]): Float32Array {
  const what = 'logLikelihood';
  checkPrefix(model, prefix, what);
  if (!Array.isArray(continuation)) throw new LanguageModelError(`${what}: continuation must be an array of token-id lists (one per row)`);
  const B = prefix ? prefix.shape[0] : continuation.length;
  if (continuation.length !== B) throw new LanguageModelError(`${what}: ${continuation.length} continuation rows for a prefix batch of ${B}`);
  continuation.forEach((c, b) => checkIds(c, model.vocabSize, `${what}: continuation[${b}]`));
  const L = Math.max(0, ...continuation.map((c) => c.length));
  if (L === 0 || B === 0) return new Float32Array(B);
  const out = tf.tidy(() => {
    const ctx = prefix ?? model.embed(tf.fill([B, 1], bosOf(model, what), 'int32') as tf.Tensor2D);
    const P = ctx.shape[1];
    const ids = new Int32Array(B * L);
    const mask = new Float32Array(B * L);
    continuation.forEach((c, b) => {
      for (let i = 0; i < c.length; i++) {
        ids[b * L + i] = c[i]!;
        mask[b * L + i] = 1;
      }
    });
    // Right padding: a causal model's outputs at real positions never see the padding after them.
    const inputs = L > 1 ? tf.concat([ctx, model.embed(tf.slice(tf.tensor2d(ids, [B, L], 'int32'), [0, 0], [B, L - 1]))], 1) : ctx;
    const { logits } = model.forward(inputs as tf.Tensor3D);
    const V = logits.shape[2];
    const lp = tf.logSoftmax(tf.slice(logits, [0, P - 1, 0], [B, L, V]));
    const picked = tf.sum(tf.mul(lp, tf.oneHot(tf.tensor2d(ids, [B, L], 'int32'), V)), -1);
    return tf.sum(tf.mul(picked, tf.tensor2d(mask, [B, L])), -1);
  });
  const r = Float32Array.from(out.dataSync() as Float32Array);
  out.dispose();
  return r;
}

interface Resolved {
  rows: number;
  prompt: ArrayLike<number>[] | null;
  stop: Set<number>;
  maxTokens: number;
}

function resolve(model: LanguageModel, prefix: tf.Tensor3D | null, o: GenerateOptions, what: string): Resolved {
  if (o === null || typeof o !== 'object') throw new LanguageModelError(`${what}: options must be an object`);
  checkPrefix(model, prefix, what);
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 0) throw new LanguageModelError(`${what}: maxTokens must be an integer ≥ 0, got ${String(o.maxTokens)}`);
  const stopIds = o.stopIds ?? (model.eosId === null ? [] : [model.eosId]);
  checkIds(stopIds, model.vocabSize, `${what}: stopIds`);
  let prompt: ArrayLike<number>[] | null = null;
  if (o.promptIds !== undefined) {
    prompt = isRowList(o.promptIds) ? o.promptIds : [o.promptIds as ArrayLike<number>];
    prompt.forEach((p, i) => checkIds(p, model.vocabSize, `${what}: promptIds${isRowList(o.promptIds) ? `[${i}]` : ''}`));
  }
  const rows = prefix ? prefix.shape[0] : isRowList(o.promptIds) ? prompt!.length : 1;
  if (prompt && prompt.length !== 1 && prompt.length !== rows) throw new LanguageModelError(`${what}: ${prompt.length} prompt rows for a prefix batch of ${rows}`);
  return { rows, prompt, stop: new Set(stopIds), maxTokens: o.maxTokens };
}

/** Rows of different prompt lengths: decode each row alone. Otherwise null. */
function perRow(model: LanguageModel, prefix: tf.Tensor3D | null, o: GenerateOptions, r: Resolved, one: (p: tf.Tensor3D | null, o: GenerateOptions) => Decoded): Decoded | null {
  if (!r.prompt || r.prompt.length === 1 || r.prompt.every((p) => p.length === r.prompt![0]!.length)) return null;
  const ids: Int32Array[] = [];
  const logProbs = new Float32Array(r.rows);
  for (let b = 0; b < r.rows; b++) {
    const p = prefix ? tf.slice(prefix, [b, 0, 0], [1, -1, -1]) : null;
    try {
      const d = one(p, { ...o, promptIds: [r.prompt[b]!] });
      ids.push(d.ids[0]!);
      logProbs[b] = d.logProbs[0]!;
    } finally {
      p?.dispose();
    }
  }
  return { ids, logProbs };
}

function startContext(model: LanguageModel, ctx: tf.Tensor3D, what: string): { cache: KVCache; logp: Float32Array[] } {
  if (ctx.shape[1] > model.maxPositions) throw new LanguageModelError(`${what}: the context has ${ctx.shape[1]} positions, the model at most ${model.maxPositions}`);
  const { logits, cache } = model.forward(ctx, { useCache: true });
  if (!cache) {
    logits.dispose();
    throw new LanguageModelError(`${what}: the model returned no KV cache`);
  }
  return { cache, logp: lastLogProbs(logits) };
}

function step(model: LanguageModel, cache: KVCache, tokens: number[]): Float32Array[] {
  const x = tf.tidy(() => model.embed(tf.tensor2d(Int32Array.from(tokens), [tokens.length, 1], 'int32')));
  try {
    return lastLogProbs(model.forward(x, { cache }).logits);
  } finally {
    x.dispose();
  }
}

/**
 * Greedy (argmax, lowest id on ties) decoding of every row at once with the KV cache. A row ends at a stop id
 * (not included) or after `maxTokens`; decoding also ends when the context reaches `model.maxPositions`.
 */
export function greedyDecode(model: LanguageModel, prefix: tf.Tensor3D | null, o: GenerateOptions): Decoded {
  const what = 'generate';
  const r = resolve(model, prefix, o, what);
  const split = perRow(model, prefix, o, r, (p, oo) => greedyDecode(model, p, oo));
  if (split) return split;
  const out: number[][] = Array.from({ length: r.rows }, () => []);
  const logProbs = new Float32Array(r.rows);
  if (r.maxTokens === 0) return { ids: out.map((x) => Int32Array.from(x)), logProbs };
  const ctx = contextEmbeddings(model, prefix, r.prompt, r.rows, what);
  let started: { cache: KVCache; logp: Float32Array[] };
  try {
    started = startContext(model, ctx, what);
  } finally {
    ctx.dispose();
  }
  const { cache } = started;
  let logp = started.logp;
  try {
    const done = new Array<boolean>(r.rows).fill(false);
    for (let t = 0; t < r.maxTokens; t++) {
      const next = logp.map((l) => argmax(l));
      next.forEach((id, b) => {
        if (done[b]) return;
        logProbs[b] += logp[b]![id]!;
        if (r.stop.has(id)) done[b] = true;
        else out[b]!.push(id);
      });
      if (done.every(Boolean) || t === r.maxTokens - 1 || cache.length >= model.maxPositions) break;
      logp = step(model, cache, next);
    }
  } finally {
    cache.dispose();
  }
  return { ids: out.map((x) => Int32Array.from(x)), logProbs };
}

interface Hyp {
  tokens: number[];
  score: number;
}

/**
 * Beam search of width `beams` per row (rows are searched one after another, the beams of a row batched through
 * the KV cache). Scores are summed log-probabilities (no length penalty). A hypothesis ends at a stop id (not
 * included in its tokens, its log-probability included in its score) or at `maxTokens`; the search ends early
 * once a finished hypothesis scores at least as well as every live one (scores only fall). Returns the best
 * finished or live hypothesis. With `beams = 1` this is greedy decoding.
 */
export function beamSearch(model: LanguageModel, prefix: tf.Tensor3D | null, o: GenerateOptions): Decoded {
  const what = 'generate';
  const r = resolve(model, prefix, o, what);
  const k = o.beams ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new LanguageModelError(`${what}: beams must be an integer ≥ 1, got ${String(o.beams)}`);
  const ids: Int32Array[] = [];
  const logProbs = new Float32Array(r.rows);
  for (let b = 0; b < r.rows; b++) {
    const rowPrompt = r.prompt ? [r.prompt.length === 1 ? r.prompt[0]! : r.prompt[b]!] : null;
    if (r.maxTokens === 0) {
      ids.push(new Int32Array(0));
      continue;
    }
    const ctx = tf.tidy(() => contextEmbeddings(model, prefix ? tf.slice(prefix, [b, 0, 0], [1, -1, -1]) : null, rowPrompt, 1, what));
    let started: { cache: KVCache; logp: Float32Array[] };
    try {
      started = startContext(model, ctx, what);
    } finally {
      ctx.dispose();
    }
    const { cache } = started;
    let logp = started.logp;
    let live: Hyp[] = [{ tokens: [], score: 0 }];
    const finished: Hyp[] = [];
    try {
      for (let t = 0; t < r.maxTokens; t++) {
        const cands: { parent: number; id: number; score: number }[] = [];
        live.forEach((h, i) => {
          const l = logp[i]!;
          // The top 2k tokens of each beam: enough for k live continuations even if k of them are stop ids.
          const top = Array.from(l.keys()).sort((a, c) => l[c]! - l[a]! || a - c).slice(0, 2 * k);
          for (const id of top) cands.push({ parent: i, id, score: h.score + l[id]! });
        });
        cands.sort((a, c) => c.score - a.score || a.parent - c.parent || a.id - c.id);
        const next: { parent: number; id: number; score: number }[] = [];
        for (const c of cands) {
          if (next.length >= k) break;
          if (r.stop.has(c.id)) finished.push({ tokens: live[c.parent]!.tokens, score: c.score });
          else next.push(c);
        }
        live = next.map((c) => ({ tokens: [...live[c.parent]!.tokens, c.id], score: c.score }));
        const bestFinished = Math.max(-Infinity, ...finished.map((h) => h.score));
        const bestLive = Math.max(-Infinity, ...live.map((h) => h.score));
        if (live.length === 0 || bestFinished >= bestLive || t === r.maxTokens - 1 || cache.length >= model.maxPositions) break;
        cache.select(next.map((c) => c.parent));
        logp = step(model, cache, next.map((c) => c.id));
      }
    } finally {
      cache.dispose();
    }
    const all = [...finished, ...live];
    let best = all[0]!;
    for (const h of all) if (h.score > best.score) best = h;
    ids.push(Int32Array.from(best.tokens));
    logProbs[b] = best.score;
  }
  return { ids, logProbs };
}

/** Greedy when `beams ≤ 1`, beam search otherwise (see {@link greedyDecode}, {@link beamSearch}). */
export function decode(model: LanguageModel, prefix: tf.Tensor3D | null, o: GenerateOptions): Decoded {
  return (o?.beams ?? 1) <= 1 ? greedyDecode(model, prefix, o) : beamSearch(model, prefix, o);
}
