import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { AdamW, defaultDecay } from '../src/optim/adamw.js';
import { vitLayerDecay, vitLayerId } from '../src/optim/lrd.js';
import { cosineLr } from '../src/optim/schedule.js';
import { setupBackend } from './helpers.js';

beforeAll(setupBackend);

/** Hand-written AdamW (PyTorch's formula) in float64 for comparison. */
function refAdamW(p: number[], grads: number[][], lrs: number[], o: { b1: number; b2: number; eps: number; wd: number }) {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const w = [...p];
  grads.forEach((g, s) => {
    const t = s + 1;
    const lr = lrs[s]!;
    for (let i = 0; i < w.length; i++) {
      w[i] = w[i]! * (1 - lr * o.wd);
      m[i] = o.b1 * m[i]! + (1 - o.b1) * g[i]!;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * g[i]! * g[i]!;
      const mh = m[i]! / (1 - o.b1 ** t);
      const vh = v[i]! / (1 - o.b2 ** t);
      w[i] = w[i]! - (lr * mh) / (Math.sqrt(vh) + o.eps);
    }
  });
  return w;
}

describe('AdamW', () => {
  it('layer-wise lr decay: each parameter steps at lr × its scale (hand-computed AdamW at the scaled rate)', () => {
    const depth = 2;
    const names = ['pos_embed', 'patch_embed.proj.weight', 'blocks.0.attn.qkv.weight', 'blocks.1.mlp.fc2.weight', 'head.0.weight'];
    const scale = vitLayerDecay(depth, 0.5);
    // BEiT / VideoMAE get_num_layer_for_vit: embeddings 0, blocks.i → i + 1, the rest depth + 1; scale decay^(depth + 1 − id).
    expect(names.map((n) => vitLayerId(n, depth))).toEqual([0, 0, 1, 2, 3]);
    expect(names.map((n) => scale(n))).toEqual([0.125, 0.125, 0.25, 0.5, 1]);
    expect(vitLayerId('module.blocks.1.norm1.weight', depth)).toBe(2);
    expect(() => vitLayerId('blocks.7.norm1.weight', depth)).toThrow(/block 7 of a 2-block/);
    expect(() => vitLayerDecay(depth, 0)).toThrow(RangeError);
    const vars = names.map((n, i) => tf.variable(tf.tensor2d([0.5 + i, -1], [1, 2]), true, `lrd/${i}`));
    const opt = new AdamW(
      names.map((name, i) => ({ name, variable: vars[i]! })),
      { weightDecay: 0.1, maxGradNorm: 0, lrScale: scale },
    );
    expect(opt.lrScales).toEqual([0.125, 0.125, 0.25, 0.5, 1]);
    const g = [
      [0.3, -0.1],
      [-0.2, 0.4],
    ];
    const lrs = [0.1, 0.05];
    for (let s = 0; s < 2; s++) {
      const grads = Object.fromEntries(names.map((n) => [n, tf.tensor2d(g[s]!, [1, 2])]));
      expect(opt.step(grads, lrs[s]!).nonFiniteParam).toBeNull();
      Object.values(grads).forEach((t) => t.dispose());
    }
    names.forEach((n, i) => {
      const decayed = defaultDecay(n, [1, 2]);
      const want = refAdamW([0.5 + i, -1], g, lrs.map((lr) => lr * scale(n)), { b1: 0.9, b2: 0.999, eps: 1e-8, wd: decayed ? 0.1 : 0 });
      Array.from(vars[i]!.dataSync()).forEach((x, j) => expect(x).toBeCloseTo(want[j]!, 6));
    });
    vars.forEach((v) => v.dispose());
  });

  it('an update that would make a weight non-finite is reported and not applied (weights and moments unchanged)', () => {
    const W = tf.variable(tf.tensor1d([1, 2, 3]), true, 'nf/w');
    const opt = new AdamW([{ name: 'w', variable: W }], { weightDecay: 0, maxGradNorm: 0 });
    const g = tf.tensor1d([0.1, 0.1, 0.1]);
    expect(opt.step({ w: g }, 1e-3).nonFiniteParam).toBeNull();
    const before = Array.from(W.dataSync());
    const state = opt.getState();
    const r = opt.step({ w: g }, 1e39); // a step of ~1e39 overflows float32
    expect(r.nonFiniteParam).toBe('w');
    expect(Number.isFinite(r.gradNorm)).toBe(true);
    expect(Array.from(W.dataSync())).toEqual(before);
    expect(opt.stepCount).toBe(1);
    expect(Array.from(opt.getState().m[0]!)).toEqual(Array.from(state.m[0]!));
    g.dispose();
    W.dispose();
  });

  it('matches hand-computed AdamW over three steps (decayed matrix, undecayed bias)', () => {
    const W = tf.variable(tf.tensor2d([0.5, -1, 2, 0.25], [2, 2]), true, 'test/w');
    const b = tf.variable(tf.tensor1d([0.1, -0.2]), true, 'test/b');
    const opt = new AdamW(
      [
        { name: 'blocks.0.mlp.fc1.weight', variable: W },
        { name: 'blocks.0.mlp.fc1.bias', variable: b },
      ],
      { weightDecay: 0.1, maxGradNorm: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    );
    expect(opt.decayMask).toEqual([true, false]);
    const gW = [
      [0.1, -0.2, 0.3, 0.05],
      [-0.3, 0.1, 0.0, 0.2],
      [0.05, 0.05, -0.1, -0.4],
    ];
    const gb = [
      [1, -1],
      [0.5, 0.5],
      [-0.2, 0.1],
    ];
    const lrs = [0.01, 0.02, 0.005];
    for (let s = 0; s < 3; s++) {
      const grads = { 'blocks.0.mlp.fc1.weight': tf.tensor2d(gW[s]!, [2, 2]), 'blocks.0.mlp.fc1.bias': tf.tensor1d(gb[s]!) };
      opt.step(grads, lrs[s]!);
      Object.values(grads).forEach((g) => g.dispose());
    }
    const o = { b1: 0.9, b2: 0.999, eps: 1e-8 };
    const wantW = refAdamW([0.5, -1, 2, 0.25], gW, lrs, { ...o, wd: 0.1 });
    const wantB = refAdamW([0.1, -0.2], gb, lrs, { ...o, wd: 0 });
    Array.from(W.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(wantW[i]!, 6));
    Array.from(b.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(wantB[i]!, 6));
    W.dispose();
    b.dispose();
  });

  it('clips the global gradient norm and reports the norm before clipping', () => {
    const a = tf.variable(tf.zeros([2]), true, 'test/a');
    const c = tf.variable(tf.zeros([1]), true, 'test/c');
    const opt = new AdamW(
      [
        { name: 'a', variable: a },
        { name: 'c', variable: c },
      ],
      { maxGradNorm: 1, weightDecay: 0 },
    );
    const g = { a: tf.tensor1d([3, 0]), c: tf.tensor1d([4]) };
    const r = opt.step(g, 0.1);
    expect(r.gradNorm).toBeCloseTo(5, 6);
    expect(r.clipScale).toBeCloseTo(1 / 5, 5);
    // After clipping the moments hold g/5: m = 0.1·g/5 for the first step.
    const st = opt.getState();
    expect(st.m[0]![0]).toBeCloseTo(0.1 * 0.6, 6);
    expect(st.m[1]![0]).toBeCloseTo(0.1 * 0.8, 6);
    Object.values(g).forEach((t) => t.dispose());
    a.dispose();
    c.dispose();
  });

  it('does not decay norms, biases, gammas, positional embeddings or the CLS token', () => {
    expect(defaultDecay('blocks.0.attn.qkv.weight', [16, 48])).toBe(true);
    expect(defaultDecay('patch_embed.proj.weight', [768, 16])).toBe(true);
    expect(defaultDecay('blocks.0.norm1.weight', [16])).toBe(false);
    expect(defaultDecay('blocks.0.attn.q_norm.weight', [16])).toBe(false);
    expect(defaultDecay('blocks.0.mlp.fc1.bias', [64])).toBe(false);
    expect(defaultDecay('blocks.0.ls1.gamma', [16])).toBe(false);
    expect(defaultDecay('pos_embed', [1, 65, 16])).toBe(false);
    expect(defaultDecay('cls_token', [1, 1, 16])).toBe(false);
    expect(defaultDecay('clip_projector.0.norm1_q.weight', [16])).toBe(false);
  });

  it('round-trips its state and refuses a mismatched one', () => {
    const a = tf.variable(tf.ones([3]), true, 'test/rt');
    const opt = new AdamW([{ name: 'a', variable: a }]);
    const g = { a: tf.tensor1d([1, 2, 3]) };
    opt.step(g, 0.01);
    const st = opt.getState();
    const opt2 = new AdamW([{ name: 'a', variable: a }]);
    opt2.setState(st);
    expect(opt2.stepCount).toBe(1);
    expect(Array.from(opt2.getState().v[0]!)).toEqual(Array.from(st.v[0]!));
    const other = new AdamW([{ name: 'b', variable: a }]);
    expect(() => other.setState(st)).toThrow(/missing \["b"\]/);
    g.a.dispose();
    a.dispose();
  });
});

describe('cosine schedule with warmup', () => {
  const o = { baseLr: 1e-3, totalSteps: 110, warmupSteps: 10, minLr: 1e-5 };
  it('warms up linearly to the peak', () => {
    expect(cosineLr(0, o)).toBeCloseTo(1e-4, 12);
    expect(cosineLr(4, o)).toBeCloseTo(5e-4, 12);
    expect(cosineLr(9, o)).toBeCloseTo(1e-3, 12);
  });
  it('decays along a half cosine to minLr', () => {
    expect(cosineLr(10, o)).toBeCloseTo(1e-3, 12);
    expect(cosineLr(60, o)).toBeCloseTo(1e-5 + 0.5 * (1e-3 - 1e-5), 12);
    expect(cosineLr(35, o)).toBeCloseTo(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + Math.cos(Math.PI * 0.25)), 12);
    expect(cosineLr(110, o)).toBeCloseTo(1e-5, 12);
    expect(cosineLr(500, o)).toBeCloseTo(1e-5, 12);
  });
  it('without warmup starts at the peak', () => {
    expect(cosineLr(0, { baseLr: 0.1, totalSteps: 10 })).toBeCloseTo(0.1, 12);
  });
});
