/**
 * End to end: the built page in a real headless Chromium against `predict` in Node, on the same Moving-MNIST mp4
 * (written here by @flux/video) and the same tiny trained checkpoint (test/fixtures, made by scripts/make-fixture.mjs).
 *
 * What is compared: Node decodes the plan's frames with ffmpeg (as `flux-eval predict` does); the page decodes them
 * itself (video element seeked to each frame index, drawn on a canvas). The plan grid is the clip's own 64×64, so
 * neither side resizes; the pixels can still differ where the two YUV→RGB conversions round differently, and the
 * test reports by how much. The predictions (all class probabilities) at three budgets must agree within 1e-3 with
 * the same top-1 label.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@flux/core';
import { calibrationPlans, classifyClip, decodeForPlan, loadPredictor, measurePlans, predictVideo, type Predictor } from '@flux/train';
import { MOVING_MNIST_TASKS, MovingMnist, writeMovingMnist } from '@flux/video';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// @ts-expect-error plain JS helpers of this app
import { ensureChromium } from '../scripts/ensure-chromium.mjs';
// @ts-expect-error plain JS helpers of this app
import { serve } from '../scripts/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(here, '..', 'dist');
const FIXTURE = path.join(here, 'fixtures', 'tiny-mnist.safetensors');
const SCREENSHOT_DIR = path.join(here, '..', 'test-output');
const DOCS_SCREENSHOT = path.join(here, '..', '..', '..', 'docs', 'browser-predict.png');
/** Budgets compared: indices into the calibration plans (shares 1, .75, .5, .375, .25, .125). */
const BUDGETS = [0, 2, 4];
/** Page vs Node on the same pixels (WebGL float32 vs native TensorFlow). */
const TOL = 1e-3;
/** Page vs Node each decoding the file: their YUV→RGB conversions differ by ±1 on a few % of the bytes. */
const TOL_DECODE = 5e-3;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

interface PagePrediction {
  top: { index: number; label: string; prob: number }[];
  probs: number[];
  plan: { frames: number; size: number; k: number; gridTokens: number; head: number; gflops: number };
  ms: number;
  frameIndices: number[];
  numTensors: number;
}

let browser: Browser | undefined;
let page: Page;
let server: { url: string; close: () => Promise<void> };
let predictor: Predictor;
let data: string;
let clip: string;
let pageBackend = '';
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error(`${DIST} is not built: run pnpm --filter @flux/web build`);
  const chromium: string = ensureChromium();
  await initBackend({ log: false });
  data = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-web-e2e-'));
  const mm = new MovingMnist({ ...MOVING_MNIST_TASKS.directions!, split: 'test', seed: 0, size: 64, length: 16, count: 4 });
  const written = await writeMovingMnist(mm, data, { limit: 1 });
  clip = written.files[0]!;
  fs.copyFileSync(FIXTURE, path.join(data, 'model.safetensors'));
  predictor = await loadPredictor(FIXTURE);
  server = await serve({ '/': DIST, '/data/': data });
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
  });
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.setViewport({ width: 960, height: 640 });
  await page.goto(`${server.url}?checkpoint=/data/model.safetensors&video=/data/${path.basename(clip)}`);
  pageBackend = await page.evaluate(() => window.flux.ready);
}, 600_000); // the first run on a machine without Chromium installs it (apt-get): minutes

afterAll(async () => {
  await browser?.close();
  await server?.close();
  predictor?.model.dispose();
  if (data) fs.rmSync(data, { recursive: true, force: true });
});

describe('the web page vs predict in Node', () => {
  it('runs on WebGL or wasm in the page (wasm where WebGL is a software rasteriser)', () => {
    expect(pageErrors).toEqual([]);
    expect(['webgl', 'wasm']).toContain(pageBackend);
    console.log(`page backend: ${pageBackend}; Node backend: ${tf.getBackend()}`);
  });

  it('predicts the same at 100 %, 50 % and 25 % of the tokens', async () => {
    const plans = calibrationPlans(predictor);
    for (const b of BUDGETS) {
      const plan = plans[b]!;
      const node = await predictVideo(predictor, clip, plan, 5);
      const web = await page.evaluate((i) => window.flux.predictAt(i), b) as PagePrediction;
      expect(web.plan.k).toBe(plan.k);
      expect(web.plan.frames).toBe(plan.frames);
      expect(web.plan.size).toBe(plan.size);
      expect(web.frameIndices).toEqual(node.frameIndices);
      // Pixels: the page's decode vs ffmpeg's.
      const webPx = await page.evaluate((i) => window.flux.frames(i), b);
      const nodePx = (await decodeForPlan(clip, plan)).pixels;
      let maxDiff = 0;
      let differing = 0;
      for (let i = 0; i < nodePx.length; i++) {
        const d = Math.abs(nodePx[i]! - webPx[i]!);
        if (d) differing++;
        maxDiff = Math.max(maxDiff, d);
      }
      // (1) The model step on the same pixels: Node on the page's frames vs the page.
      const sameFrames = await classifyClip(predictor, Uint8Array.from(webPx), plan, 5);
      const modelDiff = maxAbsDiff(sameFrames.probs, web.probs);
      // (2) End to end, each side decoding the file itself (ffmpeg in Node, Chromium in the page).
      const e2eDiff = maxAbsDiff(node.probs, web.probs);
      console.log(
        `K=${plan.k} (${((100 * plan.k) / plan.gridTokens).toFixed(0)} %): node top-1 ${node.top[0]!.label} ${node.top[0]!.prob.toFixed(4)} · page top-1 ${web.top[0]!.label} ${web.top[0]!.prob.toFixed(4)} · ` +
          `max |Δp| same frames ${modelDiff.toExponential(2)}, each decoding ${e2eDiff.toExponential(2)} · pixels: ${differing} of ${nodePx.length} bytes differ, max ${maxDiff}`,
      );
      expect(webPx.length).toBe(nodePx.length);
      // The same frames: only YUV→RGB rounding may differ (a wrong frame differs by up to 255).
      expect(maxDiff).toBeLessThanOrEqual(1);
      expect(differing / nodePx.length).toBeLessThan(0.05);
      expect(sameFrames.top[0]!.label).toBe(web.top[0]!.label);
      expect(modelDiff).toBeLessThanOrEqual(TOL);
      expect(web.top[0]!.label).toBe(node.top[0]!.label);
      expect(e2eDiff).toBeLessThanOrEqual(TOL_DECODE);
    }
  }, 120_000);

  it('measures latency per budget in the page and in Node, and does not leak tensors', async () => {
    const web = await page.evaluate(() => window.flux.measureLatency()) as { plan: { k: number; gridTokens: number; gflops: number }; ms: number }[];
    const node = await measurePlans(predictor, calibrationPlans(predictor));
    const lines = web.map((w, i) => `  ${((100 * w.plan.k) / w.plan.gridTokens).toFixed(1).padStart(5)} %  K=${String(w.plan.k).padStart(3)}  ${w.plan.gflops.toFixed(4)} GFLOP  page (${pageBackend}) ${w.ms.toFixed(2)} ms   node (${tf.getBackend()}) ${node[i]!.ms.toFixed(2)} ms`);
    console.log(`latency per clip:\n${lines.join('\n')}`);
    expect(web.length).toBe(node.length);
    for (const w of web) expect(w.ms).toBeGreaterThan(0);
    // A predict loop in the page keeps the tensor count flat.
    const counts: number[] = [];
    for (let r = 0; r < 3; r++) for (const b of BUDGETS) counts.push((await page.evaluate((i) => window.flux.predictAt(i), b) as PagePrediction).numTensors);
    expect(new Set(counts).size).toBe(1);
    // Leave the page at 25 % for the screenshot.
    await page.evaluate(() => window.flux.predictAt(4));
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const shot = path.join(SCREENSHOT_DIR, 'browser-predict.png');
    await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
    if (process.env.FLUX_UPDATE_DOCS === '1') fs.copyFileSync(shot, DOCS_SCREENSHOT);
    expect(fs.statSync(shot).size).toBeGreaterThan(1000);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('the other backend (WebGL where the page chose wasm, else wasm) gives the same predictions', async () => {
    const other = pageBackend === 'wasm' ? 'webgl' : 'wasm';
    const wasm = await browser!.newPage();
    const errors: string[] = [];
    wasm.on('pageerror', (e) => errors.push(String(e)));
    await wasm.goto(`${server.url}?backend=${other}&checkpoint=/data/model.safetensors&video=/data/${path.basename(clip)}`);
    expect(await wasm.evaluate(() => window.flux.ready)).toBe(other);
    const plans = calibrationPlans(predictor);
    for (const b of BUDGETS) {
      const w = await wasm.evaluate((i) => window.flux.predictAt(i), b) as PagePrediction;
      const px = await wasm.evaluate((i) => window.flux.frames(i), b);
      const same = await classifyClip(predictor, Uint8Array.from(px), plans[b]!, 5);
      expect(w.top[0]!.label).toBe(same.top[0]!.label);
      expect(maxAbsDiff(same.probs, w.probs)).toBeLessThanOrEqual(TOL);
    }
    const lat = await wasm.evaluate(() => window.flux.measureLatency()) as { plan: { k: number }; ms: number }[];
    console.log(`latency per clip, page on ${other}: ${lat.map((l) => `K=${l.plan.k} ${l.ms.toFixed(2)} ms`).join(', ')}`);
    expect(errors).toEqual([]);
    await wasm.close();
  }, 120_000);
});
