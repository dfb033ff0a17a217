import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  liveProcesses,
  loadBatches,
  MovingMnist,
  VideoDecodeError,
  VideoLoader,
  type BatchPlan,
  type ClipSource,
  type DecodedClip,
  type VideoInfo,
} from '../src/index.js';
import { channelMean, level, makeFixtures, type Fixtures } from './fixtures.js';

let fx: Fixtures;
let fifoDir: string;
let fifo: string;
beforeAll(async () => {
  fx = await makeFixtures();
  fifoDir = mkdtempSync(join(tmpdir(), 'flux-fifo-'));
  fifo = join(fifoDir, 'stalls.mp4');
  execFileSync('mkfifo', [fifo]);
});
afterAll(() => {
  fx?.cleanup();
  if (fifoDir) rmSync(fifoDir, { recursive: true, force: true });
});

/** TSN-style centre indices for F frames of an N-frame clip (what @flux/sampling computes in eval mode). */
const centres = (F: number) => (info: VideoInfo) => Array.from({ length: F }, (_, k) => Math.floor(((k + 0.5) * info.frames) / F));

async function collect(loader: VideoLoader) {
  const out = [];
  for await (const b of loader) out.push(b);
  return out;
}

describe('VideoLoader', () => {
  it('yields batches in plan order with the plan’s F and R, indices computed from the probed clip', async () => {
    const plans: BatchPlan[] = [
      { frames: 4, size: 16, clips: [{ source: { path: fx.indexed, label: 3 }, indices: centres(4) }, { source: fx.indexedMp4, indices: [0, 1, 2, 3] }] },
      { frames: 2, size: { width: 24, height: 12 }, clips: [{ source: fx.indexed, indices: [7, 100] }] },
    ];
    const batches = await collect(loadBatches(plans, { log: false }));
    expect(batches.map((b) => b.shape)).toEqual([
      [2, 4, 16, 16, 3],
      [1, 2, 12, 24, 3],
    ]);
    expect(Array.from(batches[0].labels)).toEqual([3, -1]);
    expect(batches[0].clips[0].indices).toEqual([5, 15, 25, 35]); // 40 frames, 4 segments
    [5, 15, 25, 35].forEach((i, f) => expect(channelMean(batches[0].data, f, 16, 16, 0)).toBeCloseTo(level(i), 5));
    expect(batches[1].clips[0].clamped).toEqual([{ position: 1, requested: 100, used: 39 }]);
  });

  it('skips and counts bad clips by cause (default), logging them', async () => {
    const logs: string[] = [];
    const bad = [fx.missing, fx.empty, fx.corrupt, fx.truncatedMoov, fx.truncatedFaststart, fx.unsupported, fx.audioOnly];
    const plans: BatchPlan[] = [
      { frames: 2, size: 8, clips: [fx.indexed, ...bad.slice(0, 4)].map((s) => ({ source: s, indices: [0, 1] })) },
      { frames: 2, size: 8, clips: bad.slice(4).map((s) => ({ source: s, indices: [0, 1] })) }, // all bad: no batch
      { frames: 2, size: 8, clips: [{ source: fx.testsrc, indices: [0, 1] }] },
    ];
    const loader = loadBatches(plans, { log: (m) => logs.push(m) });
    const batches = await collect(loader);
    expect(batches.map((b) => b.index)).toEqual([0, 2]);
    expect(batches[0].shape[0]).toBe(1);
    expect(batches[0].skipped.map((s) => s.cause)).toEqual(['missing', 'empty', 'corrupt', 'truncated']);
    expect(loader.stats).toMatchObject({ batches: 2, emptyBatches: 1, clips: 9, decoded: 2, skipped: 7 });
    expect(loader.stats.skippedByCause).toEqual({ missing: 1, empty: 1, corrupt: 1, truncated: 2, 'unsupported-codec': 1, 'no-video-stream': 1 });
    expect(logs.filter((l) => l.startsWith('[@flux/video] skipped ')).length).toBe(7);
    expect(logs.some((l) => l.includes('batch 1: all 3 clips failed'))).toBe(true);
    expect(logs.some((l) => l.includes(fx.unsupported) && l.includes('unsupported-codec'))).toBe(true);
    expect(liveProcesses()).toEqual([]);
  });

  it("fails fast with onError: 'throw', killing the batch's other decodes", async () => {
    const plans: BatchPlan[] = [{ frames: 1, size: 8, clips: [{ source: fifo, indices: [0] }, { source: fx.corrupt, indices: [0] }] }];
    const loader = loadBatches(plans, { onError: 'throw', timeoutMs: 30_000, log: false });
    const err = await collect(loader).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(VideoDecodeError);
    expect((err as VideoDecodeError).cause).toBe('corrupt');
    expect(liveProcesses()).toEqual([]); // the stalled FIFO probe was killed, not left for its 30 s timeout
  });

  it('never hangs: a stalled file times out and is skipped', async () => {
    const plans: BatchPlan[] = [{ frames: 1, size: 8, clips: [{ source: fifo, indices: [0] }, { source: fx.indexed, indices: [0] }] }];
    const loader = loadBatches(plans, { timeoutMs: 500, log: false });
    const batches = await collect(loader);
    expect(batches[0].shape[0]).toBe(1);
    expect(loader.stats.skippedByCause).toEqual({ timeout: 1 });
    expect(liveProcesses()).toEqual([]);
  });

  it('bounds concurrency and prefetch', async () => {
    let active = 0;
    let maxActive = 0;
    const slow = (id: string): ClipSource => ({
      id,
      info: () => ({ frames: 4, width: 8, height: 8 }) as VideoInfo,
      read: async (indices, size): Promise<DecodedClip> => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        const n = indices.length * 8 * 8 * 3;
        return { data: new Uint8Array(n), shape: [indices.length, 8, 8, 3], indices: [...indices], clamped: [], info: { frames: 4 } as VideoInfo, warnings: [] };
      },
    });
    let pulled = 0;
    let consumed = 0;
    let maxAhead = 0;
    function* plans(): Generator<BatchPlan> {
      for (let b = 0; b < 10; b++) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - consumed);
        yield { frames: 2, size: 8, clips: Array.from({ length: 6 }, (_, k) => ({ source: slow(`${b}/${k}`), indices: [0, 1] })) };
      }
    }
    const loader = loadBatches(plans(), { concurrency: 3, prefetch: 2, log: false });
    for await (const b of loader) {
      consumed++;
      expect(b.shape).toEqual([6, 2, 8, 8, 3]);
    }
    expect(consumed).toBe(10);
    expect(maxActive).toBe(3);
    expect(maxAhead).toBeLessThanOrEqual(3); // the batch being consumed + 2 prefetched
  });

  it('stops and kills running decodes when the consumer breaks out', async () => {
    const plans: BatchPlan[] = [
      { frames: 1, size: 8, clips: [{ source: fx.indexed, indices: [0] }] },
      { frames: 1, size: 8, clips: [{ source: fifo, indices: [0] }] },
    ];
    const loader = loadBatches(plans, { timeoutMs: 60_000, prefetch: 1, log: false });
    for await (const b of loader) {
      expect(b.index).toBe(0);
      break;
    }
    expect(liveProcesses()).toEqual([]);
  });

  it('serves Moving-MNIST clips through the same path, and rejects plans that give the wrong number of indices', async () => {
    const mm = new MovingMnist({ seed: 1 });
    const plans: BatchPlan[] = [{ frames: 4, size: 32, clips: [0, 1, 2].map((i) => ({ source: mm.source(i), indices: centres(4) })) }];
    const [b] = await collect(loadBatches(plans, { log: false }));
    expect(b.shape).toEqual([3, 4, 32, 32, 3]);
    expect(Array.from(b.labels)).toEqual([0, 1, 2].map((i) => mm.meta(i).label));
    expect(b.captions[0]?.[0]).toBe(mm.meta(0).caption);
    const expected = mm.batch([0, 1, 2], { frames: [2, 6, 10, 14], size: 32 });
    expect(b.data).toEqual(expected.data);
    const wrong: BatchPlan[] = [{ frames: 4, size: 32, clips: [{ source: mm.source(0), indices: [0, 1] }] }];
    await expect(collect(loadBatches(wrong, { log: false }))).rejects.toThrow(/asked for 4 frames but gave 2/);
  });
});

describe('epochPlans', () => {
  it('covers every item once per epoch in a seeded order, with the caller’s grid and indices', async () => {
    const { epochPlans } = await import('../src/index.js');
    const { Rng } = await import('@flux/core');
    const mm = new MovingMnist({ seed: 5 });
    const items = Array.from({ length: 10 }, (_, i) => mm.source(i));
    const plans = [...epochPlans(items, { batchSize: 4, rng: new Rng(3), grid: (b) => ({ frames: 2 + b, size: 16 }), indices: (info, F) => centres(F)(info) })];
    expect(plans.map((p) => [p.frames, p.clips.length])).toEqual([
      [2, 4],
      [3, 4],
      [4, 2],
    ]);
    const ids = plans.flatMap((p) => p.clips.map((c) => (c.source as { id: string }).id));
    expect(new Set(ids).size).toBe(10);
    expect(ids).not.toEqual(items.map((s) => s.id)); // shuffled
    const again = [...epochPlans(items, { batchSize: 4, rng: new Rng(3), grid: () => ({ frames: 2, size: 16 }), indices: (info, F) => centres(F)(info) })];
    expect(again.flatMap((p) => p.clips.map((c) => (c.source as { id: string }).id))).toEqual(ids);
    expect([...epochPlans(items, { batchSize: 4, dropLast: true, grid: () => ({ frames: 2, size: 16 }), indices: (info, F) => centres(F)(info) })].length).toBe(2);
    const batches = await collect(loadBatches(plans, { log: false }));
    expect(batches.map((b) => b.shape.slice(0, 2))).toEqual([
      [4, 2],
      [4, 3],
      [2, 4],
    ]);
  });
});
