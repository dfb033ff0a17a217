/**
 * Deterministic top-K on plain arrays: higher score first, the lower index wins a tie, NaN ranks lowest.
 */

/**
 * Writes into `out` (from `outOffset`) the positions (relative to `start`, plus `indexBase`) of the `k`
 * highest of `scores[start .. start+len)`, ties to the lower position, in ascending position order.
 * Returns the number written (= k).
 */
export function topKInto(
  scores: ArrayLike<number>,
  start: number,
  len: number,
  k: number,
  out: Int32Array,
  outOffset: number,
  indexBase = 0,
): number {
  if (k <= 0) return 0;
  if (k >= len) {
    for (let i = 0; i < len; i++) out[outOffset + i] = indexBase + i;
    return len;
  }
  const order = new Uint32Array(len);
  const vals = new Float64Array(len);
  for (let i = 0; i < len; i++) {
    order[i] = i;
    const v = scores[start + i];
    vals[i] = Number.isNaN(v) ? -Infinity : v;
  }
  // A full sort is cheap at the sizes a selector sees (≤ a few thousand tokens per group).
  order.sort((a, b) => vals[b] - vals[a] || a - b);
  const chosen = order.subarray(0, k).sort();
  for (let i = 0; i < k; i++) out[outOffset + i] = indexBase + chosen[i];
  return k;
}
