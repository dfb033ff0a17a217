/** Shared body of the finite-difference gradient checks of the whole tiny model (float32), run per backend. */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import type { FluxViTConfig } from '../src/index.js';
import { randomVideo, tinyModel } from './helpers.js';

type Probe = [string, number];

function gradientCheck(overrides: Partial<FluxViTConfig>, probes: Probe[]): void {
  const m = tinyModel({ layerScaleInit: 0.5, ...overrides }, 7);
  // Move every parameter off its (often symmetric: ones / zeros) init so every path carries gradient.
  // (seeds from 1: tfjs's random ops treat seed 0 as "no seed" and draw differently in every process)
  let s = 1;
  for (const [name, v] of m.params) if (name !== 'pos_embed') v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.15, 'float32', s++))));
  const video = randomVideo(2, 4, 12, 12, 11);
  const n = 4 * 9;
  const indices = tf.tensor2d([[0, 2, 3, 7, 9, 10, 14, 18, 20, 23, 27, 30, 31, 35], [1, 4, 5, 6, 8, 12, 13, 17, 21, 22, 26, 29, 33, 34]], [2, 14], 'int32');
  expect(n).toBe(36);
  const w = tf.randomNormal([2, 5], 0, 1, 'float32', 99);
  const lossFn = () => tf.tidy(() => {
    const r = m.forward(video, { indices, head: 1 });
    return tf.add(tf.sum(tf.mul(r.logits, w)), tf.mul(tf.sum(tf.square(r.pooled)), 0.01)) as tf.Scalar;
  });
  const names = [...new Set(probes.map(([p]) => p))];
  const { grads } = tf.variableGrads(lossFn, names.map((p) => m.param(p)));
  const gradOf = new Map(names.map((p) => [p, grads[m.param(p).name]!.dataSync() as Float32Array]));
  const h = 1e-2;
  const rows: string[] = [];
  for (const [name, i] of probes) {
    const v = m.param(name);
    const base = v.dataSync().slice() as Float32Array;
    const at = (delta: number) => {
      const x = base.slice();
      x[i] += delta;
      v.assign(tf.tensor(x, v.shape));
      const l = lossFn();
      const out = l.dataSync()[0]!;
      l.dispose();
      return out;
    };
    // 4th-order central difference (less truncation error at a float32-friendly step)
    const numeric = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
    v.assign(tf.tensor(base, v.shape));
    const analytic = gradOf.get(name)![i]!;
    rows.push(`${name}[${i}] analytic ${analytic.toExponential(4)} numeric ${numeric.toExponential(4)}`);
    expect(Math.abs(analytic - numeric), rows.at(-1)).toBeLessThan(2e-3 + 2e-2 * Math.abs(analytic));
  }
  console.log(rows.join('\n'));
  // Not everything is trivially zero.
  expect(probes.filter(([p, i]) => Math.abs(gradOf.get(p)![i]!) > 1e-4).length).toBeGreaterThan(probes.length - 3);
  tf.dispose([video, indices, w, ...Object.values(grads)]);
  m.dispose();
}

export function gradientTests(): void {
it('analytic gradients match central finite differences on parameters across the model', () => {
  gradientCheck({}, [
    ['patch_embed.norm_before.weight', 5],
    ['patch_embed.proj.weight', 17],
    ['patch_embed.proj.bias', 3],
    ['patch_embed.norm.weight', 8],
    ['pos_embed', 32 * 40 + 6], // a patch row that is resized into the 3×3 grid
    ['pos_embed', 1], // the CLS row
    ['gpe_proj.depthwise_conv.weight', 4],
    ['gpe_proj.depthwise_conv.bias', 9],
    ['cls_token', 2],
    ['blocks.0.norm1.weight', 1],
    ['blocks.0.attn.qkv.weight', 32 * 3 + 40],
    ['blocks.0.attn.q_norm.weight', 7],
    ['blocks.0.attn.k_norm.weight', 12],
    ['blocks.0.attn.lpe.depthwise_conv.weight', 3],
    ['blocks.0.attn.lpe.depthwise_conv.bias', 30],
    ['blocks.0.attn.proj.weight', 100],
    ['blocks.0.ls1.gamma', 5],
    ['blocks.1.mlp.fc1.weight', 200],
    ['blocks.1.mlp.fc1.bias', 17],
    ['blocks.1.mlp.fc2.weight', 300],
    ['blocks.1.ls2.gamma', 11],
    ['clip_projector.1.norm1_q.weight', 2],
    ['clip_projector.1.norm1_k.weight', 3],
    ['clip_projector.1.cross_attn.k.weight', 50],
    ['clip_projector.1.cross_attn.v_bias', 6],
    ['clip_projector.1.cross_attn.proj.weight', 77],
    ['fc_norm.weight', 4],
    ['head.1.weight', 13],
  ]);
});

it('with the max pool (clipPool: max) too', () => {
  gradientCheck({ clipPool: 'max' }, [
    ['patch_embed.proj.weight', 17],
    ['pos_embed', 32 * 40 + 6],
    ['blocks.1.mlp.fc2.weight', 300],
    ['clip_projector.1.norm1_v.weight', 2],
    ['clip_projector.1.norm1_v.bias', 5],
    ['clip_projector.1.cross_attn.v.weight', 50],
    ['clip_projector.1.cross_attn.v_bias', 6],
    ['clip_projector.1.cross_attn.proj.weight', 77],
    ['fc_norm.weight', 4],
    ['head.1.weight', 13],
  ]);
});
}
