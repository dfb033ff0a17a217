/**
 * The language-model interface of the chat probe: what a visual probe / projector needs from a frozen LM.
 *
 * A model takes token embeddings (not ids) into `forward`, so a caller can put projected visual tokens in front of
 * the text: `forward(concat([projected, model.embed(ids)], 1))`. Decoding is incremental through a
 * {@link KVCache} the model creates and the caller passes back.
 */
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Keys and values of every attention layer for the positions seen so far. A cache belongs to the model that made
 * it; `forward` appends to it in place (and returns it). It holds its own tensors outside any `tf.tidy`; call
 * {@link KVCache.dispose} when done. It is for inference: no gradient flows through cached keys and values.
 */
export interface KVCache {
  /** Positions cached (the position of the next token). */
  readonly length: number;
  /** Rows (batch size) of the cache; 0 for a fresh cache that has seen nothing. */
  readonly batchSize: number;
  /** Keeps rows `rows` in that order (beam search: reorder, tile a row to several beams). */
  select(rows: ArrayLike<number>): void;
  dispose(): void;
}

export interface ForwardOptions {
  /** Decode incrementally: the inputs continue the cached positions (appended in place, returned as `cache`). */
  cache?: KVCache;
  /** Start a new cache for these inputs (returned as `cache`). Ignored when `cache` is given. */
  useCache?: boolean;
  /** Position of the first input (default: `cache.length`, else 0). With a cache it must equal `cache.length`. */
  startPos?: number;
}

export interface ForwardResult {
  /** float32 [B, T, vocabSize]. */
  logits: tf.Tensor3D;
  /** The cache, when one was passed or requested. */
  cache?: KVCache;
}

export interface GenerateOptions {
  /** New tokens at most (per row). */
  maxTokens: number;
  /** Ids that end a row (not included in the output). Default: the model's `eosId`, if it has one. Pass `[]` to never stop early. */
  stopIds?: number[];
  /** Beam width: greedy (argmax) decoding when ≤ 1 (the default), beam search otherwise. */
  beams?: number;
  /**
   * Token ids that follow the prefix, the same for every row (`number[]`) or one list per row (`Int32Array[]` /
   * `number[][]`; rows of different lengths are decoded one at a time). With a null prefix, these are the whole
   * context (include BOS yourself, as `tokenizer.encode(text, { addBos: true })` does).
   */
  promptIds?: ArrayLike<number> | ArrayLike<number>[];
}

/** A causal language model that reads embeddings (see the module comment). */
export interface LanguageModel {
  readonly vocabSize: number;
  /** Embedding width D (what `embed` returns and `forward` reads). */
  readonly dim: number;
  /** Beginning-of-sequence id (null: the model has none). A context that would be empty is `[bosId]`. */
  readonly bosId: number | null;
  /** End-of-sequence id (null: none); the default stop id of `generate`. */
  readonly eosId: number | null;
  /** Longest context (positions) the model accepts. */
  readonly maxPositions: number;
  /** int32 [B, T] → float32 [B, T, D]. Differentiable with respect to the embedding table. */
  embed(ids: tf.Tensor2D): tf.Tensor3D;
  /** Embeddings [B, T, D] → next-token logits [B, T, V] (causal). Differentiable with respect to inputs and weights (without a cache). */
  forward(inputs: tf.Tensor3D, options?: ForwardOptions): ForwardResult;
  /**
   * Σ log p(continuation[b][i] | prefix[b], continuation[b][<i]) per row: float32 [B]. `prefix` [B, P, D] (null:
   * `[bosId]` for every row); rows may have different lengths (padded internally; an empty row scores 0).
   */
  logLikelihood(prefix: tf.Tensor3D | null, continuation: ArrayLike<number>[]): Float32Array;
  /** New token ids per row (prefix [B, P, D] or null; see {@link GenerateOptions}). */
  generate(prefix: tf.Tensor3D | null, options: GenerateOptions): Int32Array[];
  /** The variables an optimizer may update ([] once frozen). */
  trainableVariables(): tf.Variable[];
  /** Every variable, by checkpoint name. */
  readonly params: Map<string, tf.Variable>;
  /** Marks every variable untrainable: no optimizer that asks for trainable variables touches them. Gradients still flow through. */
  freeze(): void;
  readonly frozen: boolean;
  dispose(): void;
}
