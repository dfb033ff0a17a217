// FluxViT-S forward+backward at 2048 tokens (8 frames × 224², patch 14), batch 1 and 4, on the auto-chosen
// backend; GFLOP/s from analytic matmul FLOP counts, next to @flux/core's ViT-S block benchmark
// ([1, 2048, 384] forward+backward) measured in the same run, and next to PyTorch running the project's
// independent reference model (scripts/make-golden.py at the S size, bench/vit_torch.py), batch by batch in
// the same run. Usage (after `pnpm build`):
//   node --expose-gc bench/vit.mjs [--quick] [--batches 1,4] [--no-torch]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@flux/core';
import { checkpointByDefault, createModel, flopsForward, flopsTrainStep } from '@flux/vit';
import { block, blockFlops, makeBlock } from '../../core/bench/vit-block.mjs';
import { TORCH_MISSING, findTorch, runTorch } from '../../../tooling/bench/torch.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const batchArg = args.find((a, i) => args[i - 1] === '--batches');
const batches = (batchArg ?? '1,4').split(',').map(Number);
const report = await initBackend();
console.log(report.summary);
const torch = args.includes('--no-torch') ? null : findTorch();
console.log(torch ? `PyTorch ${torch.version} (${torch.threads} threads) from ${torch.python}` : TORCH_MISSING);

function timeIt(f, reps) {
  f(); // warm-up (kernel compilation, allocator growth)
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / 1000 / reps;
}

// 1. Reference: one ViT-S block at [1, 2048+1, 384], forward+backward, @flux/core's bench block.
const p = makeBlock(384, 1536, 1);
const xb = tf.randomNormal([1, 2049, 384]);
const vars = Object.values(p);
const blockStep = () =>
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(block(p, xb, 6))), vars);
    value.dataSync();
    for (const g of Object.values(grads)) g.dataSync();
  });
const sBlock = timeIt(blockStep, quick ? 1 : 3);
const gfBlock = (3 * blockFlops(1, 2049, 384, 1536)) / sBlock / 1e9;
console.log(`core ViT-S block [1,2049,384] fwd+bwd: ${(sBlock * 1000).toFixed(0)} ms, ${gfBlock.toFixed(1)} GFLOP/s`);
tf.dispose([xb, ...vars]);

// 2. The whole FluxViT-S.
const model = createModel('fluxvit_small_patch14', {}, 0);
const cfg = model.config;
console.log(`FluxViT-S: ${(model.numParams() / 1e6).toFixed(1)}M parameters, depth ${cfg.depth}, dim ${cfg.embedDim}`);
const rows = [];
for (const b of batches) {
  const video = tf.randomNormal([b, 8, 224, 224, 3]);
  const labels = tf.oneHot(tf.zeros([b], 'int32'), cfg.numClasses);
  const tv = model.trainableVariables();
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const r = model.forward(video, { training: true });
        return tf.losses.softmaxCrossEntropy(labels, r.logits);
      }, tv);
      value.dataSync();
      for (const g of Object.values(grads)) g.dataSync();
    });
  const fwd = () => tf.tidy(() => model.forward(video).logits.dataSync());
  const flops = flopsTrainStep(cfg, b, 2048);
  // With activation checkpointing (the default above a backend-dependent size) every block's forward runs twice.
  const checkpointed = checkpointByDefault(cfg, b, 2048);
  const blockFwd = flopsForward(cfg, b, 2048) - flopsForward({ ...cfg, depth: 0 }, b, 2048);
  const executed = flops + (checkpointed ? blockFwd : 0);
  const sFwd = timeIt(fwd, 1);
  console.error(`  batch ${b}: forward done (${(sFwd * 1000).toFixed(0)} ms), training step…`);
  const s = timeIt(step, quick || b > 1 ? 1 : 2);
  const gf = flops / s / 1e9;
  let torchS = null;
  let sdpaS = null;
  if (torch) {
    if (globalThis.gc) globalThis.gc();
    const reps = quick || b > 1 ? 1 : 2;
    console.error(`  batch ${b}: PyTorch training steps (reference attention, then SDPA)…`);
    torchS = runTorch(torch, path.join(here, 'vit_torch.py'), [reps, b])[0].seconds;
    sdpaS = runTorch(torch, path.join(here, 'vit_torch.py'), ['--sdpa', reps, b])[0].seconds;
  }
  rows.push({ b, s, gf, checkpointed, torchS, sdpaS });
  console.log(
    `FluxViT-S batch ${b} × 2048 tokens: forward ${(flopsForward(cfg, b, 2048) / 1e9).toFixed(1)} GFLOP in ${(sFwd * 1000).toFixed(0)} ms ` +
      `(${(flopsForward(cfg, b, 2048) / sFwd / 1e9).toFixed(1)} GFLOP/s); ` +
      `fwd+bwd ${(flops / 1e9).toFixed(1)} GFLOP in ${(s * 1000).toFixed(0)} ms = ${gf.toFixed(1)} GFLOP/s ` +
      `(${(gf / gfBlock).toFixed(2)}× the core block)` +
      (checkpointed ? `; with checkpointing ${(executed / 1e9).toFixed(1)} GFLOP executed = ${(executed / s / 1e9).toFixed(1)} GFLOP/s (${(executed / s / 1e9 / gfBlock).toFixed(2)}×)` : ''),
  );
  if (torchS != null) {
    console.log(
      `  PyTorch ${torch.version}, the golden reference model, same step: ${(torchS * 1000).toFixed(0)} ms = ${(flops / torchS / 1e9).toFixed(1)} GFLOP/s; ` +
        `flux/torch speed ${(torchS / s).toFixed(2)}× (goal ≥ 1.0)`,
    );
    console.log(
      `  PyTorch ${torch.version}, the same with fused F.scaled_dot_product_attention: ${(sdpaS * 1000).toFixed(0)} ms = ` +
        `${(flops / sdpaS / 1e9).toFixed(1)} GFLOP/s; flux/torch-sdpa speed ${(sdpaS / s).toFixed(2)}×`,
    );
  }
  tf.dispose([video, labels]);
  if (globalThis.gc) globalThis.gc();
}
console.log(`peak tensors in memory: ${(tf.memory().numBytes / 1e6).toFixed(0)} MB resident after the runs`);
model.dispose();
