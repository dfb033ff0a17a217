/**
 * The two sampling primitives the trainer needs — a flexi-sampling draw of (F, R) under the token
 * threshold, and TSN frame indices — expressed over the run config.
 */
import type { Rng } from '@flux/core';

import { gridTokens, patchSizeOf, type TuneConfig } from './config.js';

/** All (F, R) of the flexi ranges whose token count lies in the threshold. */
export function flexiCandidates(cfg: TuneConfig): { frames: number; size: number; tokens: number }[] {
  const patch = patchSizeOf(cfg);
  const [fMin, fMax, fStep] = cfg.flexiFrames;
  const [rMin, rMax, rStep] = cfg.flexiSizes;
  const out: { frames: number; size: number; tokens: number }[] = [];
  for (let f = fMin; f <= fMax; f += fStep) {
    for (let r = rMin; r <= rMax; r += rStep) {
      const t = gridTokens(f, r, patch);
      if (t >= cfg.tokenThreshold[0] && t <= cfg.tokenThreshold[1]) out.push({ frames: f, size: r, tokens: t });
    }
  }
  return out;
}

/** Draws F and R uniformly from their ranges and redraws until the grid's tokens are within the threshold. */
export function drawGrid(cfg: TuneConfig, rng: Rng): { frames: number; size: number } {
  if (flexiCandidates(cfg).length === 0) {
    throw new Error(`no (F, R) in flexiFrames ${JSON.stringify(cfg.flexiFrames)} × flexiSizes ${JSON.stringify(cfg.flexiSizes)} has a token count within tokenThreshold ${JSON.stringify(cfg.tokenThreshold)}`);
  }
  const patch = patchSizeOf(cfg);
  const fs: number[] = [];
  for (let f = cfg.flexiFrames[0]; f <= cfg.flexiFrames[1]; f += cfg.flexiFrames[2]) fs.push(f);
  const rs: number[] = [];
  for (let r = cfg.flexiSizes[0]; r <= cfg.flexiSizes[1]; r += cfg.flexiSizes[2]) rs.push(r);
  for (;;) {
    const frames = rng.choice(fs);
    const size = rng.choice(rs);
    const t = gridTokens(frames, size, patch);
    if (t >= cfg.tokenThreshold[0] && t <= cfg.tokenThreshold[1]) return { frames, size };
  }
}

/**
 * TSN frame indices: `F` equal segments of a `numFrames` clip, a random frame per segment in training and
 * the segment centre at evaluation.
 */
export function sampleFrameIndices(numFrames: number, F: number, mode: 'train' | 'eval', rng?: Rng): number[] {
  const seg = numFrames / F;
  return Array.from({ length: F }, (_, i) => {
    const lo = Math.floor(i * seg);
    const hi = Math.max(lo, Math.ceil((i + 1) * seg) - 1);
    if (mode === 'eval' || !rng) return Math.min(numFrames - 1, Math.floor((i + 0.5) * seg));
    return Math.min(numFrames - 1, lo + rng.int(hi - lo + 1));
  });
}
