import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBatches, loadCaptionManifest, loadKineticsManifest, MovingMnist, probe, writeMovingMnist, type BatchPlan, type WrittenMovingMnist } from '../src/index.js';

let dir: string;
let written: WrittenMovingMnist;
const mm = new MovingMnist({ split: 'test', seed: 9 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flux-mm-'));
  written = await writeMovingMnist(mm, dir, { limit: 6 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Moving-MNIST as real mp4 files, end to end', () => {
  it('writes h264 mp4 clips with the dataset’s length and size', async () => {
    expect(written.files.length).toBe(6);
    const info = await probe(written.files[0]);
    expect(info).toMatchObject({ frames: 16, width: 64, height: 64, codec: 'h264', truncated: false });
    expect(info.fps).toBeCloseTo(10);
  });

  it('manifest → loader → ffmpeg gives the in-memory clips back (labels exact, pixels within codec error)', async () => {
    const ds = loadKineticsManifest(written.manifest, { classes: written.classes });
    expect(ds.classes).toEqual(mm.classNames);
    expect(ds.items.map((i) => i.label)).toEqual([0, 1, 2, 3, 4, 5].map((i) => mm.meta(i).label));
    const frames = [1, 4, 9, 15];
    const plans: BatchPlan[] = [{ frames: 4, size: 32, clips: ds.items.map((item) => ({ source: item, indices: frames })) }];
    const batches = [];
    for await (const b of loadBatches(plans, { log: false })) batches.push(b);
    expect(batches.length).toBe(1);
    const b = batches[0];
    expect(b.shape).toEqual([6, 4, 32, 32, 3]);
    expect(Array.from(b.labels)).toEqual(ds.items.map((i) => i.label));
    const ref = mm.batch([0, 1, 2, 3, 4, 5], { frames, size: 32 });
    let err = 0;
    for (let i = 0; i < ref.data.length; i++) err += Math.abs(ref.data[i] - b.data[i]);
    const mae = err / ref.data.length;
    expect(mae).toBeLessThan(4); // out of 255; a wrong frame or clip would be ≫ 10
    // Same clip, wrong frames → clearly different: the check above can fail.
    const shifted = mm.batch([0, 1, 2, 3, 4, 5], { frames: [0, 3, 8, 14], size: 32 });
    let err2 = 0;
    for (let i = 0; i < shifted.data.length; i++) err2 += Math.abs(shifted.data[i] - b.data[i]);
    expect(err2 / shifted.data.length).toBeGreaterThan(2 * mae);
  });

  it('writes captions and QA that load with the caption manifest reader', () => {
    const caps = loadCaptionManifest(written.captions);
    expect(caps.items.length).toBe(6);
    expect(caps.items[0].captions?.[0]).toBe(mm.meta(0).caption);
  });
});
