/**
 * Retrieval and zero-shot evaluation on similarity matrices: text→video and video→text recall@K, with or without
 * dual softmax (`S ⊙ softmax(S, dim 0)`, InternVideo2's `dual_softmax` re-weighting over the query axis), where a
 * retrieved item counts as correct when its caption equals the query's — so with duplicate captions a query has
 * several correct items and the chance level of R@K is 1 − C(N−m, K)/C(N, K) averaged over the queries (m the
 * query's correct items among N).
 */

export interface Recall {
  /** Recall at each K (fractions), in `ks` order. */
  at: Record<number, number>;
  /** The chance level of each R@K for these groups (random ranking). */
  chance: Record<number, number>;
  /** Queries. */
  n: number;
}

export interface RetrievalResult {
  t2v: Recall;
  v2t: Recall;
}

/** Softmax over axis 0 of a row-major [rows, cols] matrix, multiplied into it: S ⊙ softmax(S, dim 0). */
export function dualSoftmax(s: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    let max = -Infinity;
    for (let r = 0; r < rows; r++) max = Math.max(max, s[r * cols + c]!);
    let sum = 0;
    for (let r = 0; r < rows; r++) sum += Math.exp(s[r * cols + c]! - max);
    for (let r = 0; r < rows; r++) out[r * cols + c] = s[r * cols + c]! * (Math.exp(s[r * cols + c]! - max) / sum);
  }
  return out;
}

/** log C(n, k). */
function logChoose(n: number, k: number): number {
  if (k < 0 || k > n) return -Infinity;
  let s = 0;
  for (let i = 0; i < k; i++) s += Math.log(n - i) - Math.log(i + 1);
  return s;
}

/** P(at least one of m correct items among the top K of N in random order). */
export function chanceAtK(n: number, m: number, k: number): number {
  if (m <= 0) return 0;
  if (k >= n) return 1;
  return 1 - Math.exp(logChoose(n - m, k) - logChoose(n, k));
}

/**
 * Recall@K of queries (rows of `s` [Q, N], higher = more similar) against items: a query is a hit at K when an
 * item with its group is among its top K (ties broken against the query: an item scoring equal to the best
 * correct one ranks before it).
 */
export function recallAtK(s: Float32Array, queries: ArrayLike<number>, items: ArrayLike<number>, ks: readonly number[] = [1, 5, 10]): Recall {
  const q = queries.length;
  const n = items.length;
  if (s.length !== q * n) throw new RangeError(`recallAtK: similarity has ${s.length} entries, expected ${q}×${n}`);
  for (const k of ks) if (!Number.isInteger(k) || k < 1) throw new RangeError(`recallAtK: K must be a positive integer, got ${k}`);
  const hits = new Map(ks.map((k) => [k, 0]));
  const chance = new Map(ks.map((k) => [k, 0]));
  for (let i = 0; i < q; i++) {
    let best = -Infinity;
    let m = 0;
    for (let j = 0; j < n; j++) {
      if (items[j] === queries[i]) {
        m++;
        const v = s[i * n + j]!;
        if (!Number.isNaN(v) && v > best) best = v;
      }
    }
    // Rank of the best correct item: items scoring ≥ it that are wrong come first (NaN scores rank last).
    let rank = 0;
    if (m > 0) for (let j = 0; j < n; j++) if (items[j] !== queries[i] && s[i * n + j]! >= best) rank++;
    for (const k of ks) {
      if (m > 0 && rank < k) hits.set(k, hits.get(k)! + 1);
      chance.set(k, chance.get(k)! + chanceAtK(n, m, k));
    }
  }
  return {
    at: Object.fromEntries(ks.map((k) => [k, hits.get(k)! / q])),
    chance: Object.fromEntries(ks.map((k) => [k, chance.get(k)! / q])),
    n: q,
  };
}

/**
 * Text→video and video→text recall from a text×video similarity matrix `s` [T, V] and the caption groups of the
 * texts and the videos; `dual` applies dual softmax over the query axis first.
 */
export function retrievalMetrics(s: Float32Array, textGroups: ArrayLike<number>, videoGroups: ArrayLike<number>, options: { dual?: boolean; ks?: number[] } = {}): RetrievalResult {
  const t = textGroups.length;
  const v = videoGroups.length;
  const ks = options.ks ?? [1, 5, 10];
  const st = transpose(s, t, v); // [V, T]
  const t2v = options.dual ? dualSoftmax(s, t, v) : s;
  const v2t = options.dual ? dualSoftmax(st, v, t) : st;
  return { t2v: recallAtK(t2v, textGroups, videoGroups, ks), v2t: recallAtK(v2t, videoGroups, textGroups, ks) };
}

function transpose(s: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = s[r * cols + c]!;
  return out;
}
