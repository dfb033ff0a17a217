// Flux-UMT vs vanilla UMT at the same K_t, side by side (issue 14: teacher cost unchanged by Flux, ratio ≤ 1.1).
// Per step: the teacher's forward on K_t tokens (selection included, after the clip is rendered), the student
// masks + target gathers, and the whole step (render + teacher + student fwd/bwd + Adam). Arms run round-robin, so machine
// noise falls on all alike; medians are reported. The teacher and student are the embedded study's
// (teacher dim 96 × 6 blocks, student dim 64 × 4, patch 16, 8×64² grid = 128 tokens = K_t).
// Usage (after `pnpm build`): node --expose-gc packages/umt/bench/umt.mjs [--quick]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng } from '@flux/core';
import { DEFAULT_TUNE_CONFIG, openDataset } from '@flux/train';
import { UmtObjective, createStudent, fluxViTTeacher, resolvePretrainConfig } from '@flux/umt';
import { createModel } from '@flux/vit';

const quick = process.argv.includes('--quick');
const report = await initBackend();
console.log(report.summary);

const teacherModel = createModel('fluxvit_tiny', { ...DEFAULT_TUNE_CONFIG.modelOverrides, embedDim: 96, depth: 6, numHeads: 4, clipEmbedDim: 96, clipNumHeads: 4, numClasses: 8, headTokenCounts: [64, 40, 24] }, 1);
const teacher = fluxViTTeacher(teacherModel);
const arms = [
  { name: 'vanilla UMT (fixed 8×64², teacher all 128, ρ 0.8)', cfg: { mode: 'vanilla' } },
  { name: 'Flux-UMT single (pool 128–256 → 128, ρ 0.8)', cfg: { mode: 'flux', maskRatios: [0.8], teacherTokens: 128 } },
  { name: 'Flux-UMT multi (pool 128–256 → 128, ρ 0.6/0.7/0.8)', cfg: { mode: 'flux', teacherTokens: 128 } },
].map((a) => {
  const cfg = resolvePretrainConfig({ task: 'distract', trainClips: 2000 }, a.cfg);
  const student = createStudent(cfg);
  const obj = new UmtObjective(teacher, student, cfg, openDataset('train', { ...cfg, valClips: 1, valData: null, testData: null }));
  const vars = obj.params().map((p) => p.variable);
  return { ...a, obj, vars, opt: tf.train.adam(1e-4), teacherMs: [], maskMs: [], stepMs: [], tokens: [] };
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rounds = quick ? 4 : 12;
const perRound = 3;
let step = 0;
for (let round = -1; round < rounds; round++) {
  for (const a of arms) {
    for (let i = 0; i < perRound; i++) {
      const t0 = performance.now();
      const b = await a.obj.batch(step++);
      const rng = new Rng(step);
      const { value, grads } = tf.variableGrads(() => a.obj.loss(b, { step, rng }).total, a.vars);
      a.opt.applyGradients(grads);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
      a.obj.disposeBatch(b);
      const ms = performance.now() - t0;
      if (round >= 0) {
        a.teacherMs.push(b.teacherMs);
        a.maskMs.push(b.maskMs);
        a.stepMs.push(ms);
        a.tokens = [b.poolTokens, b.teacherTokens, ...b.students.map((s) => s.indices.shape[1])];
      }
    }
  }
}
const base = arms[0];
console.log(`\nFlux-UMT vs vanilla UMT, batch 16, ${rounds * perRound} steps per arm, medians:`);
for (const a of arms) {
  console.log(
    `  ${a.name.padEnd(52)} teacher ${median(a.teacherMs).toFixed(0).padStart(4)} ms (×${(median(a.teacherMs) / median(base.teacherMs)).toFixed(2)}), masks+targets ${median(a.maskMs).toFixed(1)} ms` +
      `  step ${median(a.stepMs).toFixed(0).padStart(5)} ms (×${(median(a.stepMs) / median(base.stepMs)).toFixed(2)})  tokens pool/teacher/students ${a.tokens.join('/')}`,
  );
}
console.log('target: teacher ratio Flux-UMT / vanilla UMT ≤ 1.1 at the same K_t');
process.exit();
