import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gridTokens, searchTokenPlan, type TokenPlan } from '../src/index.js';

const space = { frames: { min: 4, max: 24, step: 2 }, resolution: { min: 112, max: 336, step: 28 }, patch: 14 };

describe('searchTokenPlan', () => {
  it('takes explicit value lists: a list equal to a range gives the same trace; an uneven list visits only its values', async () => {
    const acc = (p: TokenPlan) => 100 - Math.abs(p.frames - 16) - Math.abs(p.resolution - 168) / 14;
    const fromRange = await searchTokenPlan(2048, { ...space, start: { resolution: 224 } }, acc);
    const lists = { frames: [24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 4], resolution: [112, 140, 168, 196, 224, 252, 280, 308, 336], patch: 14 };
    const fromList = await searchTokenPlan(2048, { ...lists, start: { resolution: 224 } }, acc);
    expect(fromList.trace).toEqual(fromRange.trace);
    // Budget 8 at patch 16: R = 32 has 4 tokens a frame → start at F = 2, then 4 and 8 (no 3, 5, 6, 7 exist).
    const uneven = await searchTokenPlan(8, { frames: [8, 2, 4], resolution: [16, 32], patch: 16 }, (p) => p.frames * 10 - p.resolution / 16);
    expect(uneven.trace.map((t) => `${t.phase}:${t.frames}x${t.resolution}`)).toEqual(['start:2x32', 'frames:4x32', 'frames:8x32']);
    for (const t of uneven.trace) {
      expect([2, 4, 8]).toContain(t.frames);
      expect([16, 32]).toContain(t.resolution);
    }
    await expect(searchTokenPlan(64, { frames: [], resolution: [16], patch: 16 }, () => 1)).rejects.toThrow(/frames is an empty list/);
    await expect(searchTokenPlan(64, { frames: [2, 4], resolution: [16, 24], patch: 16 }, () => 1)).rejects.toThrow(/resolution 24 is not a multiple of the patch size/);
    await expect(searchTokenPlan(64, { frames: [2, 1.5], resolution: [16], patch: 16 }, () => 1)).rejects.toThrow(/integers ≥ 1, got 1.5/);
  });

  it('raises F, then trades R for F, stopping at the first non-improvement (golden trace)', async () => {
    // Accuracy peaks at F = 16, R = 168 (the anti-diagonal sweet spot).
    const acc = (p: TokenPlan) => 100 - Math.abs(p.frames - 16) - Math.abs(p.resolution - 168) / 14;
    const { best, trace } = await searchTokenPlan(2048, { ...space, start: { resolution: 224 } }, acc);
    // start: smallest F with ≥ 2048 tokens at 224 → 8; phase 1: 10, 12, 14, 16, 18 (worse) ; phase 2 from 16×224.
    expect(trace.map((s) => `${s.phase}:${s.frames}x${s.resolution}${s.accepted ? '' : '!'}`)).toEqual([
      'start:8x224',
      'frames:10x224',
      'frames:12x224',
      'frames:14x224',
      'frames:16x224',
      'frames:18x224!',
      // from 16×224 (pool 4096): at 196² a frame has 196 tokens → F ≥ 20.9 → 22; worse (92 < 96) → stop
      'trade:22x196!',
    ]);
    expect(best).toMatchObject({ frames: 16, resolution: 224, budget: 2048, tokens: 4096 });
  });

  it('follows the trade phase while it improves', async () => {
    // More frames help up to 12; lower resolution always helps.
    const acc = (p: TokenPlan) => 0.5 * Math.min(p.frames, 12) - p.resolution / 7;
    const { best, trace } = await searchTokenPlan(1024, { ...space, start: { resolution: 224 } }, acc);
    expect(trace[0]).toMatchObject({ phase: 'start', frames: 4, resolution: 224 });
    const trades = trace.filter((s) => s.phase === 'trade');
    // phase 1 stops at 12×224 (14 is no better); trades: 16×196 (pool ≥ 3072), 22×168 (≥ 3136), then none fits 24.
    expect(trades.map((s) => `${s.frames}x${s.resolution}`)).toEqual(['16x196', '22x168']);
    expect(best).toMatchObject({ frames: 22, resolution: 168 });
    for (let i = 1; i < trades.length; i++) {
      expect(trades[i].resolution).toBe(trades[i - 1].resolution - 28);
      expect(trades[i].frames).toBeGreaterThan(trades[i - 1].frames);
    }
    expect(best.score).toBe(Math.max(...trace.map((s) => s.score)));
  });

  it('properties: linear number of distinct evaluations, best = max of trace, pools hold the budget', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 256, max: 8192 }), fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 200, maxLength: 200 }), async (budget, table) => {
        const seen = new Set<string>();
        const { best, trace } = await searchTokenPlan(budget, space, async (p) => {
          const key = `${p.frames}x${p.resolution}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
          return table[(p.frames * 31 + p.resolution) % 200];
        });
        expect(trace.length).toBeLessThanOrEqual(11 + 9);
        expect(best.score).toBe(Math.max(...trace.map((s) => s.score)));
        for (const s of trace) {
          expect(s.tokens).toBe(gridTokens(s.frames, s.resolution, 14));
          if (s.phase !== 'start') expect(s.tokens >= budget || s.frames === 24 || s.phase === 'frames').toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('respects maxTokens and rejects bad input', async () => {
    const { trace } = await searchTokenPlan(1024, { ...space, maxTokens: 3000 }, (p) => p.frames);
    for (const s of trace) expect(s.tokens).toBeLessThanOrEqual(3000);
    await expect(searchTokenPlan(0, space, () => 1)).rejects.toThrow(/budget .* got 0/);
    await expect(searchTokenPlan(10, { ...space, start: { resolution: 200 } }, () => 1)).rejects.toThrow(/start.resolution \(200\)/);
    await expect(searchTokenPlan(10, space, () => Number.NaN)).rejects.toThrow(/evaluate returned NaN/);
  });
});
