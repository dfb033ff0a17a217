/** Tuning on a user's manifest: real video files decoded with ffmpeg (written here from Moving-MNIST clips). */
import fs from 'node:fs';
import path from 'node:path';

import { readMetrics } from '@flux/core';
import { MovingMnist, writeMovingMnist, type WrittenMovingMnist } from '@flux/video';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { evalBatch, manifestDataset, movingMnistDataset, openDataset } from '../src/data.js';
import { createFluxModel } from '../src/supervised/model.js';
import { tune } from '../src/supervised/tune.js';
import { setupBackend, tinyConfig, tmpDir } from './helpers.js';

let written: WrittenMovingMnist;
const CLIPS = 8;

beforeAll(async () => {
  await setupBackend();
  written = await writeMovingMnist(new MovingMnist({ split: 'test' }), tmpDir('manifest'), { limit: CLIPS });
}, 120_000);

const base = { createModel: createFluxModel, quiet: true };

describe('manifest datasets', () => {
  it('decode the sampled frames of the files: the pixels match the in-memory clips they were written from', async () => {
    const ds = manifestDataset(written.manifest);
    expect(ds.count).toBe(CLIPS);
    expect((await ds.info([0, 3])).map((i) => i.frames)).toEqual([16, 16]);
    expect((await ds.info([0]))[0]).toMatchObject({ width: 64, height: 64 });
    const mm = movingMnistDataset('test', { clipLength: 16, clipSize: 64, trainClips: 1, valClips: 1, testClips: CLIPS });
    const idx = [0, 1, 2, 3];
    const a = await evalBatch(ds, idx, 4, 32);
    const b = await evalBatch(mm, idx, 4, 32);
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    const diff = (x: tf.Tensor, y: tf.Tensor) => tf.tidy(() => tf.mean(tf.abs(tf.sub(x, y))).dataSync()[0]!);
    const same = diff(a.video, b.video);
    // Another clip order: what a wrong frame or clip mapping would look like.
    const c = await evalBatch(mm, [1, 2, 3, 0], 4, 32);
    const other = diff(a.video, c.video);
    expect(same).toBeLessThan(0.05); // h264 at crf 12 and two resizers differ a little
    expect(other).toBeGreaterThan(5 * same);
    tf.dispose([a.video, b.video, c.video]);
  });

  it('tunes and validates on a manifest; metrics and validation are written', async () => {
    const cfg = tinyConfig({ mode: 'multi', data: written.manifest, valData: written.manifest, steps: 2, evalClips: 4 });
    const out = tmpDir('manifest-run');
    const r = await tune(cfg, { ...base, out });
    expect(r.model.config.numClasses).toBe(openDataset('train', cfg).numClasses);
    r.model.dispose();
    const steps = readMetrics(path.join(out, 'metrics.jsonl')).filter((m) => typeof m.loss === 'number');
    expect(steps.map((m) => m.step)).toEqual([1, 2]);
    steps.forEach((m) => expect(Number.isFinite(m.loss)).toBe(true));
    expect(r.val!.length).toBe(1 + cfg.tokenCounts.length);
    r.val!.forEach((v) => expect(v.top1).toBeGreaterThanOrEqual(0));
  }, 120_000);

  it('bad input: a corrupt file stops training with its name; a missing manifest and Moving-MNIST splits are refused', async () => {
    const dir = tmpDir('manifest-bad');
    const bad = path.join(dir, 'broken.mp4');
    fs.writeFileSync(bad, 'this is not a video');
    const good = fs.readFileSync(written.manifest, 'utf8').trim().split('\n');
    const file = path.join(dir, 'train.csv');
    const root = path.dirname(written.manifest);
    fs.writeFileSync(file, [...good.map((l) => `${path.join(root, l.split(' ')[0]!)} ${l.split(' ')[1]}`), `${bad} 1`].join('\n') + '\n');
    const ds = manifestDataset(file);
    await expect(evalBatch(ds, [0, CLIPS], 4, 32)).rejects.toThrow(/broken\.mp4/);
    expect(() => manifestDataset(path.join(dir, 'nope.csv'))).toThrow(/no such manifest/);
    expect(() => tinyConfig({ valData: file })).toThrow(/valData needs a manifest 'data'/);
  }, 60_000);
});
