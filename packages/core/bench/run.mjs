// pnpm bench — @flux/core figures (issue 2): ViT-S block fwd+bwd GFLOP/s next to the backend's 1024³
// matmul, the tiny config's train-step time with its matmul/other split, and tensor stability.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setSimdKernelsEnabled } from '@flux/core';
import { block, blockFlops, makeBlock, matmulGflops, profileSplit } from './vit-block.mjs';
import { TORCH_MISSING, findTorch, runTorch } from '../../../tooling/bench/torch.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const report = await initBackend();
const quick = process.argv.includes('--quick');
// --no-simd: the JS loops instead of the wasm-SIMD kernels (A/B comparison of the same workload).
if (process.argv.includes('--no-simd')) setSimdKernelsEnabled(false);

function timeIt(f, reps) {
  f(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / 1000 / reps;
}

/** Forward+backward of `depth` blocks, gradients w.r.t. every parameter; returns seconds per step. */
function fwdBwd(blocks, x, heads) {
  const vars = blocks.flatMap((p) => Object.values(p));
  return () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        let h = x;
        for (const p of blocks) h = block(p, h, heads);
        return tf.mean(tf.square(h));
      }, vars);
      value.dataSync(); // wasm and cpu kernels run synchronously: the gradients are computed by now
      return undefined;
    });
}

const mm = matmulGflops();
console.log(`\n${report.summary}${process.argv.includes('--no-simd') ? ' [--no-simd: JS loops]' : ''}`);
console.log(`plain 1024³ matmul: ${mm.toFixed(1)} GFLOP/s`);

console.log('\nViT-S block (dim 384, 6 heads, MLP 1536), forward+backward:');
const vitS = makeBlock(384, 1536, 1);
const blockRows = [];
for (const [b, n] of [[8, 256], [1, 2048]]) {
  const x = tf.randomNormal([b, n, 384]);
  const s = timeIt(fwdBwd([vitS], x, 6), quick ? 1 : 3);
  const gf = (3 * blockFlops(b, n, 384, 1536)) / s / 1e9;
  blockRows.push({ shape: `[${b},${n},384]`, s, gf });
  console.log(`  [${b},${n},384]  ${(s * 1000).toFixed(0)} ms/step  ${gf.toFixed(1)} GFLOP/s  (${(gf / mm).toFixed(2)}× the 1024³ matmul)`);
  x.dispose();
}

console.log('\nTiny config (dim 128, depth 4, 4 heads, MLP 512), batch 16 clips × 256 tokens, train step (fwd+bwd+SGD):');
const tiny = Array.from({ length: 4 }, (_, i) => makeBlock(128, 512, 100 + i * 20));
const xt = tf.randomNormal([16, 256, 128]);
const vars = tiny.flatMap((p) => Object.values(p));
const opt = tf.train.sgd(1e-3);
const trainStep = () => {
  const loss = opt.minimize(() => {
    let h = xt;
    for (const p of tiny) h = block(p, h, 4);
    return tf.mean(tf.square(h));
  }, true, vars);
  loss.dataSync();
  loss.dispose();
};
trainStep();
const before = tf.memory().numTensors;
const stepS = timeIt(trainStep, quick ? 2 : 5);
for (let i = 0; i < 20 - (quick ? 3 : 6); i++) trainStep();
const after = tf.memory().numTensors;
const split = await profileSplit(() => {
  const { value, grads } = tf.variableGrads(() => {
    let h = xt;
    for (const p of tiny) h = block(p, h, 4);
    return tf.mean(tf.square(h));
  }, vars);
  value.dataSync();
  for (const g of Object.values(grads)) g.dataSync();
});
const tinyFlops = 3 * 4 * blockFlops(16, 256, 128, 512);
console.log(`  ${(stepS * 1000).toFixed(0)} ms/step (target ≤ 1000), ${(tinyFlops / stepS / 1e9).toFixed(1)} GFLOP/s`);
const tot = split.matmul + split.other;
console.log(
  `  profile (kernel time, fwd+bwd): matmul ${split.matmul.toFixed(0)} ms (${((100 * split.matmul) / tot).toFixed(0)}%), ` +
    `other ${split.other.toFixed(0)} ms (${((100 * split.other) / tot).toFixed(0)}%); top kernels: ` +
    split.top.map(([k, ms]) => `${k} ${ms.toFixed(0)}`).join(', '),
);
console.log(`  tf.memory().numTensors over 20 train steps: ${before} → ${after} (${after === before ? 'stable' : 'LEAK'})`);

// PyTorch CPU reference of the same block, when Python + torch are present.
const torch = findTorch();
let torchRows = null;
if (!torch) {
  console.log(`\n${TORCH_MISSING}`);
} else {
  torchRows = runTorch(torch, path.join(here, 'vit_block_torch.py'), [quick ? 1 : 3]).filter((l) => typeof l === 'string' && l.startsWith('['));
  console.log(`\nPyTorch ${torch.version} CPU (${torch.threads} threads), same block, forward+backward:`);
  for (const line of torchRows) {
    const [shape, gf] = line.split(' ');
    const ours = blockRows.find((r) => r.shape === shape);
    console.log(`  ${shape}  torch ${Number(gf).toFixed(1)} GFLOP/s, flux ${ours.gf.toFixed(1)} GFLOP/s (flux/torch ${(ours.gf / Number(gf)).toFixed(2)})`);
  }
}
if (after !== before) process.exitCode = 1;
fs.writeFileSync(path.join(here, `.last-run-${report.backend}.json`), JSON.stringify({ backend: report.summary, torch: torchRows, matmul1024: mm, block: blockRows, tinyStepS: stepS, split, tensors: [before, after] }, null, 2));
process.exit();
