import { Rng } from '@flux/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameIndices } from '../src/index.js';

describe('frameIndices', () => {
  it('golden: segment centres at eval', () => {
    expect(frameIndices(16, 8, 'eval')).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    // segments [0,2) [2,5) [5,7) [7,10)
    expect(frameIndices(10, 4, 'eval')).toEqual([0, 3, 5, 8]);
    expect(frameIndices(5, 5, 'eval')).toEqual([0, 1, 2, 3, 4]);
  });

  it('short clips: repeat (default) stretches, pad repeats the last frame', () => {
    expect(frameIndices(3, 8, 'train')).toEqual([0, 0, 0, 1, 1, 1, 2, 2]);
    expect(frameIndices(3, 8, 'eval', undefined, { short: 'pad' })).toEqual([0, 1, 2, 2, 2, 2, 2, 2]);
  });

  it('train: one frame inside each segment, reproducible with a seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 40 }), fc.integer(), (n, f, seed) => {
        const idx = frameIndices(n, f, 'train', new Rng(seed));
        expect(idx).toHaveLength(f);
        expect(idx).toEqual(frameIndices(n, f, 'train', new Rng(seed)));
        for (let i = 0; i < f; i++) {
          expect(idx[i]).toBeGreaterThanOrEqual(0);
          expect(idx[i]).toBeLessThan(n);
          if (i > 0) expect(idx[i]).toBeGreaterThanOrEqual(idx[i - 1]);
          if (n >= f) {
            expect(idx[i]).toBeGreaterThanOrEqual(Math.floor((i * n) / f));
            expect(idx[i]).toBeLessThan(Math.floor(((i + 1) * n) / f));
            if (i > 0) expect(idx[i]).toBeGreaterThan(idx[i - 1]); // distinct when the clip is long enough
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('train covers every frame of a segment', () => {
    const rng = new Rng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(frameIndices(40, 4, 'train', rng)[1]);
    expect([...seen].sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('rejects bad arguments, naming the value', () => {
    expect(() => frameIndices(0, 4, 'eval')).toThrow(/numFrames .* got 0/);
    expect(() => frameIndices(10, 2.5, 'eval')).toThrow(/frames .* got 2.5/);
    expect(() => frameIndices(10, 2, 'test' as 'eval')).toThrow(/mode .* "test"/);
  });
});
