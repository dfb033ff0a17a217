/**
 * Sparse groups of the group-dynamic selector: contiguous chunks of frames, and how many tokens each keeps.
 */

/**
 * The paper's (and the official release's) group count for F frames: 4 if F is divisible by 4, 1 for
 * F = 2, else 2 — never more groups than frames (F = 1 → 1).
 */
export function autoGroups(frames: number): number {
  if (frames % 4 === 0) return 4;
  if (frames <= 2) return 1;
  return 2;
}

/** Resolves the `groups` option for F frames; throws if an explicit count is not in 1..F. */
export function resolveGroups(frames: number, groups: number | 'auto' = 'auto'): number {
  if (groups === 'auto') return autoGroups(frames);
  if (!Number.isInteger(groups) || groups < 1 || groups > frames) {
    throw new RangeError(`selector: groups must be 'auto' or an integer in 1..${frames} (the frame count), got ${groups}`);
  }
  return groups;
}

/**
 * Frame boundaries of G contiguous groups over F frames: G+1 numbers, group g spans frames
 * [bounds[g], bounds[g+1]). Equal chunks of F/G when G divides F (the paper's case), else chunk sizes
 * differ by at most one (⌊g·F/G⌋ boundaries, so later groups are the larger ones).
 */
export function groupBounds(frames: number, groups: number): number[] {
  const bounds: number[] = [];
  for (let g = 0; g <= groups; g++) bounds.push(Math.floor((g * frames) / groups));
  return bounds;
}

/**
 * How many tokens each group keeps so that exactly `k` are kept in total: ⌊k/G⌋ each, the k mod G remainder
 * one each to the first groups, and any quota above a group's size (unequal groups only) moved to the next
 * groups that still have room. `sizes` are the groups' token counts; requires k ≤ Σ sizes.
 */
export function groupQuotas(sizes: readonly number[], k: number): number[] {
  const g = sizes.length;
  const total = sizes.reduce((a, b) => a + b, 0);
  if (k > total) throw new RangeError(`groupQuotas: k (${k}) exceeds the token count (${total})`);
  const base = Math.floor(k / g);
  const quotas = sizes.map((_, i) => base + (i < k % g ? 1 : 0));
  let excess = 0;
  for (let i = 0; i < g; i++) {
    if (quotas[i] > sizes[i]) {
      excess += quotas[i] - sizes[i];
      quotas[i] = sizes[i];
    }
  }
  for (let i = 0; excess > 0 && i < g; i++) {
    const room = Math.min(sizes[i] - quotas[i], excess);
    quotas[i] += room;
    excess -= room;
  }
  return quotas;
}
