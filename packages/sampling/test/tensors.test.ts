/** Crops, flips, normalisation, batch augmentation and patches on cpu, wasm and (where it loads) tensorflow; no leaks. */
import '@tensorflow/tfjs-backend-cpu';
import { initBackend, Rng } from '@flux/core';
import { testBackends } from '@flux/vitest-config/backends';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_MEAN, IMAGENET_STD, MULTI_SCALE_CROP_SCALES, applyCrop, augmentBatch, cropPlan, normalize, patchify } from '../src/index.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm-simd', log: false });
});

describe('cropPlan', () => {
  it('train crops fit the frame, use the paper scales with |i − j| ≤ 1, and flip half the time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 400 }), fc.integer(), (width, height, seed) => {
        const rng = new Rng(seed);
        const short = Math.min(width, height);
        const sides = MULTI_SCALE_CROP_SCALES.map((s) => Math.max(1, Math.floor(short * s)));
        for (let i = 0; i < 5; i++) {
          const p = cropPlan({ width, height }, rng);
          expect(p.x).toBeGreaterThanOrEqual(0);
          expect(p.y).toBeGreaterThanOrEqual(0);
          expect(p.x + p.width).toBeLessThanOrEqual(width);
          expect(p.y + p.height).toBeLessThanOrEqual(height);
          const iw = sides.indexOf(p.width);
          const ih = sides.indexOf(p.height);
          expect(iw).toBeGreaterThanOrEqual(0);
          expect(ih).toBeGreaterThanOrEqual(0);
          // equal sides can appear at several scale indices for tiny frames: some pair must be within 1
          const ok = sides.some((a, x) => a === p.width && sides.some((b, y) => b === p.height && Math.abs(x - y) <= 1));
          expect(ok).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    const rng = new Rng(1);
    const flips = Array.from({ length: 2000 }, () => cropPlan({ width: 320, height: 240 }, rng).flip).filter(Boolean).length;
    expect(flips / 2000).toBeGreaterThan(0.45);
    expect(flips / 2000).toBeLessThan(0.55);
    expect(Array.from({ length: 50 }, () => cropPlan({ width: 320, height: 240 }, rng, { flip: false }).flip).some(Boolean)).toBe(false);
  });

  it('eval: centred square of the short side, no flip', () => {
    expect(cropPlan({ width: 320, height: 240 }, undefined, { mode: 'eval' })).toEqual({ x: 40, y: 0, width: 240, height: 240, flip: false });
    expect(cropPlan({ width: 64, height: 64 }, undefined, { mode: 'eval' })).toEqual({ x: 0, y: 0, width: 64, height: 64, flip: false });
  });

  it('rejects bad options naming the value', () => {
    expect(() => cropPlan({ width: 0, height: 4 })).toThrow(/0×4/);
    expect(() => cropPlan({ width: 8, height: 8 }, undefined, { scales: [1.5] })).toThrow(/scales .* \[1.5\]/);
    expect(() => cropPlan({ width: 8, height: 8 }, undefined, { maxDistort: -1 })).toThrow(/maxDistort .* -1/);
  });
});

describe.each(testBackends())('tensors on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  /** A [F=2, H=4, W=5, C=1] clip whose pixel value is 100·t + 10·y + x. */
  const clip = () => tf.tensor4d(Array.from({ length: 2 * 4 * 5 }, (_, i) => 100 * Math.floor(i / 20) + 10 * Math.floor((i % 20) / 5) + (i % 5)), [2, 4, 5, 1]);

  it('applyCrop golden: exact pixels for a same-size crop, mirrored with flip', () => {
    const x = clip();
    const y = applyCrop(x, { x: 1, y: 2, width: 3, height: 2, flip: false }, 2);
    // 2×2 output sampling the crop's corner pixels: columns 1 and 3, rows 2 and 3 → bilinear at x = 1, 3
    expect(y.shape).toEqual([2, 2, 2, 1]);
    expect(Array.from(y.dataSync()).map((v) => Math.round(v * 1000) / 1000)).toEqual([21, 23, 31, 33, 121, 123, 131, 133]);
    const z = applyCrop(x, { x: 1, y: 2, width: 3, height: 2, flip: true }, 2);
    expect(Array.from(z.dataSync()).map((v) => Math.round(v * 1000) / 1000)).toEqual([23, 21, 33, 31, 123, 121, 133, 131]);
    const full = applyCrop(x, { x: 0, y: 0, width: 5, height: 4, flip: false }, 4);
    // full crop to 4×4 resamples columns at 0, 4/3, 8/3, 4
    expect(Array.from(full.dataSync().slice(0, 4)).map((v) => Math.round(v * 1000) / 1000)).toEqual([0, 1.333, 2.667, 4]);
    tf.dispose([x, y, z, full]);
  });

  it('applyCrop batches take one plan per clip', () => {
    const x = tf.stack([clip(), tf.add(clip(), 1000)]) as tf.Tensor5D;
    const y = applyCrop(x, [{ x: 0, y: 0, width: 1, height: 1, flip: false }, { x: 4, y: 3, width: 1, height: 1, flip: true }], 1);
    expect(y.shape).toEqual([2, 2, 1, 1, 1]);
    expect(Array.from(y.dataSync())).toEqual([0, 100, 1034, 1134]);
    expect(() => applyCrop(x, [{ x: 0, y: 0, width: 6, height: 1, flip: false }, { x: 0, y: 0, width: 1, height: 1, flip: false }], 1)).toThrow(/does not fit a 5×4 frame/);
    tf.dispose([x, y]);
  });

  it('normalize golden: (x/255 − mean)/std per channel', () => {
    const x = tf.tensor2d([[0, 128, 255]], [1, 3], 'int32');
    const y = normalize(x).dataSync();
    [0, 128, 255].forEach((v, c) => expect(y[c]).toBeCloseTo((v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c], 5));
    const z = normalize(tf.tensor2d([[0.5]]), { scale: 1, mean: [0.5], std: [2] });
    expect(z.dataSync()[0]).toBeCloseTo(0, 6);
    tf.dispose([x, z]);
  });

  it('patchify: row-major patches, each flattened (row, column, channel)', () => {
    // [1,1,4,4,2] with value = 100·y + 10·x + c; patch 2 → L = 4 patches of 8 values
    const v = Array.from({ length: 32 }, (_, i) => 100 * Math.floor(i / 8) + 10 * Math.floor((i % 8) / 2) + (i % 2));
    const p = patchify(tf.tensor(v, [1, 1, 4, 4, 2]), 2);
    expect(p.shape).toEqual([1, 1, 4, 8]);
    const rows = p.arraySync()[0][0];
    expect(rows[0]).toEqual([0, 1, 10, 11, 100, 101, 110, 111]);
    expect(rows[1]).toEqual([20, 21, 30, 31, 120, 121, 130, 131]);
    expect(rows[3]).toEqual([220, 221, 230, 231, 320, 321, 330, 331]);
    expect(() => patchify(tf.zeros([1, 1, 5, 5, 3]), 2)).toThrow(/patch \(2\) must divide the frame size 5×5/);
    p.dispose();
  });

  it('augmentBatch: [B,N,H,W,3] pixels → [B,F,R,R,3] normalised; eval is deterministic; no leaks', () => {
    const clips = tf.randomUniform([2, 12, 24, 32, 3], 0, 255, 'int32');
    const before = tf.memory().numTensors;
    const { video, indices, crops } = augmentBatch(clips, { frames: 4, resolution: 16 }, { rng: new Rng(1) });
    expect(video.shape).toEqual([2, 4, 16, 16, 3]);
    expect(video.dtype).toBe('float32');
    expect(indices).toHaveLength(2);
    expect(crops).toHaveLength(2);
    const ev1 = augmentBatch(clips, { frames: 4, resolution: 16 }, { mode: 'eval' });
    const ev2 = augmentBatch(clips, { frames: 4, resolution: 16 }, { mode: 'eval' });
    expect(ev1.indices).toEqual([[1, 4, 7, 10], [1, 4, 7, 10]]);
    expect(ev1.crops[0]).toEqual({ x: 4, y: 0, width: 24, height: 24, flip: false });
    expect(Array.from(ev1.video.dataSync())).toEqual(Array.from(ev2.video.dataSync()));
    const tokens = patchify(video, 8);
    expect(tokens.shape).toEqual([2, 4, 4, 192]);
    tf.dispose([video, ev1.video, ev2.video, tokens]);
    const zeros = tf.zeros([1, 2, 8, 8, 3]);
    const y = applyCrop(zeros, cropPlan({ width: 8, height: 8 }), 4);
    const n = normalize(y);
    tf.dispose([zeros, y, n]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(clips);
  });
});
