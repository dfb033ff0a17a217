/** Issue 13's probes of the training side: broken weights must not score, corrupt checkpoints are skipped, crash leftovers and bad input. */
import fs from 'node:fs';
import path from 'node:path';

import { readMetrics } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { evaluateAccuracy, topkCorrect } from '../src/accuracy.js';
import { ConfigError } from '../src/cli.js';
import { openDataset } from '../src/data.js';
import { loadRun } from '../src/supervised/budgets.js';
import { resolveTuneConfig } from '../src/supervised/config.js';
import { createFluxModel } from '../src/supervised/model.js';
import { tune, validate } from '../src/supervised/tune.js';
import { setupBackend, tinyConfig, tmpDir } from './helpers.js';

beforeAll(setupBackend);
const base = { createModel: createFluxModel, quiet: true };

function flipByteNearEnd(file: string): void {
  const b = fs.readFileSync(file);
  b[b.length - 5] ^= 0x10; // inside the tensor data, past the header
  fs.writeFileSync(file, b);
}

describe('non-finite logits never count as correct', () => {
  it('topkCorrect: a NaN/Inf row is wrong at every k and counted', () => {
    const logits = Float32Array.from([NaN, NaN, NaN, 1, 2, 3, 0, Infinity, 0, 5, 1, 0]);
    expect(topkCorrect(logits, 3, [0, 2, 1, 0])).toEqual({ top1: 2, top5: 2, nonFinite: 2 });
  });

  it('a model whose weights hold a NaN scores 0 % in validation and says why', async () => {
    const cfg = tinyConfig({ mode: 'multi' });
    const val = openDataset('val', cfg);
    const model = createFluxModel(cfg, val.numClasses);
    const w = model.param('head.0.weight');
    w.assign(tf.fill(w.shape, Number.NaN));
    const a = await evaluateAccuracy(model, val, { frames: cfg.frames, size: cfg.size, clips: 8 });
    expect(a).toEqual({ top1: 0, top5: 0, n: 8, nonFinite: 8 });
    const v = await validate(model, cfg, val, 8);
    expect(v[0]).toMatchObject({ k: null, top1: 0, nonFinite: 8 });
    model.dispose();
  });
});

describe('checkpoint integrity on resume', () => {
  it('a flipped byte in the newest checkpoint: resume warns, falls back to the one before, and continues bit for bit', async () => {
    const cfg = tinyConfig({ mode: 'multi', steps: 6, checkpointEvery: 2, keepCheckpoints: 3 });
    const full = await tune(cfg, { ...base, out: tmpDir('ck-full') });
    full.model.dispose();
    const dir = tmpDir('ck-corrupt');
    (await tune(cfg, { ...base, out: dir, stopAfter: 5 })).model.dispose();
    flipByteNearEnd(path.join(dir, 'checkpoints', 'step-000004', 'model.safetensors'));
    const warnings: string[] = [];
    const r = await tune(cfg, { ...base, out: dir, resume: true, onWarning: (m) => warnings.push(m) });
    expect(warnings.join('\n')).toMatch(/skipping checkpoint .*step-000004: .*model\.safetensors does not match its checksum/);
    expect(r.losses.map((l) => l.step)).toEqual([3, 4, 5, 6]);
    for (const l of r.losses) expect(l.loss).toBe(full.losses.find((x) => x.step === l.step)!.loss);
    expect(readMetrics(path.join(dir, 'metrics.jsonl')).filter((m) => m.event === 'warning').length).toBeGreaterThan(0);
    r.model.dispose();
  }, 120_000);

  it('an unreadable state.json in a checkpoint without checksums (older runs) is skipped with the file named; none usable → a clear error', async () => {
    const cfg = tinyConfig({ mode: 'fixed', steps: 4, checkpointEvery: 2, keepCheckpoints: 3 });
    const dir = tmpDir('ck-state');
    (await tune(cfg, { ...base, out: dir, stopAfter: 4 })).model.dispose();
    for (const s of ['step-000002', 'step-000004']) fs.rmSync(path.join(dir, 'checkpoints', s, 'checksums.json'));
    fs.writeFileSync(path.join(dir, 'checkpoints', 'step-000004', 'state.json'), '{"step": 4, "optimizerStep": ');
    const warnings: string[] = [];
    const r = await tune({ ...cfg, steps: 4 }, { ...base, out: dir, resume: true, onWarning: (m) => warnings.push(m) });
    expect(warnings.join('\n')).toMatch(/step-000004[\s\S]*state\.json/);
    expect(r.losses.map((l) => l.step)).toEqual([3, 4]);
    r.model.dispose();
    // Every checkpoint corrupt (step 4 was rewritten with checksums by the resumed run; step 2 has none, so it is
    // truncated — a flipped byte in an unverified file cannot be seen): refuse, naming the problems.
    flipByteNearEnd(path.join(dir, 'checkpoints', 'step-000004', 'optimizer.safetensors'));
    const opt2 = path.join(dir, 'checkpoints', 'step-000002', 'optimizer.safetensors');
    fs.writeFileSync(opt2, fs.readFileSync(opt2).subarray(0, 100));
    await expect(tune(cfg, { ...base, out: dir, resume: true, onWarning: () => {} })).rejects.toThrow(/no intact checkpoint .*step-000004.*optimizer\.safetensors does not match[\s\S]*step-000002.*optimizer\.safetensors/);
  }, 120_000);

  it('flux-eval loads a run whose final weights are corrupt from its newest intact checkpoint, with a warning', async () => {
    const cfg = tinyConfig({ mode: 'fixed', steps: 2, checkpointEvery: 2 });
    const dir = tmpDir('ck-eval');
    (await tune(cfg, { ...base, out: dir })).model.dispose();
    flipByteNearEnd(path.join(dir, 'model.safetensors'));
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
    try {
      loadRun(dir).model.dispose();
    } finally {
      process.stderr.write = write;
    }
    expect(err.join('')).toMatch(/model\.safetensors does not match its checksum \(the file is corrupt\); using .*step-000002.*model\.safetensors instead/);
    fs.writeFileSync(path.join(dir, 'config.json'), '{ "mode": ');
    expect(() => loadRun(dir)).toThrow(/config\.json: not a readable run config/);
  }, 60_000);
});

describe('finished runs, bad input', () => {
  it('resuming a finished run changes nothing: result.json keeps its numbers, no second validation is logged', async () => {
    const cfg = tinyConfig({ mode: 'fixed', steps: 2, checkpointEvery: 2 });
    const dir = tmpDir('finished');
    const a = await tune(cfg, { ...base, out: dir });
    a.model.dispose();
    const before = fs.readFileSync(path.join(dir, 'result.json'), 'utf8');
    const vals = () => readMetrics(path.join(dir, 'metrics.jsonl')).filter((m) => m.event === 'val').length;
    const n = vals();
    const b = await tune(cfg, { ...base, out: dir, resume: true });
    expect(b.finalLoss).toBe(a.finalLoss);
    expect(b.val).toEqual(a.val);
    b.model.dispose();
    expect(fs.readFileSync(path.join(dir, 'result.json'), 'utf8')).toBe(before);
    expect(JSON.parse(before).finalLoss).toEqual(expect.any(Number));
    expect(vals()).toBe(n);
  }, 60_000);

  it('a bad --data path fails before a run directory exists, so the corrected rerun starts cleanly', async () => {
    const out = path.join(tmpDir('bad-data'), 'run');
    await expect(tune(tinyConfig({ data: '/nonexistent/train.csv' }), { ...base, out })).rejects.toThrow(/no such manifest/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('absurd numbers fail validation with the key named (no V8 crash)', () => {
    expect(() => resolveTuneConfig({ batchSize: 1e20 })).toThrow(ConfigError);
    expect(() => resolveTuneConfig({ batchSize: 1e20 })).toThrow(/batchSize must be an integer in \[1, 65536\]/);
    expect(() => resolveTuneConfig({ steps: 2 ** 60 })).toThrow(/steps must be an integer in \[1, 1000000000\]/);
    expect(() => resolveTuneConfig({ mode: 'fixed', batchSize: 4096, frames: 64, size: 512, clipSize: 512 })).toThrow(/needs 768\.0 GiB as float32/);
    expect(() => resolveTuneConfig({ flexiSizes: [16, 1e9, 16] })).toThrow(/flexiSizes must be/);
  });
});
