/**
 * The double mask. The teacher sees K_t tokens of a (flexibly sampled) clip — every token on a fixed grid, or
 * the group-dynamic selection from a larger pool. The student sees the UMT mask of those: per segment of s
 * teacher tokens it keeps s − ⌊ρs⌋, drawn without replacement with probability ∝ the teacher's CLS→patch
 * attention (`@flux/selector`'s weighted sampler; the official UMT draws per frame with `torch.multinomial`).
 * Segments are frames when the teacher saw every token (exactly UMT's per-frame mask), and the selector's
 * frame groups when it saw a selection (every group holds the same number of teacher tokens, so every clip of
 * a batch keeps the same count).
 */
import { Rng } from '@flux/core';
import { groupBounds, resolveGroups, umtKeepCount, weightedSampleWithoutReplacement } from '@flux/selector';

/** How the student mask splits the teacher's tokens before sampling. */
export type MaskSegments = 'frame' | 'group' | 'clip';

export interface StudentMaskOptions {
  /** Mask ratio ρ in [0, 1). */
  ratio: number;
  /** Frames F and patches per frame L of the clip (indices are into F·L). */
  frames: number;
  patchesPerFrame: number;
  /** Segments: `frame` (UMT), `group` (the selector's groups), `clip` (one segment). */
  segments: MaskSegments;
  /** Group count of `group` segments (default: the selector's auto rule for F). */
  groups?: number | 'auto';
  rng: Rng;
}

export interface StudentMask {
  /** Positions into the teacher's token list, int32 [B, Ks] row-major, ascending per row. */
  positions: Int32Array;
  /** The same tokens as indices into the clip's F·L patches (the student's `indices`). */
  indices: Int32Array;
  batch: number;
  /** Tokens the student keeps per clip. */
  keep: number;
}

/**
 * The student's tokens out of the teacher's. `teacherIndices` int32 [B, K_t] (indices into F·L, any order);
 * `attention` the teacher's CLS attention [B, F·L] (only the entries at the teacher's tokens are read).
 */
export function studentMask(teacherIndices: Int32Array, kt: number, attention: ArrayLike<number>, options: StudentMaskOptions): StudentMask {
  const { ratio, frames: f, patchesPerFrame: l, rng } = options;
  if (!(ratio >= 0 && ratio < 1)) throw new RangeError(`studentMask: ratio must be in [0, 1), got ${ratio}`);
  const n = f * l;
  if (!Number.isInteger(kt) || kt < 1 || teacherIndices.length % kt !== 0) throw new RangeError(`studentMask: ${teacherIndices.length} teacher indices are not a whole number of rows of ${kt}`);
  const b = teacherIndices.length / kt;
  if (attention.length !== b * n) throw new RangeError(`studentMask: attention has ${attention.length} entries, expected ${b}×${n}`);
  const groups = options.segments === 'group' ? resolveGroups(f, options.groups ?? 'auto') : 1;
  const bounds = options.segments === 'group' ? groupBounds(f, groups) : [];
  const segmentOf = (frame: number): number => {
    if (options.segments === 'frame') return frame;
    if (options.segments === 'clip') return 0;
    let g = 0;
    while (frame >= bounds[g + 1]!) g++;
    return g;
  };
  const segCount = options.segments === 'frame' ? f : options.segments === 'group' ? groups : 1;

  const rows: Int32Array[] = [];
  let keep = -1;
  let sizesOfFirst = '';
  for (let r = 0; r < b; r++) {
    const buckets: number[][] = Array.from({ length: segCount }, () => []);
    for (let j = 0; j < kt; j++) {
      const idx = teacherIndices[r * kt + j]!;
      if (!Number.isInteger(idx) || idx < 0 || idx >= n) throw new RangeError(`studentMask: teacher index ${idx} out of range [0, ${n})`);
      buckets[segmentOf(Math.floor(idx / l))]!.push(j);
    }
    const sizes = buckets.map((x) => x.length).join(',');
    if (r === 0) sizesOfFirst = sizes;
    else if (sizes !== sizesOfFirst) {
      throw new RangeError(
        `studentMask: clip ${r} has ${options.segments} sizes [${sizes}] but clip 0 has [${sizesOfFirst}] — the clips of a batch would keep different token counts` +
          (options.segments === 'frame' ? " (use segments 'group' when the teacher sees a selection)" : ''),
      );
    }
    const picked: number[] = [];
    for (const bucket of buckets) {
      if (!bucket.length) continue;
      const w = bucket.map((j) => attention[r * n + teacherIndices[r * kt + j]!]!);
      const take = umtKeepCount(bucket.length, ratio);
      for (const i of weightedSampleWithoutReplacement(w, 0, bucket.length, take, rng)) picked.push(bucket[i]!);
    }
    picked.sort((x, y) => x - y);
    if (keep < 0) keep = picked.length;
    rows.push(Int32Array.from(picked));
  }
  const positions = new Int32Array(b * keep);
  const indices = new Int32Array(b * keep);
  rows.forEach((row, r) => {
    positions.set(row, r * keep);
    for (let j = 0; j < keep; j++) indices[r * keep + j] = teacherIndices[r * kt + row[j]!]!;
  });
  return { positions, indices, batch: b, keep };
}

/** Tokens a student keeps out of `kt` teacher tokens at ratio ρ with `segments` of the given sizes. */
export function studentKeepCount(segmentSizes: readonly number[], ratio: number): number {
  return segmentSizes.reduce((a, s) => a + (s ? umtKeepCount(s, ratio) : 0), 0);
}
