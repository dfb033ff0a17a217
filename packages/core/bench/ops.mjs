// Fused vs composed ops, ns per element on the auto-chosen backend (forward, and forward+backward with
// gradients w.r.t. every input). Run after `pnpm --filter @flux/core build`:
//   node --expose-gc packages/core/bench/ops.mjs [--quick]
import * as tf from '@tensorflow/tfjs-core';
import {
  biasGelu,
  channelAffine,
  fusedKernelsAvailable,
  gatherRows,
  gelu,
  initBackend,
  layerNorm,
  linear,
  reference,
  residual,
  rmsNorm,
  scaledSoftmax,
} from '../dist/index.js';

const report = await initBackend({ log: false });
const quick = process.argv.includes('--quick');
const ROWS = quick ? 1024 : 4096; // 16 clips × 256 tokens
const DIM = 128;
const budgetMs = quick ? 80 : 400;

const rnd = (shape, mean = 0, std = 1) => tf.randomNormal(shape, mean, std, 'float32', 7);

/** One timed call of f in ns (f returns tensors to dispose). */
function once(f) {
  const t0 = performance.now();
  const out = f();
  const list = Array.isArray(out) ? out : [out];
  // cpu and wasm kernels run synchronously; read one element only (a full dataSync on threaded wasm
  // copies the shared heap byte by byte, ~11 ns per float, and would dominate the figures).
  tf.tidy(() => tf.slice(tf.reshape(list[0], [-1]), 0, 1).dataSync());
  tf.dispose(list);
  return (performance.now() - t0) * 1e6;
}

/**
 * Median ns per call of each function, measured round-robin (f₀ f₁ f₂ … f₀ f₁ …) so that other load on
 * the machine hits every variant alike.
 */
function timeAll(fs) {
  for (const f of fs) once(f), once(f);
  globalThis.gc?.();
  const ts = fs.map(() => []);
  const start = performance.now();
  while (ts[0].length < 5 || (performance.now() - start < budgetMs * fs.length && ts[0].length < 200)) {
    fs.forEach((f, i) => ts[i].push(once(f)));
  }
  return ts.map((t) => t.sort((a, b) => a - b)[t.length >> 1]);
}

const x = rnd([ROWS, DIM]);
const y = rnd([ROWS, DIM]);
const w = rnd([DIM], 1, 0.1);
const b = rnd([DIM]);
const W = rnd([DIM, 4 * DIM], 0, 0.1);
const b4 = rnd([4 * DIM]);
const h4 = rnd([ROWS, 4 * DIM]);
const att = rnd([quick ? 512 : 2048, 256], 0, 2); // attention logits: [query rows, 256 keys]
const tok = rnd([16, ROWS / 16, DIM]);
const idx = tf.tensor2d(
  Array.from({ length: 16 * (ROWS / 64) }, (_, i) => (i * 37) % (ROWS / 16)),
  [16, ROWS / 64],
  'int32',
);

/** [name, elements, inputs to differentiate, fused op, composed op] */
const cases = [
  ['linear+bias [R,128]→512', ROWS * 4 * DIM, [x, W, b4], (a, m, c) => linear(a, m, c), (a, m, c) => reference.linear(a, m, c)],
  ['rmsNorm', ROWS * DIM, [x, w], (a, g) => rmsNorm(a, g), (a, g) => reference.rmsNorm(a, g)],
  ['layerNorm', ROWS * DIM, [x, w, b], (a, g, c) => layerNorm(a, g, c), (a, g, c) => reference.layerNorm(a, g, c)],
  ['gelu', ROWS * 4 * DIM, [h4], (a) => gelu(a), (a) => reference.gelu(a)],
  ['biasGelu', ROWS * 4 * DIM, [h4, b4], (a, c) => biasGelu(a, c), (a, c) => reference.biasGelu(a, c)],
  ['residual (gamma)', ROWS * DIM, [x, y, w], (a, c, g) => residual(a, c, g), (a, c, g) => reference.residual(a, c, g)],
  ['channelAffine', ROWS * DIM, [x, w, b], (a, s, c) => channelAffine(a, s, c), (a, s, c) => reference.channelAffine(a, s, c)],
  ['scaledSoftmax', att.size, [att], (a) => scaledSoftmax(a, 0.125), (a) => reference.scaledSoftmax(a, 0.125)],
  ['gatherRows', idx.size * DIM, [tok], (a) => gatherRows(a, idx), (a) => reference.gatherRows(a, idx)],
];

function fwd(op, inputs) {
  return () => op(...inputs);
}
/** Forward + backward with a given upstream gradient (no loss op in the timing). */
function fwdBwd(op, inputs) {
  const dy = tf.tidy(() => tf.randomNormal(op(...inputs).shape, 0, 1, 'float32', 3));
  const g = tf.grads((...xs) => op(...xs));
  return () => g(inputs, dy);
}

console.log(
  `${report.summary}; ${fusedKernelsAvailable() ? 'fused: the Flux kernels' : 'fused: composed.* (tfjs ops, hand-written gradients)'}, composed: reference.* (tfjs's own gradients)`,
);
console.log(`rows ${ROWS}, dim ${DIM}; ns per element (output elements), median of repeated runs\n`);
const pad = (s, n) => String(s).padEnd(n);
const num = (v) => v.toFixed(2).padStart(8);
console.log(`${pad('op', 26)}${pad('fused fwd', 11)}${pad('composed', 11)}${pad('fused f+b', 11)}${pad('composed', 11)}speed-up f+b`);
for (const [name, n, inputs, fused, composed] of cases) {
  const [ff, cf, fb, cb] = timeAll([fwd(fused, inputs), fwd(composed, inputs), fwdBwd(fused, inputs), fwdBwd(composed, inputs)]).map(
    (t) => t / n,
  );
  console.log(`${pad(name, 26)}${num(ff)}   ${num(cf)}   ${num(fb)}   ${num(cb)}   ${(cb / fb).toFixed(1).padStart(6)}×`);
}
const steps = cases.map(([, , inputs, fused]) => fwdBwd(fused, inputs));
const before = tf.memory().numTensors;
for (const step of steps) tf.dispose(step());
console.log(`\ntensors: ${before} before, ${tf.memory().numTensors} after a fused fwd+bwd of every op`);
process.exit(0);
