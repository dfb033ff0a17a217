import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames, ffmpegInfo, liveProcesses, probe, resolveTool, setFfmpegPaths, VideoDecodeError, VideoToolError, type DecodeFailureCause } from '../src/index.js';
import { makeFixtures, type Fixtures } from './fixtures.js';

let fx: Fixtures;
let fifoDir: string;
let fifo: string;
beforeAll(async () => {
  fx = await makeFixtures();
  fifoDir = mkdtempSync(join(tmpdir(), 'flux-fifo-'));
  fifo = join(fifoDir, 'never-written.mp4');
  execFileSync('mkfifo', [fifo]); // nobody writes: ffmpeg/ffprobe block on open forever
});
afterAll(() => {
  fx?.cleanup();
  if (fifoDir) rmSync(fifoDir, { recursive: true, force: true });
});

async function causeOf(p: Promise<unknown>): Promise<DecodeFailureCause | 'resolved'> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    expect(e).toBeInstanceOf(VideoDecodeError);
    return (e as VideoDecodeError).cause;
  }
}

describe('bad input: a typed error naming the file and the cause', () => {
  const cases: Array<[string, keyof Fixtures, DecodeFailureCause]> = [
    ['missing file', 'missing', 'missing'],
    ['zero bytes', 'empty', 'empty'],
    ['random bytes', 'corrupt', 'corrupt'],
    ['mp4 cut before its index', 'truncatedMoov', 'truncated'],
    ['faststart mp4 cut short', 'truncatedFaststart', 'truncated'],
    ['matroska cut short', 'truncatedMkv', 'truncated'],
    ['unknown codec', 'unsupported', 'unsupported-codec'],
    ['audio-only file', 'audioOnly', 'no-video-stream'],
  ];
  for (const [name, key, cause] of cases) {
    it(`${name} → ${cause}`, async () => {
      const file = fx[key] as string;
      const err = await decodeFrames(file, [0, 5, 90], 16).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VideoDecodeError);
      const e = err as VideoDecodeError;
      expect(e.cause).toBe(cause);
      expect(e.kind).toBe(cause);
      expect(e.file).toBe(file);
      expect(e.message).toContain(file);
    });
  }

  it('probe reports the same causes', async () => {
    expect(await causeOf(probe(fx.missing))).toBe('missing');
    expect(await causeOf(probe(fx.empty))).toBe('empty');
    expect(await causeOf(probe(fx.corrupt))).toBe('corrupt');
    expect(await causeOf(probe(fx.truncatedMoov))).toBe('truncated');
    expect(await causeOf(probe(fx.unsupported))).toBe('unsupported-codec');
    expect(await causeOf(probe(fx.audioOnly))).toBe('no-video-stream');
    const cut = await probe(fx.truncatedFaststart);
    expect(cut.truncated).toBe(true);
    expect(cut.packets!).toBeLessThan(cut.headerFrames!);
  });

  it('allowTruncated decodes what a cut file still holds', async () => {
    const clip = await decodeFrames(fx.truncatedFaststart, [0, 1000], 16, { allowTruncated: true });
    expect(clip.shape).toEqual([2, 16, 16, 3]);
    expect(clip.clamped.length).toBe(1);
  });
});

describe('never hangs, leaves no processes', () => {
  it('times out on a file that never delivers data, and kills the process', async () => {
    const before = liveProcesses().length;
    let pid: number | undefined;
    const watcher = setInterval(() => {
      pid ??= liveProcesses()[0];
    }, 20);
    const t = decodeFrames(fifo, [0], 16, { timeoutMs: 600 });
    const err = await t.then(
      () => undefined,
      (e: unknown) => e,
    );
    clearInterval(watcher);
    expect(err).toBeInstanceOf(VideoDecodeError);
    expect((err as VideoDecodeError).cause).toBe('timeout');
    expect(liveProcesses().length).toBe(before);
    // The process is gone and reaped: no /proc entry (a zombie would still have one).
    expect(pid).toBeDefined();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('aborts on an AbortSignal and kills the process', async () => {
    const ac = new AbortController();
    const p = probe(fifo, { signal: ac.signal, timeoutMs: 60_000 });
    setTimeout(() => ac.abort(), 100);
    expect(await causeOf(p)).toBe('aborted');
    expect(liveProcesses()).toEqual([]);
  });
});

describe('binaries', () => {
  it('uses the npm-shipped ffmpeg/ffprobe, which run here', async () => {
    const info = await ffmpegInfo();
    expect(info.ffmpeg.source === 'npm' || info.ffmpeg.source === 'env').toBe(true);
    expect(info.ffmpeg.version.length).toBeGreaterThan(0);
    expect(info.ffprobe.version.length).toBeGreaterThan(0);
  });

  it('honours FLUX_FFMPEG / FLUX_FFPROBE, options and setFfmpegPaths, and fails clearly on a bad path', async () => {
    const saved = { ff: process.env.FLUX_FFMPEG, fp: process.env.FLUX_FFPROBE };
    try {
      process.env.FLUX_FFPROBE = '/nonexistent/ffprobe';
      expect(resolveTool('ffprobe')).toEqual({ path: '/nonexistent/ffprobe', source: 'env' });
      await expect(probe(fx.testsrc)).rejects.toBeInstanceOf(VideoToolError);
      await expect(probe(fx.testsrc)).rejects.toThrow(/FLUX_FFPROBE/);
      delete process.env.FLUX_FFPROBE;
      await expect(decodeFrames(fx.testsrc, [0], 8, { ffmpegPath: '/nonexistent/ffmpeg' })).rejects.toBeInstanceOf(VideoToolError);
      setFfmpegPaths({ ffmpegPath: '/nonexistent/ffmpeg2' });
      expect(resolveTool('ffmpeg')).toEqual({ path: '/nonexistent/ffmpeg2', source: 'override' });
      expect(resolveTool('ffmpeg', '/x/ffmpeg').source).toBe('option');
    } finally {
      setFfmpegPaths({});
      if (saved.ff === undefined) delete process.env.FLUX_FFMPEG;
      else process.env.FLUX_FFMPEG = saved.ff;
      if (saved.fp === undefined) delete process.env.FLUX_FFPROBE;
      else process.env.FLUX_FFPROBE = saved.fp;
    }
    expect(liveProcesses()).toEqual([]);
  });
});
