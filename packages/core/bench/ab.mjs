// A/B of the wasm speed switches in ONE process, alternating variants per round (robust against a machine
// shared with other load); medians of wall ms and process.cpuUsage() ms per step.
//   node --expose-gc packages/core/bench/ab.mjs [rounds=5] [cases=tiny|b8|b1, comma-separated]
// Variants (env AB, JSON list): {name, base: true} = before the tiny-step work (pool for every product, JS loops
// for the kernels made SIMD since, no transposed matmul route); t1: true|false|'auto'; route: false;
// oldAttn: true = tf.matMul + scaledSoftmax instead of scaledDotAttention. Default: before vs after.
import * as tf from '@tensorflow/tfjs-core';
import * as core from '@flux/core';
import { biasGelu, channelAffine, linear, residual, rmsNorm, scaledDotAttention, scaledSoftmax } from '@flux/core';
import { blockFlops, makeBlock } from './vit-block.mjs';
await core.initBackend({ backend: 'wasm', log: false });
const rounds = Number(process.argv[2] ?? 5);
const which = (process.argv[3] ?? 'tiny').split(',');
const V = JSON.parse(process.env.AB ?? '[{"name":"before","base":true},{"name":"after"}]');
let cur = {};
function apply(v) {
  cur = v;
  core.setSmallMatMulSingleThread?.(v.base ? false : (v.t1 ?? 'auto'));
  core.setMatMulTransposedRoute?.(v.route !== false && !v.base);
  const NEW = new Set(['FluxRmsNorm', 'FluxRmsNormGrad', 'FluxGeluBackward', 'FluxResidualGrad', 'FluxChannelAffineGrad', 'FluxSumRows', 'copyRows']);
  core.setSimdKernelFilter?.(v.base ? (n) => !NEW.has(n) : null);
}
// The block of vit-block.mjs, with the attention composition switchable.
function block(p, x, heads) {
  const [b, n, c] = x.shape;
  const hd = c / heads;
  const qkv = linear(rmsNorm(x, p.norm1), p.qkv);
  const [q0, k0, v0] = tf.split(qkv, 3, -1);
  const q = rmsNorm(q0, p.qNorm);
  const k = rmsNorm(k0, p.kNorm);
  const toHeads = (t) => tf.transpose(tf.reshape(t, [b, n, heads, hd]), [0, 2, 1, 3]);
  let ctx;
  if (cur.oldAttn) {
    const attn = scaledSoftmax(tf.matMul(toHeads(q), toHeads(k), false, true), 1 / Math.sqrt(hd));
    ctx = tf.matMul(attn, toHeads(v0));
  } else ctx = scaledDotAttention(toHeads(q), toHeads(k), toHeads(v0), 1 / Math.sqrt(hd));
  const o = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [b, n, c]);
  const y = linear(tf.add(o, channelAffine(v0, p.lpeW, p.lpeB)), p.proj, p.projB);
  const x1 = residual(x, y, p.ls1);
  const h = linear(biasGelu(linear(rmsNorm(x1, p.norm2), p.fc1), p.fc1B), p.fc2, p.fc2B);
  return residual(x1, h, p.ls2);
}
const cases = {};
if (which.includes('tiny')) {
  const tiny = Array.from({ length: 4 }, (_, i) => makeBlock(128, 512, 100 + i * 20));
  const xt = tf.randomNormal([16, 256, 128]);
  const vars = tiny.flatMap((p) => Object.values(p));
  const opt = tf.train.sgd(1e-3);
  cases.tiny = { flops: 3 * 4 * blockFlops(16, 256, 128, 512), f: () => { const loss = opt.minimize(() => { let h = xt; for (const p of tiny) h = block(p, h, 4); return tf.mean(tf.square(h)); }, true, vars); loss.dataSync(); loss.dispose(); } };
}
const vitS = which.some((w) => w.startsWith('b')) ? makeBlock(384, 1536, 1) : null;
for (const [key, b, n] of [['b8', 8, 256], ['b1', 1, 2048]]) {
  if (!which.includes(key)) continue;
  const x = tf.randomNormal([b, n, 384]);
  const vars = Object.values(vitS);
  cases[key] = { flops: 3 * blockFlops(b, n, 384, 1536), f: () => tf.tidy(() => { const { value } = tf.variableGrads(() => tf.mean(tf.square(block(vitS, x, 6))), vars); value.dataSync(); }) };
}
const res = {};
for (const v of V) { apply(v); for (const c of Object.values(cases)) c.f(); }
const n0 = tf.memory().numTensors;
for (let r = 0; r < rounds; r++) {
  for (const v of V) {
    apply(v);
    for (const [k, c] of Object.entries(cases)) {
      if (global.gc) global.gc();
      const c0 = process.cpuUsage(); const t0 = performance.now();
      c.f();
      const w = performance.now() - t0; const cu = process.cpuUsage(c0);
      ((res[k] ??= {})[v.name] ??= []).push([w, (cu.user + cu.system) / 1000]);
    }
  }
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
for (const [k, byV] of Object.entries(res)) {
  for (const [vn, arr] of Object.entries(byV)) {
    const w = med(arr.map((x) => x[0])), c = med(arr.map((x) => x[1]));
    console.log(`${k.padEnd(5)} ${vn.padEnd(14)} wall ${w.toFixed(0).padStart(6)} ms  cpu ${c.toFixed(0).padStart(6)} ms  ${(cases[k].flops / w / 1e6).toFixed(1)} GFLOP/s  [${arr.map((x) => x[0].toFixed(0)).join(' ')}]`);
  }
}
console.log('tensors', n0, '→', tf.memory().numTensors, 'load', (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' '));
process.exit();
