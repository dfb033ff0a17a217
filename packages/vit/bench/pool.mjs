// Train-step time of a tiny FluxViT at a fixed token count K as the candidate pool F·L grows 1× → 4×
// (issue 4's figure: target ≤ +10% at 4×), with the selector's own share of the step.
// Usage (after `pnpm build`): node --expose-gc packages/vit/bench/pool.mjs [--quick]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@flux/core';
import { selectTokens } from '@flux/selector';
import { createModel } from '@flux/vit';

const quick = process.argv.includes('--quick');
const report = await initBackend();
console.log(report.summary);
const B = 16;
const K = 256;
const model = createModel('fluxvit_tiny', { embedDim: 128, maxFrames: 16, headTokenCounts: [256] }, 0);
const tv = model.trainableVariables();
const opt = tf.train.sgd(1e-3);
const labels = tf.oneHot(tf.zeros([B], 'int32'), model.config.numClasses);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Round-robin over the pools (each round steps every pool once), so machine noise and allocator warm-up
// fall on all of them alike; the median per pool is reported.
const pools = [4, 8, 16].map((frames) => ({ frames, video: tf.randomNormal([B, frames, 64, 64, 3]), times: [] }));
const step = (video) => {
  const t0 = performance.now();
  const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(labels, model.forward(video, { k: K, training: true }).logits), true, tv);
  loss.dataSync();
  loss.dispose();
  return performance.now() - t0;
};
for (let round = -2; round < (quick ? 3 : 7); round++) {
  for (const p of pools) {
    const ms = step(p.video);
    if (round >= 0) p.times.push(ms);
  }
}
const rows = pools.map(({ frames, video, times }) => {
  const tokens = tf.randomNormal([B, frames, 64, model.config.embedDim]);
  const sel = Array.from({ length: 7 }, () => {
    const t0 = performance.now();
    selectTokens(tokens, K).dispose();
    return performance.now() - t0;
  });
  tf.dispose([video, tokens]);
  return { frames, pool: frames * 64, stepMs: median(times), selectorMs: median(sel) };
});
const base = rows[0].stepMs;
console.log(`\ntiny FluxViT (dim 128, depth 4, patch 8, 64×64), batch ${B}, K = ${K}, train step (fwd+bwd+SGD):`);
for (const r of rows) {
  console.log(
    `  pool ${String(r.pool).padStart(4)} (${r.pool / rows[0].pool}×, F=${r.frames}): ${r.stepMs.toFixed(0)} ms/step ` +
      `(${((100 * (r.stepMs - base)) / base).toFixed(0).padStart(3)}% vs 1×), selector ${r.selectorMs.toFixed(1)} ms = ${((100 * r.selectorMs) / r.stepMs).toFixed(2)}% of the step`,
  );
}
process.exit();
