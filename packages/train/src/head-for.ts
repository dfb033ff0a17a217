/** Which classifier head serves a token count (no file system: shared by the Node and browser entries). */

/** The head trained for the token count closest to `k` (in log scale); head 0 when k is omitted. */
export function headFor(k: number | undefined, headTokenCounts: readonly number[]): number {
  if (k === undefined || headTokenCounts.length <= 1) return 0;
  let best = 0;
  let bestD = Infinity;
  headTokenCounts.forEach((c, j) => {
    const d = Math.abs(Math.log(k / c));
    if (d < bestD - 1e-12) {
      bestD = d;
      best = j;
    }
  });
  return best;
}
