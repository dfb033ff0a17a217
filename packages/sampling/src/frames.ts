/**
 * Which frames of a clip to decode: TSN segments (paper, official release).
 */
import type { Rng } from '@flux/core';

import { defaultRng } from './rng.js';

/** How a clip shorter than F frames is filled. */
export type ShortClip = 'repeat' | 'pad';

/** Options of {@link frameIndices}. */
export interface FrameIndexOptions {
  /**
   * Clips with fewer than F frames: `'repeat'` (default) stretches the clip — frame i → ⌊i·N/F⌋, every
   * source frame used ⌊F/N⌋ or ⌈F/N⌉ times, time order kept; `'pad'` takes 0..N−1 then repeats the last
   * frame (what the official loader does).
   */
  short?: ShortClip;
}

/**
 * F frame indices (0-based, non-decreasing) for a clip of `numFrames` frames. The clip is cut into F
 * segments at ⌊i·N/F⌋; training takes one uniformly random frame per segment, evaluation the segment's
 * centre frame ⌊(first + last)/2⌋. Without `rng`, training draws from a process-wide seeded stream.
 */
export function frameIndices(numFrames: number, frames: number, mode: 'train' | 'eval', rng?: Rng, options: FrameIndexOptions = {}): number[] {
  if (!Number.isInteger(numFrames) || numFrames < 1) throw new RangeError(`frameIndices: numFrames must be an integer ≥ 1, got ${numFrames}`);
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`frameIndices: frames must be an integer ≥ 1, got ${frames}`);
  if (mode !== 'train' && mode !== 'eval') throw new RangeError(`frameIndices: mode must be 'train' or 'eval', got ${JSON.stringify(mode)}`);
  const short = options.short ?? 'repeat';
  if (short !== 'repeat' && short !== 'pad') throw new RangeError(`frameIndices: short must be 'repeat' or 'pad', got ${JSON.stringify(short)}`);
  if (numFrames < frames) {
    if (short === 'pad') return Array.from({ length: frames }, (_, i) => Math.min(i, numFrames - 1));
    return Array.from({ length: frames }, (_, i) => Math.floor((i * numFrames) / frames));
  }
  const r = rng ?? defaultRng;
  const out: number[] = [];
  for (let i = 0; i < frames; i++) {
    const lo = Math.floor((i * numFrames) / frames);
    const hi = Math.floor(((i + 1) * numFrames) / frames); // exclusive, > lo because numFrames ≥ frames
    out.push(mode === 'eval' ? Math.floor((lo + hi - 1) / 2) : lo + r.int(hi - lo));
  }
  return out;
}
