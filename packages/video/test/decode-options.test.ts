/**
 * Bad decode requests (absurd sizes, byte budgets, malformed options) are refused with a typed error naming the file
 * and the option, before any process starts; and no error path leaves an entry in liveProcesses().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames, frameSize, liveProcesses, loadBatches, probe, runTool, VideoOptionError, type DecodeOptions, type FrameSize, type VideoInfo } from '../src/index.js';
import { writeIndexed } from './fixtures.js';

let dir: string;
let clip: string;
let info: VideoInfo;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flux-decode-options-'));
  clip = join(dir, 'clip.mkv');
  await writeIndexed(clip, 4, 16, 8, 'ffv1');
  info = await probe(clip);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Binaries that do not exist: if anything were spawned, the error would be a VideoToolError instead.
const noTools: DecodeOptions = { ffmpegPath: '/nonexistent/ffmpeg', ffprobePath: '/nonexistent/ffprobe' };

async function rejection(p: Promise<unknown>): Promise<Error & { file?: string; option?: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error & { file?: string; option?: string };
}

function expectOptionError(err: Error & { file?: string; option?: string }, file: string, option: string): void {
  expect(`${err.name}: ${err.message}`).toMatch(/^VideoOptionError: /);
  expect(err.file).toBe(file);
  expect(err.option).toBe(option);
  expect(err.message).toContain(file);
  expect(err.message).toContain(option);
  expect(err).toBeInstanceOf(VideoOptionError);
  expect(err).toBeInstanceOf(RangeError); // backwards compatible with callers that caught RangeError
}

describe('decodeFrames refuses absurd output sizes before spawning', () => {
  const sizes: FrameSize[] = [1e9, 0, Number.NaN, -8, 1.5, Number.POSITIVE_INFINITY, { width: 0, height: 8 }, { width: 8, height: Number.NaN }, { width: 1e6, height: 1 }];
  for (const size of sizes) {
    it(`size ${JSON.stringify(size) ?? String(size)} (${String(typeof size === 'number' ? size : `${size.width}×${size.height}`)})`, async () => {
      expectOptionError(await rejection(decodeFrames(clip, [0], size, noTools)), clip, 'size');
      expect(liveProcesses()).toEqual([]);
    });
  }

  it('non-number sizes', async () => {
    for (const size of ['8', null, undefined, {}, { width: '8', height: 8 }] as unknown as FrameSize[]) {
      expectOptionError(await rejection(decodeFrames(clip, [0], size, noTools)), clip, 'size');
    }
  });

  it('frames × width × height × 3 beyond the byte budget', async () => {
    const err = await rejection(decodeFrames(clip, new Array<number>(64).fill(0), 8192, noTools));
    expectOptionError(err, clip, 'size');
    expect(err.message).toMatch(/64 frames/);
    expect(err.message).toMatch(/maxBytes/);
    // A smaller budget refuses what the default allows; a larger one is checked against what Node can allocate.
    expectOptionError(await rejection(decodeFrames(clip, [0, 1], 64, { ...noTools, maxBytes: 64 * 64 * 3 })), clip, 'size');
    expectOptionError(await rejection(decodeFrames(clip, [0], 8, { ...noTools, maxBytes: -1 })), clip, 'maxBytes');
    expectOptionError(await rejection(decodeFrames(clip, [0], 8, { ...noTools, maxBytes: Number.NaN })), clip, 'maxBytes');
  });

  it('with real binaries and a probe result (no probe), no stale process is left', async () => {
    for (const size of [1e9, 40_000, { width: 16384, height: 16384 }] as FrameSize[]) {
      expectOptionError(await rejection(decodeFrames(clip, [0, 1, 2], size, { info })), clip, 'size');
      expect(liveProcesses()).toEqual([]);
    }
    // And the same call with a sane size still works.
    const ok = await decodeFrames(clip, [0, 1, 2], 8, { info });
    expect(ok.shape).toEqual([3, 8, 8, 3]);
    expect(liveProcesses()).toEqual([]);
  });

  it('frameSize itself throws the typed error', () => {
    expect(() => frameSize(1e9)).toThrow(VideoOptionError);
    expect(() => frameSize(0)).toThrow(RangeError);
    expect(frameSize(8)).toEqual({ width: 8, height: 8 });
  });
});

describe('decodeFrames validates its other options before spawning', () => {
  const cases: Array<[string, Partial<DecodeOptions> | { indices: unknown }]> = [
    ['crop', { crop: { x: Number.NaN, y: 0, width: 4, height: 4 } }],
    ['crop', { crop: { x: 0, y: 0, width: 4, height: 4, unit: 'percent' as 'px' } }],
    ['crop', { crop: 'center' as unknown as DecodeOptions['crop'] }],
    ['interpolation', { interpolation: 'constructor' as 'bilinear' }],
    ['interpolation', { interpolation: 'lanczos' as 'bilinear' }],
    ['fit', { fit: 'toString' as 'cover' }],
    ['threads', { threads: -1 }],
    ['threads', { threads: 1.5 }],
    ['timeoutMs', { timeoutMs: Number.NaN }],
    ['timeoutMs', { timeoutMs: 0 }],
    ['signal', { signal: {} as AbortSignal }],
  ];
  for (const [option, opts] of cases) {
    it(`${option}: ${JSON.stringify(opts)}`, async () => {
      expectOptionError(await rejection(decodeFrames(clip, [0], 8, { ...noTools, ...opts })), clip, option);
      expect(liveProcesses()).toEqual([]);
    });
  }

  it('bad index lists name the file and the option', async () => {
    for (const indices of [[], [1.5], [-1], [Number.NaN], 'abc', null] as unknown as number[][]) {
      expectOptionError(await rejection(decodeFrames(clip, indices, 8, noTools)), clip, 'indices');
    }
  });

  it('an empty crop inside the probed frame names the file', async () => {
    expectOptionError(await rejection(decodeFrames(clip, [0], 8, { info, crop: { x: 0, y: 0, width: 0.4, height: 4 } })), clip, 'crop');
    expect(liveProcesses()).toEqual([]);
  });
});

describe('runTool never leaves a process behind', () => {
  it('refuses a buffer it could not allocate before spawning', async () => {
    for (const expectBytes of [1e18, -1, Number.NaN, 1.5]) {
      const err = await rejection(runTool('ffmpeg', ['-version'], { expectBytes }));
      expect(err).toBeInstanceOf(VideoOptionError);
      expect(err.option).toBe('expectBytes');
      expect(liveProcesses()).toEqual([]);
    }
  });

  it('a bad signal or timeout is refused before spawning', async () => {
    await expect(runTool('ffmpeg', ['-version'], { signal: { aborted: false } as AbortSignal })).rejects.toThrow(VideoOptionError);
    await expect(runTool('ffmpeg', ['-version'], { timeoutMs: Number.NaN })).rejects.toThrow(VideoOptionError);
    expect(liveProcesses()).toEqual([]);
  });

  it('still runs and reaps normal processes', async () => {
    const r = await runTool('ffmpeg', ['-version'], { expectBytes: 16 });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(16);
    expect(liveProcesses()).toEqual([]);
  });
});

describe('the loader fails fast on an invalid plan', () => {
  it('an absurd plan size is a VideoOptionError, not a skipped clip', async () => {
    const loader = loadBatches([{ frames: 2, size: 1e9, clips: [{ source: clip, indices: [0, 1] }] }], { log: false });
    const err = await rejection(
      (async () => {
        for await (const _ of loader) void _;
      })(),
    );
    expect(err).toBeInstanceOf(VideoOptionError);
    expect(err.option).toBe('size');
    expect(loader.stats.skipped).toBe(0);
    expect(liveProcesses()).toEqual([]);
  });
});
