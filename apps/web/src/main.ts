/**
 * The Flux web page: load a checkpoint written by flux-tune (a self-describing model.safetensors, fetched or picked),
 * pick a video, and see the top-5 labels at a token budget chosen with a slider, with the latency of every budget
 * measured in this browser. Everything model-side is @flux/train's browser entry — the same plans, frame indices and
 * classification as `flux-eval predict` in Node.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  calibrationPlans,
  classifyClip,
  measurePlans,
  planFrameIndices,
  predictorFromSafetensors,
  type CalibratedPlan,
  type ClipPrediction,
  type PredictPlan,
  type PredictorInfo,
} from '@flux/train';

import { openBrowserVideo, readBrowserFrames, type BrowserVideo } from '@flux/video';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** tfjs backends in order of preference; the first that initialises is used. */
async function initBackend(order: string[]): Promise<string> {
  setWasmPaths(new URL('./', location.href).href);
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        // A trivial op proves the backend computes (WebGL can initialise and still fail on the first program).
        tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync());
        return name;
      }
    } catch {
      /* next */
    }
  }
  throw new Error(`no tfjs backend works here (tried ${order.join(', ')})`);
}

interface State {
  backend: string;
  predictor?: PredictorInfo;
  checkpointName?: string;
  video?: BrowserVideo;
  plans: PredictPlan[];
  latency: CalibratedPlan[];
  frames: Map<string, Uint8Array>;
}

const state: State = { backend: '', plans: [], latency: [], frames: new Map() };

function status(text: string, error = false): void {
  const el = $('status');
  el.textContent = text;
  el.className = error ? 'error' : '';
}

async function framesFor(plan: PredictPlan): Promise<Uint8Array> {
  if (!state.video) throw new Error('no video loaded');
  const key = `${plan.frames}x${plan.size}`;
  let px = state.frames.get(key);
  if (!px) {
    px = await readBrowserFrames(state.video, planFrameIndices(state.video.frames, plan), plan.size);
    state.frames.set(key, px);
  }
  return px;
}

function renderPrediction(p: ClipPrediction): void {
  const rows = p.top.map((t, i) => `<tr><td>${i + 1}</td><td>${escapeHtml(t.label)}</td><td class="num">${t.prob.toFixed(4)}</td><td><div class="bar" style="width:${(t.prob * 100).toFixed(1)}%"></div></td></tr>`);
  $('predictions').innerHTML = `<table><thead><tr><th>#</th><th>label</th><th>prob</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  $('plan').textContent = `plan ${p.plan.frames}×${p.plan.size}, K = ${p.plan.k} of ${p.plan.gridTokens} tokens (${((100 * p.plan.k) / p.plan.gridTokens).toFixed(1)} %), head ${p.plan.head}, ${p.plan.gflops.toFixed(4)} GFLOP — ${p.ms.toFixed(1)} ms`;
}

function renderLatency(): void {
  const rows = state.latency.map((c) => `<tr><td class="num">${((100 * c.plan.k) / c.plan.gridTokens).toFixed(1)} %</td><td class="num">${c.plan.k}</td><td class="num">${c.plan.gflops.toFixed(4)}</td><td class="num">${c.ms.toFixed(2)}</td></tr>`);
  $('latency').innerHTML = `<table><thead><tr><th>budget</th><th>K</th><th>GFLOP</th><th>ms / clip (${state.backend})</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** Loads a checkpoint from a URL or a picked file. */
async function loadCheckpoint(src: string | File): Promise<PredictorInfo> {
  const name = typeof src === 'string' ? src : src.name;
  status(`loading ${name} …`);
  let bytes: Uint8Array;
  if (typeof src === 'string') {
    const res = await fetch(src);
    if (!res.ok) throw new Error(`${src}: HTTP ${res.status} ${res.statusText}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } else bytes = new Uint8Array(await src.arrayBuffer());
  state.predictor?.model.dispose();
  state.predictor = predictorFromSafetensors(bytes, name);
  state.checkpointName = name;
  state.plans = calibrationPlans(state.predictor);
  state.latency = [];
  const slider = $<HTMLInputElement>('budget');
  slider.max = String(state.plans.length - 1);
  slider.value = slider.max;
  const c = state.predictor.model.config;
  $('model').textContent = `${name}: ${c.embedDim}-wide, ${c.depth} blocks, patch ${c.patchSize}, ${c.numClasses} classes, grid ${state.predictor.frames}×${state.predictor.size}`;
  status(`checkpoint loaded (${state.backend})`);
  return state.predictor;
}

async function loadVideo(src: string | File): Promise<BrowserVideo> {
  status(`decoding ${typeof src === 'string' ? src : src.name} …`);
  state.frames.clear();
  state.video = await openBrowserVideo(typeof src === 'string' ? src : src, $('video-host'));
  $('video-info').textContent = `${state.video.width}×${state.video.height}, ${state.video.frames} frames at ${state.video.fps.toFixed(2)} fps`;
  status('video loaded');
  return state.video;
}

/** Predicts at plan `i` of the slider (0 = all tokens). */
async function predictAt(i: number): Promise<Omit<ClipPrediction, 'probs'> & { probs: number[]; frameIndices: number[]; numTensors: number }> {
  if (!state.predictor) throw new Error('load a checkpoint first');
  const plan = state.plans[i];
  if (!plan) throw new Error(`no budget ${i} (0…${state.plans.length - 1})`);
  const px = await framesFor(plan);
  const p = await classifyClip(state.predictor, px, plan, 5);
  renderPrediction(p);
  // The slider runs from the fewest tokens (left) to all of them (right); plan 0 is all tokens.
  $<HTMLInputElement>('budget').value = String(state.plans.length - 1 - i);
  $('budget-label').textContent = `${((100 * plan.k) / plan.gridTokens).toFixed(1)} % (K = ${plan.k})`;
  return { ...p, probs: Array.from(p.probs), frameIndices: planFrameIndices(state.video!.frames, plan), numTensors: tf.memory().numTensors };
}

/** Measures the latency of every budget in this browser (one warm-up, median of five). */
async function measureLatency(): Promise<CalibratedPlan[]> {
  if (!state.predictor) throw new Error('load a checkpoint first');
  status('measuring latency per budget …');
  state.latency = await measurePlans(state.predictor, state.plans);
  renderLatency();
  status(`ready (${state.backend})`);
  return state.latency;
}

async function run(f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    status((e as Error).message, true);
    console.error(e);
  }
}

/** Whether WebGL here is a software rasteriser (SwiftShader, llvmpipe): then wasm is the faster backend. */
function softwareWebgl(): boolean {
  const gl = document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl');
  if (!gl) return true;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  return /swiftshader|llvmpipe|software/i.test(renderer);
}

const params = new URLSearchParams(location.search);
const ready = (async () => {
  const order = params.get('backend')?.split(',') ?? (softwareWebgl() ? ['wasm', 'webgl', 'cpu'] : ['webgl', 'wasm', 'cpu']);
  state.backend = await initBackend(order);
  $('backend').textContent = state.backend;
  status(`backend ${state.backend}; load a checkpoint and a video`);
  $<HTMLInputElement>('checkpoint-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void run(async () => { await loadCheckpoint(f); if (state.video) { await measureLatency(); await predictAt(0); } });
  });
  $<HTMLInputElement>('video-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void run(async () => { await loadVideo(f); if (state.predictor) { await measureLatency(); await predictAt(state.plans.length - 1 - Number($<HTMLInputElement>('budget').value)); } });
  });
  $<HTMLInputElement>('budget').addEventListener('input', (e) => void run(() => predictAt(state.plans.length - 1 - Number((e.target as HTMLInputElement).value))));
  const ckpt = params.get('checkpoint');
  if (ckpt) await loadCheckpoint(ckpt);
  const video = params.get('video');
  if (video) await loadVideo(video);
  if (state.predictor && state.video) await predictAt(0);
  $<HTMLButtonElement>('measure').addEventListener('click', () => void run(measureLatency));
  return state.backend;
})();
ready.catch((e: unknown) => status((e as Error).message, true));

window.flux = {
  ready,
  loadCheckpoint,
  loadVideo,
  predictAt,
  measureLatency,
  plans: () => state.plans,
  frames: async (i) => Array.from(await framesFor(state.plans[i]!)),
};
