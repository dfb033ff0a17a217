#!/usr/bin/env node
// Selector time for a tiny-FluxViT-like input. Run after `pnpm --filter @flux/selector... build`:
//   node packages/selector/bench/selector.mjs [--backend wasm-simd|wasm|cpu|auto] [--reps 30] [--json]
// Tokens [B=16, F, L=64, C=128] already on the backend, K = 256 kept per clip; F = 4, 8, 16 gives token pools of
// 1×, 2×, 4× K (at 1× every token is kept: no scoring). Reports the median ms of: selectTokens (each method), the
// parts of group-dynamic (token dynamics in JS — the default on cpu/wasm —, the same with tfjs ops on the backend
// plus the download — the default elsewhere —, and the JS top-K), gatherTokens forward, and selectAndGather
// forward+backward (the gather gradient).
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import { frameDistances, frameDistancesData, gatherTokens, groupScores, resolveGroups, selectAndGather, selectFromScores, selectTokens } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const json = args.includes('--json');
const reps = Number(opt('reps', 30));
const report = await initBackend({ backend: opt('backend', 'wasm-simd'), log: false });
const B = 16, L = 64, C = 128, K = 256;

function median(fn) {
  for (let i = 0; i < 3; i++) fn();
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return Number(times[Math.floor(times.length / 2)].toFixed(3));
}

const rows = [];
// The selector's own zero-copy read (dataSync on wasm copies the whole clip out of the heap).
const readTokens = (t) => {
  const b = tf.backend();
  const e = b.dataIdMap?.get(t.dataId);
  return b.wasm && e ? new Float32Array(b.wasm.HEAPU8.buffer, e.memoryOffset, t.size) : t.dataSync();
};
for (const F of [4, 8, 16]) {
  const tokens = tf.randomNormal([B, F, L, C]);
  const flat = tf.reshape(tokens, [B, F * L, C]);
  const row = { F, pool: F * L, poolRatio: (F * L) / K, K };
  for (const method of ['group-dynamic', 'dynamic', 'tube', 'random']) {
    row[method] = median(() => selectTokens(tokens, K, { method }).dispose());
  }
  const G = resolveGroups(F);
  row.scoresJsMs = median(() => frameDistancesData(readTokens(tokens), B, F, L, C, 'l2'));
  row.scoresBackendMs = median(() => {
    const d = frameDistances(tokens, 'l2');
    d.dataSync();
    d.dispose();
  });
  const d = frameDistances(tokens, 'l2');
  const dist = d.dataSync();
  d.dispose();
  row.topKMs = median(() => selectFromScores(groupScores(dist, B, F, L, G), B, F, L, K, G));
  const idx = selectTokens(tokens, K);
  row.gatherMs = median(() => {
    const y = gatherTokens(flat, idx);
    y.dataSync();
    y.dispose();
  });
  row.selectGatherFwdBwdMs = median(() => {
    const g = tf.grad((t) => tf.sum(selectAndGather(t, K).tokens))(tokens);
    g.dataSync();
    g.dispose();
  });
  tf.dispose([tokens, flat, idx]);
  rows.push(row);
}
const result = { backend: report.kind, threads: report.threads, B, L, C, K, reps, rows, numTensors: tf.memory().numTensors };
if (json) console.log(JSON.stringify(result));
else {
  console.log(`backend ${report.kind} (${report.threads} thread(s)); B=${B} L=${L} C=${C} K=${K}; median of ${reps} (ms)`);
  console.table(rows);
}
process.exit(0); // the threaded wasm backend's workers would keep Node alive
