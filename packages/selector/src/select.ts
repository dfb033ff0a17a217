/**
 * Token selection: which K of a clip's F·L patch tokens a FluxViT keeps.
 *
 * All selectors return int32 indices into the flattened F·L axis (index = t·L + i), sorted ascending per
 * clip, exactly K per clip (all F·L when K ≥ F·L). Scores are computed with tfjs ops on the tokens' own
 * backend and downloaded as [B,F,L] floats; the choice itself is plain JS, so it carries no gradient.
 */
import type { Rng } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { rngFor } from './rng.js';
import { groupBounds, groupQuotas, resolveGroups } from './groups.js';
import { checkNorm, frameDistances, frameDistancesData, groupScores, type DynamicsNorm } from './scores.js';
import { readFloat32 } from './tensor-data.js';
import { topKInto } from './topk.js';

/** Selection strategy (paper Table 2). */
export type SelectorMethod = 'group-dynamic' | 'dynamic' | 'tube' | 'random';

export const SELECTOR_METHODS: readonly SelectorMethod[] = ['group-dynamic', 'dynamic', 'tube', 'random'];

/** Options of {@link selectTokens}. */
export interface SelectorOptions {
  /** Strategy. Default `'group-dynamic'` (the paper's best: L2, 4 groups). */
  method?: SelectorMethod;
  /** Distance for token dynamics (group-dynamic, dynamic). Default `'l2'`. */
  norm?: DynamicsNorm;
  /**
   * Sparse groups for group-dynamic: a count in 1..F, or `'auto'` (default): 4 if F % 4 = 0, 1 if F = 2,
   * else 2. Ignored by the other methods (`dynamic` is group-dynamic with one group).
   */
  groups?: number | 'auto';
  /**
   * Where token dynamics are computed: `'js'` downloads the tokens and loops over them in JS (fastest when
   * the data already lives in CPU memory); `'backend'` runs tfjs ops on the tokens' backend and downloads
   * only the [B,F−1,L] distances (the choice for GPU / native backends). Default `'auto'`: `'js'` on the
   * `cpu` and `wasm` backends, `'backend'` elsewhere. Both give the same indices up to float rounding.
   */
  scoresOn?: 'auto' | 'js' | 'backend';
  /** Seed for `random` / `tube`: the same seed gives the same indices. */
  seed?: number;
  /**
   * Generator for `random` / `tube` (advanced; takes precedence over `seed`). Without either, a
   * process-wide stream seeded once is used, so successive calls draw fresh masks reproducibly.
   */
  rng?: Rng;
}

/** The number of indices kept per clip: min(K, F·L). */
export function keptCount(frames: number, tokensPerFrame: number, k: number): number {
  return Math.min(k, frames * tokensPerFrame);
}

/**
 * Group-dynamic selection on precomputed per-token scores [B,F,L] (row-major): keeps the top quota of every
 * group (see {@link groupQuotas}) — higher score first, lower index on ties, NaN lowest — and returns
 * [B, min(K, F·L)] indices sorted ascending. `groups = 1` is global top-K (the `dynamic` baseline).
 */
export function selectFromScores(scores: ArrayLike<number>, b: number, f: number, l: number, k: number, groups = 1): Int32Array {
  checkK(k);
  const n = f * l;
  if (scores.length !== b * n) throw new RangeError(`selectFromScores: expected ${b}·${f}·${l} = ${b * n} scores, got ${scores.length}`);
  const kept = keptCount(f, l, k);
  const out = new Int32Array(b * kept);
  if (kept === n) {
    for (let r = 0; r < b; r++) for (let i = 0; i < n; i++) out[r * n + i] = i;
    return out;
  }
  const bounds = groupBounds(f, groups);
  const sizes = bounds.slice(1).map((e, g) => (e - bounds[g]) * l);
  const quotas = groupQuotas(sizes, kept);
  for (let r = 0; r < b; r++) {
    let w = r * kept;
    for (let g = 0; g < groups; g++) {
      const start = bounds[g] * l;
      w += topKInto(scores, r * n + start, sizes[g], quotas[g], out, w, start);
    }
  }
  return out;
}

/** `random` baseline: K of F·L uniformly without replacement per clip (partial Fisher–Yates), sorted. */
export function randomIndices(b: number, n: number, k: number, rng: Rng): Int32Array {
  checkK(k);
  const kept = Math.min(k, n);
  const out = new Int32Array(b * kept);
  const perm = new Int32Array(n);
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < n; i++) perm[i] = i;
    if (kept < n) {
      for (let i = 0; i < kept; i++) {
        const j = i + rng.int(n - i);
        const t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
      }
    }
    const row = perm.slice(0, kept).sort();
    out.set(row, r * kept);
  }
  return out;
}

/**
 * `tube` baseline: the same random spatial positions in every frame. With K = q·F + r, every frame keeps
 * the first q positions of a random spatial permutation and r random frames also keep position q + 1.
 */
export function tubeIndices(b: number, f: number, l: number, k: number, rng: Rng): Int32Array {
  checkK(k);
  const n = f * l;
  const kept = Math.min(k, n);
  const out = new Int32Array(b * kept);
  const q = Math.floor(kept / f);
  const rem = kept - q * f;
  for (let r = 0; r < b; r++) {
    const spatial = rng.shuffle(Array.from({ length: l }, (_, i) => i));
    const extra = new Set(rng.shuffle(Array.from({ length: f }, (_, t) => t)).slice(0, rem));
    const cols = spatial.slice(0, q).sort((a, c) => a - c);
    let w = r * kept;
    for (let t = 0; t < f; t++) {
      const row: number[] = cols.slice();
      if (extra.has(t)) {
        row.push(spatial[q]);
        row.sort((a, c) => a - c);
      }
      for (const i of row) out[w++] = t * l + i;
    }
  }
  return out;
}

/** Result of {@link selectTokenIndices}: row-major int32 indices [batch, k]. */
export interface SelectedIndices {
  indices: Int32Array;
  batch: number;
  k: number;
}

/** {@link selectTokens} returning a plain Int32Array (no output tensor). */
export function selectTokenIndices(tokensIn: tf.Tensor, k: number, options: SelectorOptions = {}): SelectedIndices {
  if (tokensIn.rank !== 4) throw new RangeError(`selectTokens: tokens must be [B,F,L,C], got shape [${tokensIn.shape.join(',')}]`);
  const tokens = tokensIn as tf.Tensor4D;
  checkK(k);
  const method = options.method ?? 'group-dynamic';
  const norm = options.norm ?? 'l2';
  checkNorm(norm);
  const [b, f, l] = tokens.shape;
  const n = f * l;
  const kept = keptCount(f, l, k);
  let indices: Int32Array;
  switch (method) {
    case 'group-dynamic':
    case 'dynamic': {
      const groups = method === 'dynamic' ? 1 : resolveGroups(f, options.groups ?? 'auto');
      if (kept === n) {
        indices = selectFromScores(new Float32Array(b * n), b, f, l, k, 1);
        break;
      }
      const d = tokenDistances(tokens, norm, options.scoresOn ?? 'auto');
      indices = selectFromScores(groupScores(d, b, f, l, groups), b, f, l, k, groups);
      break;
    }
    case 'random':
      indices = randomIndices(b, n, k, rngFor(options, 'selectTokens'));
      break;
    case 'tube':
      indices = tubeIndices(b, f, l, k, rngFor(options, 'selectTokens'));
      break;
    default:
      throw new RangeError(`selectTokens: method must be one of ${SELECTOR_METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  }
  return { indices, batch: b, k: kept };
}

/**
 * Selects K tokens per clip. `tokens` [B,F,L,C] (any backend, float) → int32 [B, K] indices into the
 * flattened F·L axis (index = t·L + i), sorted ascending per row; K ≥ F·L keeps all ([B, F·L], 0..F·L−1).
 * Selection is on stop-gradient scores; pair it with {@link gatherTokens}, whose output keeps the gradient.
 */
export function selectTokens(tokens: tf.Tensor, k: number, options: SelectorOptions = {}): tf.Tensor2D {
  const { indices, batch, k: kept } = selectTokenIndices(tokens, k, options);
  return tf.tensor2d(indices, [batch, kept], 'int32');
}

/** Frame distances [B, F−1, L] as plain floats, computed where {@link SelectorOptions.scoresOn} says. */
function tokenDistances(tokens: tf.Tensor4D, norm: DynamicsNorm, where: 'auto' | 'js' | 'backend'): Float32Array {
  if (where !== 'auto' && where !== 'js' && where !== 'backend') {
    throw new RangeError(`selectTokens: scoresOn must be 'auto', 'js' or 'backend', got ${JSON.stringify(where)}`);
  }
  const [b, f, l, c] = tokens.shape;
  const backend = tf.getBackend();
  const js = where === 'js' || (where === 'auto' && (backend === 'cpu' || backend === 'wasm'));
  if (js) {
    if (tokens.dtype === 'float32') return frameDistancesData(readFloat32(tokens), b, f, l, c, norm);
    const x = tf.cast(tokens, 'float32');
    try {
      return frameDistancesData(readFloat32(x), b, f, l, c, norm);
    } finally {
      x.dispose();
    }
  }
  const dist = frameDistances(tokens, norm);
  try {
    return dist.dataSync() as Float32Array;
  } finally {
    dist.dispose();
  }
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`selector: k must be a positive integer, got ${k}`);
}
