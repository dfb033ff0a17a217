import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames, probe, resolveCrop, sampleFrames, selectExpression, VideoDecodeError, type DecodeOptions } from '../src/index.js';
import { channelMean, indexedFrames, level, makeFixtures, type Fixtures } from './fixtures.js';

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeFixtures();
});
afterAll(() => fx?.cleanup());

describe('probe', () => {
  it('reports frames, fps, size and codec of a real file', async () => {
    const info = await probe(fx.testsrc);
    expect(info).toMatchObject({ frames: 50, width: 160, height: 120, codec: 'h264', vfr: false, truncated: false, hasAudio: false });
    expect(info.fps).toBeCloseTo(25);
    expect(info.duration).toBeCloseTo(2, 1);
    const mkv = await probe(fx.indexed);
    expect(mkv).toMatchObject({ frames: 40, width: 48, height: 32, codec: 'ffv1', frameCountSource: 'packets' });
    expect(mkv.headerFrames).toBeUndefined(); // Matroska has no frame count: counted from packets
  });

  it('flags variable frame rate and counts its frames', async () => {
    const info = await probe(fx.vfr);
    expect(info.frames).toBe(fx.vfrKept.length);
    expect(info.vfr).toBe(true);
  });
});

describe('decodeFrames', () => {
  it('returns exactly the requested frames, in request order, duplicates included', async () => {
    const idx = [5, 2, 2, 39, 0];
    const clip = await decodeFrames(fx.indexed, idx, { width: 48, height: 32 }, { fit: 'stretch' });
    expect(clip.shape).toEqual([5, 32, 48, 3]);
    expect(clip.clamped).toEqual([]);
    expect(clip.indices).toEqual(idx);
    idx.forEach((i, p) => expect(channelMean(clip.data, p, 32, 48, 0)).toBeCloseTo(level(i), 5));
  });

  it('decodes h264 mp4 and resizes to R×R', async () => {
    const clip = await decodeFrames(fx.indexedMp4, [3, 17, 29], 24);
    expect(clip.shape).toEqual([3, 24, 24, 3]);
    [3, 17, 29].forEach((i, p) => expect(Math.abs(channelMean(clip.data, p, 24, 24, 0) - level(i))).toBeLessThan(3));
  });

  it('indexes frames by decode order in a variable-frame-rate file', async () => {
    const want = [0, 19, 20, 25, fx.vfrKept.length - 1];
    const clip = await decodeFrames(fx.vfr, want, 16);
    want.forEach((k, p) => expect(Math.abs(channelMean(clip.data, p, 16, 16, 0) - level(fx.vfrKept[k]))).toBeLessThan(3));
  });

  it('clamps indices past the end to the last frame and reports them', async () => {
    const clip = await decodeFrames(fx.indexed, [38, 39, 40, 100], 8);
    expect(clip.indices).toEqual([38, 39, 39, 39]);
    expect(clip.clamped).toEqual([
      { position: 2, requested: 40, used: 39 },
      { position: 3, requested: 100, used: 39 },
    ]);
    expect(channelMean(clip.data, 3, 8, 8, 0)).toBeCloseTo(level(39), 5);
  });

  it('corrects a frame count the container over-reports', async () => {
    const real = await probe(fx.indexed);
    const lying = { ...real, frames: 50 }; // as if the header claimed 50 frames
    const clip = await decodeFrames(fx.indexed, [10, 45, 49], 8, { info: lying });
    expect(clip.indices).toEqual([10, 39, 39]);
    expect(clip.clamped.map((c) => c.requested)).toEqual([45, 49]);
    expect(clip.info.frames).toBe(40);
    expect(clip.info.frameCountSource).toBe('decoded');
    expect(channelMean(clip.data, 1, 8, 8, 0)).toBeCloseTo(level(39), 5);
    // All wanted frames beyond the real end: a second pass finds the real last frame.
    const only = await decodeFrames(fx.indexed, [47, 48], 8, { info: lying });
    expect(only.indices).toEqual([39, 39]);
    expect(only.info.frames).toBe(40);
    expect(channelMean(only.data, 0, 8, 8, 0)).toBeCloseTo(level(39), 5);
  });

  it('crops (pixels and fractions), flips, and fits by centre crop', async () => {
    // Right half only: the G ramp (x) stays ≥ 127.
    const right = await decodeFrames(fx.indexed, [0], { width: 24, height: 32 }, { crop: { x: 24, y: 0, width: 24, height: 32 } });
    const frac = await decodeFrames(fx.indexed, [0], { width: 24, height: 32 }, { crop: { x: 0.5, y: 0, width: 0.5, height: 1, unit: 'fraction' } });
    expect(frac.data).toEqual(right.data);
    const g = (d: Uint8Array, w: number, x: number, y = 0) => d[(y * w + x) * 3 + 1];
    expect(g(right.data, 24, 0)).toBeGreaterThan(120);
    // Flip: G decreases left to right.
    const flipped = await decodeFrames(fx.indexed, [0], { width: 48, height: 32 }, { flip: true, fit: 'stretch' });
    expect(g(flipped.data, 48, 0)).toBeGreaterThan(250);
    expect(g(flipped.data, 48, 47)).toBeLessThan(5);
    // 'cover' on a 48×32 frame to a square keeps the central 32 columns: G at the left edge ≈ ramp at x = 8.
    const cover = await decodeFrames(fx.indexed, [0], 32);
    expect(Math.abs(g(cover.data, 32, 0) - (8 * 255) / 47)).toBeLessThan(4);
    const stretch = await decodeFrames(fx.indexed, [0], 32, { fit: 'stretch' });
    expect(g(stretch.data, 32, 0)).toBeLessThan(6);
  });

  it('rejects bad index lists before starting ffmpeg', async () => {
    await expect(decodeFrames(fx.indexed, [], 8)).rejects.toThrow(/no frame indices/);
    await expect(decodeFrames(fx.indexed, [1.5], 8)).rejects.toThrow(/non-negative integers/);
    await expect(decodeFrames(fx.indexed, [-1], 8)).rejects.toThrow(/non-negative integers/);
  });

  it('builds a compact select expression', () => {
    expect(selectExpression([1, 2, 3, 7, 9, 10])).toBe('between(n\\,1\\,3)+eq(n\\,7)+between(n\\,9\\,10)');
    expect(resolveCrop(320, 240, { width: 224, height: 224 }, undefined, 'cover')).toEqual({ x: 40, y: 0, width: 240, height: 240 });
    expect(resolveCrop(240, 320, { width: 100, height: 100 }, undefined, 'cover')).toEqual({ x: 0, y: 40, width: 240, height: 240 });
    expect(() => resolveCrop(100, 100, { width: 8, height: 8 }, { x: 100, y: 0, width: 0, height: 5 }, 'cover')).toThrow(/empty/);
  });

  it('is a VideoDecodeError for files that are not video', async () => {
    await expect(decodeFrames(fx.corrupt, [0], 8)).rejects.toBeInstanceOf(VideoDecodeError);
  });

  it('means the same crop, flip and fit as the in-memory path (sampleFrames)', async () => {
    const raw = indexedFrames(40, 48, 32);
    const cases: Array<[number | { width: number; height: number }, DecodeOptions]> = [
      [16, {}],
      [16, { fit: 'stretch', flip: true }],
      [{ width: 12, height: 16 }, { crop: { x: 0.25, y: 0.5, width: 0.5, height: 0.5, unit: 'fraction' } }],
      [24, { crop: { x: 30, y: 2, width: 16, height: 24 }, flip: true }],
    ];
    for (const [size, opts] of cases) {
      const a = await decodeFrames(fx.indexed, [3, 9], size, opts);
      const b = sampleFrames(raw, [40, 32, 48, 3], [3, 9], size, opts);
      expect(b.shape).toEqual(a.shape);
      let err = 0;
      for (let i = 0; i < a.data.length; i++) err += Math.abs(a.data[i] - b.data[i]);
      expect(err / a.data.length).toBeLessThan(4); // resamplers differ slightly; a wrong region or mirror is ≫ 20
    }
  });

  it('reads files whose names look like a protocol or an option', async () => {
    const odd = join(fx.dir, '-odd:name 1.mkv');
    copyFileSync(fx.indexed, odd);
    expect((await probe(odd)).frames).toBe(40);
    const clip = await decodeFrames(odd, [7], 8);
    expect(channelMean(clip.data, 0, 8, 8, 0)).toBeCloseTo(level(7), 5);
  });
});
