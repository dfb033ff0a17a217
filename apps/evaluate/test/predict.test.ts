import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { initBackend } from '@flux/core';
import { createFluxModel, resolveTuneConfig, tune } from '@flux/train';
import { MOVING_MNIST_TASKS, MovingMnist, writeMovingMnist } from '@flux/video';
import { beforeAll, describe, expect, it } from 'vitest';

import { buildPredictCommand } from '../src/predict-cli.js';

const BIN = fileURLToPath(new URL('../bin/flux-eval.js', import.meta.url));
const run = promisify(execFile);
let runDir: string;
let clip: string;
let cache: string;

async function predict(args: string[]): Promise<{ out: string; err: string; code: number }> {
  try {
    const r = await run(process.execPath, [BIN, 'predict', ...args], { env: { ...process.env, FLUX_BACKEND: 'cpu', FLUX_CACHE_DIR: cache } });
    return { out: r.stdout, err: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { out: x.stdout, err: x.stderr, code: x.code };
  }
}

beforeAll(async () => {
  await initBackend({ backend: 'cpu', log: false });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-eval-predict-'));
  cache = path.join(tmp, 'cache');
  runDir = path.join(tmp, 'run');
  const cfg = resolveTuneConfig({
    modelOverrides: { patchSize: 16, embedDim: 16, depth: 1, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 4 },
    trainClips: 64, valClips: 16, evalClips: 8, steps: 3, batchSize: 2, warmupSteps: 1, checkpointEvery: 3, tokenCounts: [128, 64, 32],
  });
  (await tune(cfg, { out: runDir, createModel: createFluxModel, quiet: true })).model.dispose();
  const mm = new MovingMnist({ ...MOVING_MNIST_TASKS.directions!, split: 'test', seed: 0, size: 64, length: 16, count: 2 });
  clip = (await writeMovingMnist(mm, path.join(tmp, 'clips'), { limit: 1 })).files[0]!;
}, 120_000);

describe('flux-eval predict', () => {
  it('documents the command', () => {
    const help = buildPredictCommand().helpInformation();
    for (const s of ['--checkpoint', '--tokens', '--plan', '--labels', '--top', '--json', '--max-gflops', '--latency-ms']) expect(help).toContain(s);
  });

  it('prints top-k labels, the plan and the time per clip at a share of the tokens', async () => {
    const r = await predict([clip, '--checkpoint', runDir, '--tokens', '25%', '--top', '3']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/plan 8×64, K=32 of 128 tokens \(25\.0 %\), head 2/);
    expect(r.out).toMatch(/ms model/);
    expect(r.out.trim().split('\n').filter((l) => /^\s+\d\. /.test(l))).toHaveLength(3);
  });

  it('a manifest: class names for its numeric labels and a top-1 count', async () => {
    const r = await predict([path.join(path.dirname(clip), 'manifest.csv'), '--checkpoint', runDir, '--top', '1']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\(label: (left|right|up|down|up-left|up-right|down-left|down-right)\)/);
    expect(r.out).toMatch(/top-1 [01]\/1 of the labelled clips/);
  });

  it('--json, and a plan chosen by latency measured here (cached)', async () => {
    const r = await predict([clip, '--checkpoint', runDir, '--latency-ms', '100000', '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { plan: { k: number; why: string }; predictions: { top: { prob: number }[]; ms: number }[] };
    expect(j.plan.k).toBe(128);
    expect(j.plan.why).toMatch(/fits 100000 ms/);
    expect(j.predictions[0]!.top).toHaveLength(5);
    expect(fs.readdirSync(path.join(cache, 'predict')).some((f) => f.startsWith('latency-'))).toBe(true);
  }, 60_000);

  it('fails with the file or option and the cause', async () => {
    const a = await predict([clip, '--checkpoint', runDir, '--tokens', '300%']);
    expect(a.code).toBe(1);
    expect(a.err).toContain('--tokens: 300% is not a share in (0 %, 100 %]');
    const b = await predict(['/nope.mp4', '--checkpoint', runDir]);
    expect(b.err).toContain('/nope.mp4: no such video, folder or manifest');
    const c = await predict([clip, '--checkpoint', '/nope/run']);
    expect(c.err).toContain('/nope/run: no such checkpoint');
    const d = await predict([clip, '--checkpoint', runDir, '--max-gflops', '0.000001']);
    expect(d.err).toMatch(/--max-gflops 0.000001: no plan fits/);
  }, 60_000);
});
