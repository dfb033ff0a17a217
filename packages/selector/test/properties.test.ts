import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupBounds, groupQuotas, resolveGroups, selectFromScores, selectTokenIndices, umtMaskIndices } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const shape = fc.record({
  b: fc.integer({ min: 1, max: 3 }),
  f: fc.integer({ min: 1, max: 12 }),
  l: fc.integer({ min: 1, max: 20 }),
  c: fc.integer({ min: 1, max: 4 }),
});

function checkRows(indices: Int32Array, b: number, k: number, n: number): void {
  expect(indices.length).toBe(b * k);
  for (let r = 0; r < b; r++) {
    const row = indices.subarray(r * k, (r + 1) * k);
    for (let i = 0; i < k; i++) {
      expect(row[i]).toBeGreaterThanOrEqual(0);
      expect(row[i]).toBeLessThan(n);
      if (i > 0) expect(row[i]).toBeGreaterThan(row[i - 1]); // sorted and distinct
    }
  }
}

describe('selector properties', () => {
  it('every method returns exactly min(K, F·L) distinct, sorted, in-range indices per clip', () => {
    fc.assert(
      fc.property(
        shape,
        fc.integer({ min: 1, max: 300 }),
        fc.constantFrom('group-dynamic', 'dynamic', 'tube', 'random'),
        fc.constantFrom('l2', 'l1'),
        fc.integer(),
        ({ b, f, l, c }, k, method, norm, seed) => {
          const t = tf.randomNormal([b, f, l, c], 0, 1, 'float32', seed) as tf.Tensor4D;
          const got = selectTokenIndices(t, k, { method, norm, seed });
          t.dispose();
          const kk = Math.min(k, f * l);
          expect(got.k).toBe(kk);
          checkRows(got.indices, b, kk, f * l);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('group-dynamic keeps exactly each group its quota (⌊K/G⌋, remainder to the first groups)', () => {
    fc.assert(
      fc.property(
        shape,
        fc.integer({ min: 1, max: 300 }),
        fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
        fc.integer(),
        ({ b, f, l }, k, g0, seed) => {
          const rng = new Rng(seed);
          const groups = g0 === undefined ? resolveGroups(f) : Math.min(g0, f);
          const scores = Float32Array.from({ length: b * f * l }, () => rng.next());
          const kk = Math.min(k, f * l);
          const idx = selectFromScores(scores, b, f, l, k, groups);
          checkRows(idx, b, kk, f * l);
          if (kk === f * l) return;
          const bounds = groupBounds(f, groups);
          const quotas = groupQuotas(bounds.slice(1).map((e, i) => (e - bounds[i]) * l), kk);
          if (f % groups === 0) {
            const base = Math.floor(kk / groups);
            quotas.forEach((q, i) => expect(q).toBe(base + (i < kk % groups ? 1 : 0)));
          }
          for (let r = 0; r < b; r++) {
            const counts = new Array(groups).fill(0);
            for (const i of idx.subarray(r * kk, (r + 1) * kk)) {
              const t = Math.floor(i / l);
              counts[bounds.findIndex((s, gi) => t >= s && t < bounds[gi + 1])]++;
            }
            expect(counts).toEqual(quotas);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('within a group, every kept token scores ≥ every dropped one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 80 }), fc.integer(), (f, l, k, seed) => {
        // coarse scores force many ties
        const rng = new Rng(seed);
        const scores = Float32Array.from({ length: f * l }, () => rng.int(4));
        const kk = Math.min(k, f * l);
        const kept = new Set(selectFromScores(scores, 1, f, l, k, 1));
        let minKept = Infinity;
        let maxDropped = -Infinity;
        let lastKeptAtMin = -1;
        let firstDroppedAtMin = Infinity;
        scores.forEach((s, i) => (kept.has(i) ? (minKept = Math.min(minKept, s)) : (maxDropped = Math.max(maxDropped, s))));
        expect(kept.size).toBe(kk);
        if (kk < f * l) {
          expect(minKept).toBeGreaterThanOrEqual(maxDropped);
          scores.forEach((s, i) => {
            if (s === minKept && kept.has(i)) lastKeptAtMin = Math.max(lastKeptAtMin, i);
            if (s === minKept && !kept.has(i)) firstDroppedAtMin = Math.min(firstDroppedAtMin, i);
          });
          expect(lastKeptAtMin).toBeLessThan(firstDroppedAtMin); // ties: lower index wins
        }
      }),
      { numRuns: 300 },
    );
  });

  it('UMT mask keeps N − ⌊ρN⌋ distinct sorted indices and never a zero-attention token while others remain', () => {
    fc.assert(
      fc.property(shape, fc.double({ min: 0, max: 0.99, noNaN: true }), fc.integer(), fc.double({ min: 0, max: 1, noNaN: true }), ({ b, f, l }, ratio, seed, zeroFrac) => {
        const n = f * l;
        const rng = new Rng(seed ^ 0x55);
        const w = Float32Array.from({ length: b * n }, () => (rng.next() < zeroFrac ? 0 : rng.next() + 1e-3));
        const att = tf.tensor3d(w, [b, f, l]);
        const { indices, keep } = umtMaskIndices(att, { ratio, seed });
        att.dispose();
        expect(keep).toBe(n - Math.floor(ratio * n));
        checkRows(indices, b, keep, n);
        for (let r = 0; r < b; r++) {
          const positive = Array.from(w.subarray(r * n, (r + 1) * n)).filter((v) => v > 0).length;
          const zerosKept = Array.from(indices.subarray(r * keep, (r + 1) * keep)).filter((i) => w[r * n + i] === 0).length;
          expect(zerosKept).toBe(Math.max(0, keep - positive));
        }
      }),
      { numRuns: 200 },
    );
  });
});
