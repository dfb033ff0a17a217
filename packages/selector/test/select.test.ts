import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  autoGroups,
  groupBounds,
  groupQuotas,
  groupScores,
  selectFromScores,
  selectTokens,
  selectTokenIndices,
  frameDistances,
} from '../src/index.js';
import { referenceGroupDynamic } from './reference.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic pseudo-random clip [B,F,L,C] as nested arrays. */
function clip(b: number, f: number, l: number, c: number, seed = 1): number[][][][] {
  let s = seed;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return Array.from({ length: b }, () => Array.from({ length: f }, () => Array.from({ length: l }, () => Array.from({ length: c }, r))));
}

describe('groups', () => {
  it('follows the paper: 4 if F%4==0, 1 if F==2, else 2', () => {
    expect([1, 2, 3, 4, 6, 8, 10, 12, 24].map(autoGroups)).toEqual([1, 1, 2, 4, 2, 4, 2, 4, 4]);
  });
  it('splits frames into contiguous chunks', () => {
    expect(groupBounds(8, 4)).toEqual([0, 2, 4, 6, 8]);
    expect(groupBounds(6, 2)).toEqual([0, 3, 6]);
    expect(groupBounds(5, 2)).toEqual([0, 2, 5]);
  });
  it('quotas sum to K, never exceed a group', () => {
    expect(groupQuotas([16, 16, 16, 16], 10)).toEqual([3, 3, 2, 2]);
    expect(groupQuotas([2, 6], 7)).toEqual([2, 5]);
    expect(() => groupQuotas([2, 2], 5)).toThrow(/exceeds/);
  });
});

describe('group-dynamic golden', () => {
  it('keeps the token that changes most in each group', () => {
    // F=4, L=3, C=2, 2 groups (explicit), K=2: one token per group.
    const x = [Array.from({ length: 4 }, () => Array.from({ length: 3 }, () => [0, 0]))];
    x[0][1][2] = [3, 4]; // group 0: token (1,2) moves by 5 from frame 0
    x[0][3][0] = [1, 0]; // group 1: token (3,0) moves by 1
    const t = tf.tensor4d(x);
    const idx = selectTokens(t, 2, { groups: 2 });
    // Group 0 (frames 0,1): token 2 scores 5 in frame 1 and, borrowed, in frame 0: the tie goes to index 2.
    // Group 1 (frames 2,3): token 0 scores 1 in frame 3 and frame 2 borrows it: index 2·3+0 = 6 wins over 9.
    expect(Array.from(idx.dataSync())).toEqual([2, 6]);
    expect(idx.dtype).toBe('int32');
    tf.dispose([t, idx]);
  });

  it('first frame of a group borrows the second frame score; ties go to the lower index', () => {
    const d = Float32Array.from([
      // distances [B=1, F-1=3, L=2]: frame1, frame2, frame3
      1, 2, 7, 0, 5, 5,
    ]);
    const s = groupScores(d, 1, 4, 2, 2);
    // group 0 = frames 0,1: both use d(frame1) = [1,2]; group 1 = frames 2,3: frame 2 borrows d(frame3) = [5,5]
    expect(Array.from(s)).toEqual([1, 2, 1, 2, 5, 5, 5, 5]);
    expect(Array.from(selectFromScores(s, 1, 4, 2, 4, 2))).toEqual([1, 3, 4, 5]);
  });

  it('matches the naive reference on random clips (L2 and L1, 1/2/4 groups)', () => {
    for (const [f, groups] of [[8, 4], [6, 2], [2, 1], [8, 2], [12, 4]] as const) {
      for (const norm of ['l2', 'l1'] as const) {
        const x = clip(3, f, 5, 4, f * 7 + groups);
        const k = Math.floor((f * 5) / 3) + 1;
        const t = tf.tensor4d(x);
        const got = selectTokenIndices(t, k, { groups, norm });
        t.dispose();
        const want = referenceGroupDynamic(x, k, groups, norm);
        expect(Array.from(got.indices)).toEqual(want.flat());
      }
    }
  });

  it('F = 4 (auto: four one-frame groups, where the official code fails): K/4 per frame by change from the previous frame', () => {
    // distances [1, 3, 2]: frame1 = [9,1,1], frame2 = [1,1,9], frame3 = [1,9,1]
    const d = Float32Array.from([9, 1, 1, 1, 1, 9, 1, 9, 1]);
    const s = groupScores(d, 1, 4, 3, 4);
    expect(Array.from(s)).toEqual([9, 1, 1, 9, 1, 1, 1, 1, 9, 1, 9, 1]); // frame 0 takes frame 1's change
    expect(Array.from(selectFromScores(s, 1, 4, 3, 4, 4))).toEqual([0, 3, 8, 10]);
    const t = tf.randomNormal([2, 4, 3, 2]) as tf.Tensor4D;
    const { indices } = selectTokenIndices(t, 4);
    for (let r = 0; r < 2; r++) expect(Array.from(indices.subarray(r * 4, r * 4 + 4), (i) => Math.floor(i / 3))).toEqual([0, 1, 2, 3]);
    t.dispose();
  });

  it('dynamic = global top-K (one group)', () => {
    const x = clip(2, 4, 3, 2, 9);
    const t = tf.tensor4d(x);
    const got = selectTokens(t, 5, { method: 'dynamic' });
    expect(Array.from(got.dataSync())).toEqual(referenceGroupDynamic(x, 5, 1).flat());
    tf.dispose([t, got]);
  });

  it('frame distances are the per-token L2 / L1 change', () => {
    const t = tf.tensor4d([[[[0, 0]], [[3, 4]]]]);
    expect(Array.from(frameDistances(t, 'l2').dataSync())).toEqual([5]);
    expect(Array.from(frameDistances(t, 'l1').dataSync())).toEqual([7]);
    t.dispose();
  });
});

describe('selectTokens', () => {
  it('K ≥ F·L keeps everything, for every method', () => {
    const t = tf.randomNormal([2, 3, 4, 5]) as tf.Tensor4D;
    for (const method of ['group-dynamic', 'dynamic', 'tube', 'random'] as const) {
      const idx = selectTokens(t, 100, { method });
      expect(idx.shape).toEqual([2, 12]);
      expect(Array.from(idx.dataSync())).toEqual([...Array(12).keys(), ...Array(12).keys()]);
      idx.dispose();
    }
    t.dispose();
  });

  it('random and tube are reproducible with a seed and differ across seeds', () => {
    const t = tf.zeros([2, 8, 16, 4]) as tf.Tensor4D;
    for (const method of ['random', 'tube'] as const) {
      const a = selectTokenIndices(t, 20, { method, seed: 3 }).indices;
      const b = selectTokenIndices(t, 20, { method, seed: 3 }).indices;
      const c = selectTokenIndices(t, 20, { method, seed: 4 }).indices;
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(Array.from(a)).not.toEqual(Array.from(c));
      // unseeded calls draw fresh masks
      const d = selectTokenIndices(t, 20, { method }).indices;
      const e = selectTokenIndices(t, 20, { method }).indices;
      expect(Array.from(d)).not.toEqual(Array.from(e));
    }
    t.dispose();
  });

  it('tube keeps the same spatial positions in every frame', () => {
    const t = tf.zeros([3, 4, 10, 2]) as tf.Tensor4D;
    const { indices } = selectTokenIndices(t, 12, { method: 'tube', seed: 1 }); // 3 per frame
    for (let r = 0; r < 3; r++) {
      const row = Array.from(indices.subarray(r * 12, (r + 1) * 12));
      const perFrame = [0, 1, 2, 3].map((f) => row.filter((i) => Math.floor(i / 10) === f).map((i) => i % 10));
      for (const cols of perFrame) expect(cols).toEqual(perFrame[0]);
    }
    t.dispose();
  });

  it('throws on bad arguments, naming the value', () => {
    const t = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
    expect(() => selectTokens(t, 0)).toThrow(/k must be a positive integer, got 0/);
    expect(() => selectTokens(t, 2.5)).toThrow(/2\.5/);
    expect(() => selectTokens(t, 4, { groups: 5 })).toThrow(/groups .* got 5/);
    expect(() => selectTokens(t, 4, { norm: 'l3' as 'l2' })).toThrow(/norm .* "l3"/);
    expect(() => selectTokens(t, 4, { method: 'topk' as 'tube' })).toThrow(/method .* "topk"/);
    expect(() => selectTokens(tf.zeros([4, 4, 2]) as unknown as tf.Tensor4D, 4)).toThrow(/\[B,F,L,C\]/);
    t.dispose();
  });

  it('accepts non-float32 tokens (cast before scoring), on both score paths', () => {
    const x = clip(2, 4, 3, 2, 5).map((c) => c.map((f) => f.map((t) => t.map((v) => Math.round(v * 10)))));
    const t = tf.tensor4d(x, undefined, 'int32');
    const want = referenceGroupDynamic(x, 5, 2).flat();
    for (const scoresOn of ['js', 'backend'] as const) {
      expect(Array.from(selectTokenIndices(t, 5, { scoresOn, groups: 2 }).indices)).toEqual(want);
    }
    t.dispose();
  });

  it('handles odd frame counts and single frames', () => {
    for (const f of [1, 3, 5, 7]) {
      const t = tf.randomNormal([2, f, 6, 3]) as tf.Tensor4D;
      const idx = selectTokenIndices(t, 5, {});
      expect(idx.k).toBe(Math.min(5, f * 6));
      t.dispose();
    }
  });
});
