/**
 * Real video files for the tests, generated into a temp dir with the npm-shipped ffmpeg (nothing committed).
 * "Indexed" clips encode their frame number in the pixels: R = level(i) everywhere, G = a left→right ramp,
 * B = a top→bottom ramp, so a test can tell which frame, which region and which orientation it got back.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool } from '../src/ffmpeg.js';

/** R level of frame i. */
export const level = (i: number): number => (10 + 7 * i) % 256;

export function indexedFrames(n: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(n * w * h * 3);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = ((i * h + y) * w + x) * 3;
        out[o] = level(i);
        out[o + 1] = Math.round((x * 255) / (w - 1));
        out[o + 2] = Math.round((y * 255) / (h - 1));
      }
    }
  }
  return out;
}

export async function ffmpeg(args: string[], stdin?: Uint8Array): Promise<void> {
  const res = await runTool('ffmpeg', ['-nostdin', '-hide_banner', '-v', 'error', '-y', ...args], { timeoutMs: 60_000, ...(stdin ? { stdin } : {}) });
  if (res.code !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${res.stderr}`);
}

/** Encodes indexed frames: codec 'ffv1' (lossless .mkv) or 'h264' (.mp4). */
export async function writeIndexed(path: string, n: number, w: number, h: number, codec: 'ffv1' | 'h264', extra: string[] = []): Promise<void> {
  const enc = codec === 'ffv1' ? ['-c:v', 'ffv1', '-pix_fmt', 'bgr0'] : ['-c:v', 'libx264', '-preset', 'veryfast', '-qp', '0', '-pix_fmt', 'yuv444p'];
  await ffmpeg(['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${w}x${h}`, '-r', '10', '-i', 'pipe:0', ...extra, ...enc, path], indexedFrames(n, w, h));
}

export interface Fixtures {
  dir: string;
  /** 40 frames 48×32 lossless (exact pixel checks). */
  indexed: string;
  /** 30 frames 64×48 h264 (lossless qp 0). */
  indexedMp4: string;
  /** Variable frame rate: the indexed frames 0..19 then every 3rd of 20..59, timestamps kept. */
  vfr: string;
  /** Which original frames the VFR file holds. */
  vfrKept: number[];
  testsrc: string;
  faststart: string;
  missing: string;
  empty: string;
  corrupt: string;
  truncatedMoov: string;
  truncatedFaststart: string;
  truncatedMkv: string;
  unsupported: string;
  audioOnly: string;
  cleanup(): void;
}

export async function makeFixtures(): Promise<Fixtures> {
  const dir = mkdtempSync(join(tmpdir(), 'flux-video-'));
  const p = (n: string) => join(dir, n);
  const vfrKept = [...Array.from({ length: 20 }, (_, i) => i), ...Array.from({ length: 40 }, (_, i) => 20 + i).filter((i) => (i - 20) % 3 === 0)];
  await Promise.all([
    writeIndexed(p('indexed.mkv'), 40, 48, 32, 'ffv1'),
    writeIndexed(p('indexed.mp4'), 30, 64, 48, 'h264'),
    writeIndexed(p('vfr.mp4'), 60, 48, 32, 'h264', ['-vf', `select=lt(n\\,20)+eq(mod(n-20\\,3)\\,0)*gte(n\\,20)`, '-vsync', 'vfr', '-bf', '0']),
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25:duration=2', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', p('testsrc.mp4')]),
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25:duration=4', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', p('faststart.mp4')]),
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25:duration=4', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', p('full.mkv')]),
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=2', '-c:v', 'mpeg4', '-vtag', 'XVID', p('xvid.avi')]),
    ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'aac', p('audio.m4a')]),
  ]);
  writeFileSync(p('empty.mp4'), new Uint8Array(0));
  // Deterministic garbage (not a container ffmpeg can identify).
  const junk = new Uint8Array(20_000);
  let s = 12345;
  for (let i = 0; i < junk.length; i++) junk[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  writeFileSync(p('corrupt.mp4'), junk);
  // mp4 with its index (moov) at the end, cut in half: the index is gone.
  writeFileSync(p('truncated-moov.mp4'), readFileSync(p('testsrc.mp4')).subarray(0, Math.floor(statSync(p('testsrc.mp4')).size / 2)));
  // faststart mp4 (index first) cut at 40%: the index promises frames the file does not hold.
  writeFileSync(p('truncated-faststart.mp4'), readFileSync(p('faststart.mp4')).subarray(0, Math.floor(statSync(p('faststart.mp4')).size * 0.4)));
  writeFileSync(p('truncated.mkv'), readFileSync(p('full.mkv')));
  truncateSync(p('truncated.mkv'), Math.floor(statSync(p('full.mkv')).size * 0.4));
  // An AVI whose codec tag no decoder knows.
  const avi = Buffer.from(readFileSync(p('xvid.avi')));
  for (let i = 0; i + 4 <= avi.length; i++) {
    if (avi.toString('latin1', i, i + 4).toUpperCase() === 'XVID') avi.write('QQQQ', i, 'latin1');
  }
  writeFileSync(p('unsupported.avi'), avi);
  return {
    dir,
    indexed: p('indexed.mkv'),
    indexedMp4: p('indexed.mp4'),
    vfr: p('vfr.mp4'),
    vfrKept,
    testsrc: p('testsrc.mp4'),
    faststart: p('faststart.mp4'),
    missing: p('does-not-exist.mp4'),
    empty: p('empty.mp4'),
    corrupt: p('corrupt.mp4'),
    truncatedMoov: p('truncated-moov.mp4'),
    truncatedFaststart: p('truncated-faststart.mp4'),
    truncatedMkv: p('truncated.mkv'),
    unsupported: p('unsupported.avi'),
    audioOnly: p('audio.m4a'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Mean of channel c over a frame [H,W,3] at frame f of [F,H,W,3] data. */
export function channelMean(data: Uint8Array, f: number, h: number, w: number, c: number): number {
  let s = 0;
  const base = f * h * w * 3;
  for (let i = 0; i < h * w; i++) s += data[base + 3 * i + c];
  return s / (h * w);
}
