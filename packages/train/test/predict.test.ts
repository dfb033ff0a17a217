import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseSafetensors, readPthSync } from '@flux/core';
import { MOVING_MNIST_TASKS, MovingMnist, writeMovingMnist } from '@flux/video';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  CHECKPOINT_META,
  KINETICS_400,
  PredictInputError,
  calibrate,
  calibrationPlans,
  classifyClip,
  listPredictInputs,
  loadPredictor,
  makePlan,
  parsePlanSpec,
  parseTokens,
  pickPlanByCost,
  predictVideo,
  predictorFromSafetensors,
  timingPixels,
  tokenOptimizedPlan,
  type Predictor,
} from '../src/index.js';
import { createFluxModel } from '../src/supervised/model.js';
import { tune } from '../src/supervised/tune.js';
import { setupBackend, tinyConfig, tmpDir } from './helpers.js';

const GOLDEN = fileURLToPath(new URL('../../vit/test/fixtures/golden-weights.pth', import.meta.url));

let runDir: string;
let clips: string[];
let clipDir: string;

beforeAll(async () => {
  await setupBackend();
  process.env.FLUX_CACHE_DIR = tmpDir('predict-cache');
  runDir = tmpDir('predict-run');
  const r = await tune(tinyConfig({ mode: 'multi', steps: 4 }), { createModel: createFluxModel, quiet: true, out: runDir });
  r.model.dispose();
  clipDir = tmpDir('predict-clips');
  const mm = new MovingMnist({ ...MOVING_MNIST_TASKS.directions!, split: 'test', seed: 0, size: 64, length: 16, count: 4 });
  clips = (await writeMovingMnist(mm, clipDir, { limit: 2 })).files;
}, 120_000);

afterAll(() => {
  delete process.env.FLUX_CACHE_DIR;
});

describe('predict: budgets and plans', () => {
  it('parses --tokens as a share or a count, and refuses absurd ones', () => {
    expect(parseTokens('25%', 128)).toBe(32);
    expect(parseTokens('100%', 128)).toBe(128);
    expect(parseTokens('40', 128)).toBe(40);
    for (const bad of ['0', '0%', '150%', '129', '-3', 'lots', '1e9', '12.5']) {
      expect(() => parseTokens(bad, 128), bad).toThrow(PredictInputError);
    }
    expect(() => parseTokens('129', 128)).toThrow(/--tokens: 129 tokens is outside 1…128/);
  });

  it('parses --plan and checks it against the model', () => {
    expect(parsePlanSpec('8x64')).toEqual({ frames: 8, size: 64 });
    expect(parsePlanSpec('auto')).toBeNull();
    expect(() => parsePlanSpec('8by64')).toThrow(/--plan: '8by64' is not FxR/);
    const m = createFluxModel(tinyConfig(), 8);
    expect(() => makePlan(m.config, 4, 40)).toThrow(/not a positive multiple of the patch size 16/);
    expect(() => makePlan(m.config, 64, 32)).toThrow(/64 frames is outside 1…8/);
    expect(() => makePlan(m.config, 4, 64)).toThrow(/more than the model's grid of 2/);
    const p = makePlan(m.config, 4, 32, 8);
    expect(p).toMatchObject({ frames: 4, size: 32, gridTokens: 16, k: 8, head: 1 });
    expect(p.gflops).toBeGreaterThan(0);
    m.dispose();
  });

  it('picks the most tokens that fit a cost, and says why when nothing fits', () => {
    const m = createFluxModel(tinyConfig(), 8);
    const cal = [16, 12, 8, 4].map((k, i) => ({ plan: makePlan(m.config, 4, 32, k), ms: 10 - 2 * i }));
    expect(pickPlanByCost(cal, { latencyMs: 7 }).plan.k).toBe(8);
    expect(pickPlanByCost(cal, { maxGflops: cal[1]!.plan.gflops }).plan.k).toBe(12);
    expect(pickPlanByCost(cal, { maxGflops: 1e9, latencyMs: 100 }).plan.k).toBe(16);
    expect(() => pickPlanByCost(cal, { latencyMs: 1 })).toThrow(/--latency-ms 1: no plan fits: the cheapest measured, 4×32 K=4/);
    m.dispose();
  });
});

describe('predict: checkpoints', () => {
  let run: Predictor;
  beforeAll(async () => {
    run = await loadPredictor(runDir);
  });
  afterAll(() => run.model.dispose());

  it('a tune run stores its class names and a self-describing model.safetensors', () => {
    expect(JSON.parse(fs.readFileSync(path.join(runDir, 'classes.json'), 'utf8'))).toEqual(run.classNames);
    expect(run.classNames).toHaveLength(8);
    expect(run.labelsFrom).toContain('classes.json');
    const meta = parseSafetensors(fs.readFileSync(path.join(runDir, 'model.safetensors'))).metadata;
    expect(JSON.parse(meta[CHECKPOINT_META.classes]!)).toEqual(run.classNames);
    expect(JSON.parse(meta[CHECKPOINT_META.grid]!)).toEqual({ frames: 4, size: 32 });
  });

  it('the run directory and its model.safetensors alone predict the same', async () => {
    const file = await loadPredictor(path.join(runDir, 'model.safetensors'));
    expect(file.kind).toBe('safetensors');
    expect(file.classNames).toEqual(run.classNames);
    const plan = makePlan(run.model.config, 4, 32, 8);
    const a = await predictVideo(run, clips[0]!, plan);
    const b = await predictVideo(file, clips[0]!, plan);
    expect(a.frameIndices).toEqual([1, 5, 9, 13]);
    expect(Array.from(b.probs)).toEqual(Array.from(a.probs));
    expect(a.top).toHaveLength(5);
    expect(a.probs.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 9);
    file.model.dispose();
  });

  it('the browser loader reads the same bytes to the same model', async () => {
    const web = predictorFromSafetensors(new Uint8Array(fs.readFileSync(path.join(runDir, 'model.safetensors'))), 'model.safetensors');
    const plan = makePlan(run.model.config, 4, 32, 12);
    const px = timingPixels(plan);
    expect(Array.from((await classifyClip(web, px, plan)).probs)).toEqual(Array.from((await classifyClip(run, px, plan)).probs));
    web.model.dispose();
  });

  it('the predict loop does not leak tensors', async () => {
    const plan = makePlan(run.model.config, 4, 32, 8);
    await predictVideo(run, clips[0]!, plan);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) await predictVideo(run, clips[i % 2]!, plan);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a labels file replaces the names, and must have one name per class', async () => {
    const f = path.join(tmpDir('labels'), 'names.txt');
    fs.writeFileSync(f, Array.from({ length: 8 }, (_, i) => `motion ${i}`).join('\n') + '\n');
    const p = await loadPredictor(runDir, { labels: f });
    expect(p.classNames[3]).toBe('motion 3');
    p.model.dispose();
    fs.writeFileSync(f, 'a\nb\n');
    await expect(loadPredictor(runDir, { labels: f })).rejects.toThrow(`${f}: holds 2 class names but the checkpoint has 8 classes`);
  });

  it('--plan auto: Token Optimization on the run\'s train clips, cached', async () => {
    const a = await tokenOptimizedPlan(run, 8);
    expect(a.k).toBeLessThanOrEqual(8);
    expect(a.k).toBe(Math.min(8, a.gridTokens));
    expect(fs.readdirSync(path.join(process.env.FLUX_CACHE_DIR!, 'predict')).filter((f) => f.startsWith('to-'))).toHaveLength(1);
    expect(await tokenOptimizedPlan(run, 8)).toEqual(a);
    const file = await loadPredictor(path.join(runDir, 'model.safetensors'));
    await expect(tokenOptimizedPlan(file, 8)).rejects.toThrow(/not a flux-tune run directory \(pass --plan FxR\)/);
    file.model.dispose();
  }, 60_000);

  it('calibrates latency once per machine and backend (cached)', async () => {
    const a = await calibrate(run);
    expect(a.cached).toBe(false);
    expect(a.plans.map((c) => c.plan.k)).toEqual(calibrationPlans(run).map((p) => p.k));
    for (const c of a.plans) expect(c.ms).toBeGreaterThan(0);
    const b = await calibrate(run);
    expect(b.cached).toBe(true);
    expect(b.plans).toEqual(a.plans);
  });
});

describe('predict: inputs and errors', () => {
  it('lists a video, a folder and a manifest', () => {
    expect(listPredictInputs(clips[0]!)).toEqual([{ file: clips[0] }]);
    expect(listPredictInputs(clipDir).map((x) => x.file)).toEqual(clips);
    const m = listPredictInputs(path.join(clipDir, 'manifest.csv'));
    expect(m.map((x) => x.file)).toEqual(clips);
    expect(m[0]!.label).toBeDefined();
  });

  it('names the file and the cause', async () => {
    await expect(loadPredictor('/nope/model.safetensors')).rejects.toThrow('/nope/model.safetensors: no such checkpoint');
    const dir = tmpDir('corrupt');
    const bad = path.join(dir, 'broken.safetensors');
    fs.writeFileSync(bad, Buffer.from('this is not a checkpoint at all'));
    await expect(loadPredictor(bad)).rejects.toThrow(new RegExp(`^${bad}: corrupt or unreadable checkpoint`));
    const badPth = path.join(dir, 'broken.pth');
    fs.writeFileSync(badPth, Buffer.alloc(64, 7));
    await expect(loadPredictor(badPth)).rejects.toThrow(new RegExp(`^${badPth}: corrupt or unreadable checkpoint`));
    // A truncated safetensors: the header promises more bytes than there are.
    const whole = fs.readFileSync(path.join(runDir, 'model.safetensors'));
    const cut = path.join(dir, 'cut.safetensors');
    fs.writeFileSync(cut, whole.subarray(0, whole.length - 100));
    await expect(loadPredictor(cut)).rejects.toThrow(PredictInputError);
    expect(() => listPredictInputs('/nope/clip.mp4')).toThrow('/nope/clip.mp4: no such video, folder or manifest');
    expect(() => listPredictInputs(dir)).toThrow(/a folder with no video files/);
  });
});

describe('predict: an official-format checkpoint (the golden .pth of @flux/vit)', () => {
  it('infers the architecture from the tensors, loads strictly and predicts', async () => {
    const p = await loadPredictor(GOLDEN, { modelConfig: { headTokenCounts: [64, 32, 16] } });
    expect(p.kind).toBe('pth');
    expect(p.model.config).toMatchObject({ patchSize: 4, embedDim: 32, depth: 2, numHeads: 4, maxFrames: 8, maxGrid: 4, numClasses: 5, clipEmbedDim: 24, clipNumHeads: 4, clipPool: 'attention' });
    expect(p.classNames).toEqual(['class 0', 'class 1', 'class 2', 'class 3', 'class 4']);
    // Every tensor of the file is in the model with its value (strict load).
    const sd = p.model.stateDict();
    const file = readPthSync(GOLDEN).tensors;
    expect(sd.size).toBe(file.size);
    const plan = makePlan(p.model.config, 8, 16, 32);
    const r = await predictVideo(p, clips[0]!, plan, 3);
    expect(r.plan).toMatchObject({ frames: 8, size: 16, k: 32, gridTokens: 128, head: 1 });
    expect(r.top).toHaveLength(3);
    p.model.dispose();
  });

  it('names Kinetics-400 classes for 400-class checkpoints', () => {
    expect(KINETICS_400).toHaveLength(400);
    expect(new Set(KINETICS_400).size).toBe(400);
    expect(KINETICS_400[0]).toBe('abseiling');
    expect(KINETICS_400[399]).toBe('zumba');
  });
});
