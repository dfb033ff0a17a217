// pnpm demo — a short tour of @flux/core: which backend this machine runs, and a timed train step of the
// tiny FluxViT configuration (dim 128, depth 4, 4 heads, MLP 512) on 16 clips × 256 tokens.
import * as tf from '@tensorflow/tfjs-core';
import { Progress, initBackend } from '@flux/core';
import { block, blockFlops, makeBlock } from './vit-block.mjs';

const report = await initBackend({ log: false });
console.log(`Flux core demo\n  ${report.summary}`);
const blocks = Array.from({ length: 4 }, (_, i) => makeBlock(128, 512, 10 + i * 20));
const vars = blocks.flatMap((p) => Object.values(p));
const x = tf.randomNormal([16, 256, 128]);
const target = tf.randomNormal([16, 256, 128]);
const opt = tf.train.adam(1e-3);
const steps = Number(process.env.FLUX_DEMO_STEPS ?? 5);
const progress = new Progress({ total: steps, label: '  train' });
const times = [];
for (let s = 1; s <= steps; s++) {
  const t0 = performance.now();
  const loss = opt.minimize(() => {
    let h = x;
    for (const p of blocks) h = block(p, h, 4);
    return tf.mean(tf.square(tf.sub(h, target)));
  }, true, vars);
  const value = loss.dataSync()[0];
  loss.dispose();
  times.push((performance.now() - t0) / 1000);
  progress.update(s, { loss: value });
}
progress.done();
const steady = times.length > 1 ? times.slice(1) : times;
const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
const gflop = (3 * 4 * blockFlops(16, 256, 128, 512)) / 1e9;
console.log(`  train step: ${(mean * 1000).toFixed(0)} ms (${(gflop / mean).toFixed(1)} GFLOP/s, first step ${(times[0] * 1000).toFixed(0)} ms incl. warm-up)`);
console.log(`  tensors alive: ${tf.memory().numTensors}`);
process.exit();
