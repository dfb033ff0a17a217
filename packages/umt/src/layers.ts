/**
 * Which layers are aligned: the student's last `count` blocks with `count` evenly spaced teacher blocks.
 */

/**
 * Teacher blocks (0-based), deepest first: `L − 1 − ⌊i·interval⌋` for i < count — the rule of UMT's
 * `engine_for_pretraining_umt.py` (`return_index`). The default interval L / (2·count) spaces the layers over
 * the upper half of the teacher and reproduces both official choices: CLIP-B (L = 12) → 11, 10, 9, 8, 7, 6 and
 * InternVideo2-1B (L = 40) → 39, 36, 33, 29, 26, 23; it is at least 1 (a shallow teacher gives its last `count`
 * blocks). Fewer layers than `count` when the teacher is shallower.
 */
export function teacherLayers(depth: number, count = 6, interval?: number): number[] {
  checkDepth(depth, count);
  const n = Math.min(count, depth);
  const step = interval ?? Math.max(1, depth / (2 * n));
  if (!(step > 0) || !Number.isFinite(step)) throw new RangeError(`teacherLayers: interval must be > 0, got ${step}`);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const layer = depth - 1 - Math.floor(i * step + 1e-9);
    if (layer < 0) throw new RangeError(`teacherLayers: interval ${step} runs past the first block of a ${depth}-block teacher`);
    out.push(layer);
  }
  if (new Set(out).size !== out.length) throw new RangeError(`teacherLayers: interval ${step} picks a block twice (${out.join(', ')}); use an interval ≥ 1`);
  return out;
}

/** Student blocks aligned with {@link teacherLayers}, deepest first: L − 1, L − 2, …, L − count (UMT / InternVideo2: 11..6 for a 12-block student). */
export function studentLayers(depth: number, count = 6): number[] {
  checkDepth(depth, count);
  const n = Math.min(count, depth);
  return Array.from({ length: n }, (_, i) => depth - 1 - i);
}

function checkDepth(depth: number, count: number): void {
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`depth must be a positive integer, got ${depth}`);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`aligned layer count must be a positive integer, got ${count}`);
}
