import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames, directionPhrase, MovingMnist, probe, selectExpression, type VideoInfo } from '../src/index.js';
import { channelMean, level, makeFixtures, type Fixtures } from './fixtures.js';

let fx: Fixtures;
let info: VideoInfo;
beforeAll(async () => {
  fx = await makeFixtures();
  info = await probe(fx.indexed);
});
afterAll(() => fx?.cleanup());

describe('properties', () => {
  it('decodeFrames returns frame min(i, last) for every requested i, in order (real ffmpeg, lossless file)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(60), { minLength: 1, maxLength: 12 }), async (idx) => {
        const clip = await decodeFrames(fx.indexed, idx, 4, { info });
        expect(clip.shape).toEqual([idx.length, 4, 4, 3]);
        idx.forEach((i, p) => {
          const want = Math.min(i, 39);
          expect(clip.indices[p]).toBe(want);
          expect(channelMean(clip.data, p, 4, 4, 0)).toBeCloseTo(level(want), 5);
        });
        expect(clip.clamped.map((c) => c.position)).toEqual(idx.flatMap((i, p) => (i > 39 ? [p] : [])));
      }),
      { numRuns: 15, seed: 42 },
    );
  });

  it('the select expression selects exactly the given frames', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(200), { minLength: 1, maxLength: 40 }), (xs) => {
        const sorted = [...xs].sort((a, b) => a - b);
        const expr = selectExpression(sorted).replace(/\\,/g, ',');
        // Evaluate the ffmpeg expression for n = 0..210 with JS equivalents of eq/between.
        const f = new Function('n', `const eq=(a,b)=>a===b?1:0, between=(x,a,b)=>x>=a&&x<=b?1:0; return ${expr};`) as (n: number) => number;
        for (let n = 0; n <= 210; n++) expect(f(n) > 0).toBe(sorted.includes(n));
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('Moving-MNIST: digits stay on the canvas without bounce, and caption and label agree', () => {
    const mm = new MovingMnist({ seed: 3, digits: [1, 3] });
    fc.assert(
      fc.property(fc.nat(1_000_000), (i) => {
        const m = mm.meta(i);
        for (const t of m.tracks) for (const p of t.positions) expect(p >= 0 && p <= mm.size - 28).toBe(true);
        expect(m.caption).toContain(`move${m.tracks.length === 1 ? 's' : ''} ${directionPhrase(mm.directions[m.label])}`);
        expect(m.tracks.every((t) => t.bounces.length === 0)).toBe(true);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
