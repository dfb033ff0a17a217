/**
 * Deterministic top-K on plain arrays: higher score first, the lower index wins a tie, NaN ranks lowest.
 */

/**
 * Writes into `out` (from `outOffset`) the positions (relative to `start`, plus `indexBase`) of the `k`
 * highest of `scores[start .. start+len)`, ties to the lower position, in ascending position order.
 * Returns the number written (= min(k, len)).
 *
 * Finds the k-th largest value with a native typed-array sort (no comparator), then takes every score above
 * it and, in index order, as many scores equal to it as the quota still needs — one ascending pass.
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
  const vals = new Float64Array(len);
  for (let i = 0; i < len; i++) {
    const v = scores[start + i];
    vals[i] = v === v ? v : -Infinity;
  }
  const threshold = vals.slice().sort()[len - k];
  let above = 0;
  for (let i = 0; i < len; i++) if (vals[i] > threshold) above++;
  let ties = k - above;
  let w = outOffset;
  for (let i = 0; i < len; i++) {
    const v = vals[i];
    if (v > threshold || (v === threshold && ties-- > 0)) out[w++] = indexBase + i;
  }
  return k;
}
