import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { umtKeepCount, umtMask, umtMaskIndices, weightedSampleWithoutReplacement } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('umtMask', () => {
  it('keeps N − ⌊ρN⌋ tokens (ρ = 0.8 by default), int32, sorted', () => {
    const att = tf.ones([2, 4, 16]) as tf.Tensor3D;
    const m = umtMask(att, { seed: 1 });
    expect(m.shape).toEqual([2, 64 - 51]);
    expect(m.dtype).toBe('int32');
    expect(umtKeepCount(64)).toBe(13);
    expect(umtKeepCount(10, 0.5)).toBe(5);
    tf.dispose([att, m]);
  });

  it('is reproducible with a seed', () => {
    const att = tf.randomUniform([3, 8, 16], 0, 1, 'float32', 5) as tf.Tensor3D;
    const a = umtMaskIndices(att, { seed: 7 }).indices;
    const b = umtMaskIndices(att, { seed: 7 }).indices;
    const c = umtMaskIndices(att, { seed: 8 }).indices;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    att.dispose();
  });

  it('golden: tokens holding all the attention are the ones kept', () => {
    // 2 frames × 5 tokens, keep 10 − 8 = 2: attention only on tokens 3 and 7.
    const w = [0, 0, 0, 0.9, 0, 0, 0, 0.1, 0, 0];
    const att = tf.tensor3d(w, [1, 2, 5]);
    for (let s = 0; s < 20; s++) expect(Array.from(umtMaskIndices(att, { seed: s }).indices)).toEqual([3, 7]);
    att.dispose();
  });

  it('draws ∝ attention: inclusion frequencies match sequential sampling without replacement', () => {
    // keep 1 of 4 with weights 1:2:3:4 → P(i) = w_i / 10.
    const w = [1, 2, 3, 4];
    const counts = [0, 0, 0, 0];
    const rng = new Rng(11);
    const trials = 20000;
    for (let t = 0; t < trials; t++) counts[weightedSampleWithoutReplacement(w, 0, 4, 1, rng)[0]]++;
    counts.forEach((c, i) => expect(c / trials).toBeCloseTo(w[i] / 10, 1));
    // keep 2 of 3 with weights 1:1:2 → 2 is dropped only if 0 then 1 (1/4 · 1/3) or 1 then 0 (same): P(kept) = 5/6.
    let with2 = 0;
    for (let t = 0; t < trials; t++) if (weightedSampleWithoutReplacement([1, 1, 2], 0, 3, 2, rng).includes(2)) with2++;
    expect(with2 / trials).toBeCloseTo(5 / 6, 1);
  });

  it('rejects a bad ratio or negative attention, naming the value', () => {
    const att = tf.ones([1, 2, 2]) as tf.Tensor3D;
    expect(() => umtMask(att, { ratio: 1 })).toThrow(/ratio .* got 1/);
    expect(() => umtMask(att, { ratio: -0.1 })).toThrow(/-0\.1/);
    const neg = tf.tensor3d([[[1, -1], [1, 1]]]);
    expect(() => umtMask(neg, { seed: 1 })).toThrow(/-1/);
    tf.dispose([att, neg]);
  });
});
