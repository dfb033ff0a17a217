import { describe, expect, it } from 'vitest';

import { searchTokenPlan } from '../src/token-opt.js';

describe('Token Optimization search', () => {
  it('raises F while accuracy improves, then trades resolution for frames, with a linear number of evaluations', async () => {
    // Accuracy peaks at 12 frames × 48 px for this made-up model.
    const acc = (f: number, r: number) => 1 - Math.abs(f - 16) / 40 - Math.abs(r - 48) / 200; // peak at 16 × 48
    const seen: string[] = [];
    const r = await searchTokenPlan(32, { frames: [2, 4, 8, 12, 16], sizes: [32, 48, 64], patch: 16 }, (p) => {
      seen.push(`${p.frames}x${p.size}`);
      expect(p.k).toBe(Math.min(32, p.gridTokens));
      return acc(p.frames, p.size);
    });
    expect(seen[0]).toBe('2x64'); // minimal grid filling K=32 at the largest side
    expect(r.best).toMatchObject({ frames: 16, size: 48 });
    expect(seen.length).toBeLessThanOrEqual(5 + 3);
    expect(r.trace.map((t) => t.phase)).toContain('trade-resolution');
    expect(r.bestScore).toBe(Math.max(...r.trace.map((t) => t.score)));
  });

  it('returns the start plan when nothing improves on it', async () => {
    const r = await searchTokenPlan(64, { frames: [4, 8], sizes: [32, 64], patch: 16 }, (p) => (p.frames === 4 && p.size === 64 ? 1 : 0));
    expect(r.best).toMatchObject({ frames: 4, size: 64, k: 64 });
  });
});
