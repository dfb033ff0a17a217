#!/usr/bin/env node
// Decode and generation throughput of @flux/video. Run after `pnpm --filter @flux/video... build`:
//   node packages/video/bench/decode.mjs [--clips 60] [--json]
// 1. clips/s decoding 8 frames at 224×224 from a 10 s 320×240 h264 file (generated here with ffmpeg), through the
//    loader at concurrency 1 and 2 (one ffmpeg process per clip, TSN-random frames, fresh indices every clip);
// 2. Moving-MNIST in-memory generation clips/s (16 frames, 64×64 RGB), whole clips and an 8-frame 32² plan.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@flux/core';
import { ffmpegInfo, loadBatches, MovingMnist, probe, runTool } from '../dist/index.js';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const CLIPS = arg('clips', 60);
const json = args.includes('--json');
const log = (...m) => {
  if (!json) console.log(...m);
};

const dir = mkdtempSync(join(tmpdir(), 'flux-video-bench-'));
const results = { cores: availableParallelism(), decode: [], movingMnist: [] };
try {
  const tools = await ffmpegInfo();
  results.ffmpeg = tools.ffmpeg.version;
  const file = join(dir, 'bench-320x240-10s.mp4');
  const enc = await runTool('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30:duration=10', '-c:v', 'libx264', '-preset', 'medium', '-pix_fmt', 'yuv420p', file], { timeoutMs: 120_000 });
  if (enc.code !== 0) throw new Error(enc.stderr);
  const info = await probe(file);
  log(`source: ${info.width}×${info.height} ${info.codec}, ${info.frames} frames, ${info.duration}s; ffmpeg ${tools.ffmpeg.version}; ${results.cores} cores`);

  // TSN training indices: one random frame in each of 8 segments.
  const tsn = (rng) => (inf) => Array.from({ length: 8 }, (_, k) => {
    const a = Math.floor((k * inf.frames) / 8);
    const b = Math.floor(((k + 1) * inf.frames) / 8);
    return a + rng.int(Math.max(1, b - a));
  });
  for (const [concurrency, threads] of [[1, 1], [2, 1], [1, 0], [2, 0]]) {
    const rng = new Rng(1);
    const B = 4;
    const plans = Array.from({ length: Math.ceil(CLIPS / B) }, () => ({
      frames: 8,
      size: 224,
      clips: Array.from({ length: B }, () => ({ source: file, indices: tsn(rng) })),
    }));
    // Warm up (probe cache, page cache).
    for await (const _ of loadBatches(plans.slice(0, 1), { concurrency, threads, log: false }));
    const t0 = performance.now();
    let n = 0;
    const loader = loadBatches(plans, { concurrency, threads, prefetch: 2, log: false });
    for await (const b of loader) n += b.shape[0];
    const s = (performance.now() - t0) / 1000;
    const r = { concurrency, threads: threads || 'auto', clips: n, seconds: +s.toFixed(2), clipsPerSec: +(n / s).toFixed(1), msPerClip: +((1000 * s) / n).toFixed(1) };
    results.decode.push(r);
    log(`decode 8×224² from 10 s 320×240 h264 — concurrency ${concurrency}, ffmpeg threads ${r.threads}: ${r.clipsPerSec} clips/s (${n} clips in ${r.seconds}s)`);
  }

  const mm = new MovingMnist();
  mm.batch([0]);
  const measure = (label, fn, B) => {
    let n = 0;
    for (let i = 0; i < 5; i++) fn(i * B, B); // warm up
    const t0 = performance.now();
    while (performance.now() - t0 < 2000) {
      fn(n, B);
      n += B;
    }
    const rate = n / ((performance.now() - t0) / 1000);
    results.movingMnist.push({ case: label, batch: B, clipsPerSec: Math.round(rate) });
    log(`Moving-MNIST ${label}, batch ${B}: ${Math.round(rate)} clips/s`);
  };
  const idx = (s, B) => Array.from({ length: B }, (_, i) => s + i);
  measure('16 frames 64×64 RGB (whole clips)', (s, B) => mm.batch(idx(s, B)), 32);
  measure('8 of 16 frames resized to 32×32', (s, B) => mm.batch(idx(s, B), { frames: [0, 2, 4, 6, 8, 10, 12, 14], size: 32 }), 32);
  log('reference: the calibration tiny-model step (batch 16, ~0.5 s/step on 2 cores, DESIGN.md) consumes ~32 clips/s');
  if (json) console.log(JSON.stringify(results, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
