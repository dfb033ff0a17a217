/** Shared model tests (shapes, edge cases, leaks, training), run on cpu and on wasm. */
import { Rng } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import { nearestHead, setAttentionChunk } from '../src/index.js';
import { randomVideo, tinyModel } from './helpers.js';

export function modelTests(): void {
  it('returns logits, pooled, indices, layers and [B,F,L] CLS attention', () => {
    const m = tinyModel();
    const v = randomVideo(2, 4, 16, 16);
    const before = tf.memory().numTensors;
    const r = m.forward(v, { k: 20, returnAttention: true, returnLayers: [0, -1] });
    expect(r.logits.shape).toEqual([2, 5]);
    expect(r.pooled.shape).toEqual([2, 24]);
    expect(r.indices.shape).toEqual([2, 20]);
    expect(r.indices.dtype).toBe('int32');
    expect(r.layers!.map((l) => l.shape)).toEqual([
      [2, 21, 32],
      [2, 21, 32],
    ]);
    expect(r.clsAttention!.shape).toEqual([2, 4, 16]);
    expect(r.head).toBe(nearestHead([64, 32, 16], 20));
    // attention over the kept tokens + CLS sums to 1; the dropped ones are zero
    const att = r.clsAttention!.arraySync().map((b) => b.flat());
    const idx = r.indices.arraySync();
    att.forEach((row, b) => {
      const kept = new Set(idx[b]);
      row.forEach((a, i) => (kept.has(i) ? expect(a).toBeGreaterThan(0) : expect(a).toBe(0)));
      expect(row.reduce((s, a) => s + a, 0)).toBeLessThan(1);
    });
    tf.dispose([r.logits, r.pooled, r.indices, r.clsAttention!, ...r.layers!]);
    expect(tf.memory().numTensors).toBe(before);
    v.dispose();
    m.dispose();
  });

  it('clipPool max: pooled = proj(v(LayerNorm(max over CLS + kept tokens))), checked against a float64 loop', () => {
    const m = tinyModel({ clipPool: 'max' }, 3);
    for (const [name, v] of m.params) if (name.startsWith('clip_projector.')) v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', name.length))));
    const v = randomVideo(2, 2, 8, 8, 5);
    const r = m.forward(v, { k: 5, returnLayers: [-1], head: 1 });
    const last = r.layers![0]!.arraySync(); // [B, 1 + K, C]
    const get = (n: string) => Array.from(m.param(n).dataSync());
    const pre = 'clip_projector.1';
    const [g, beta, wv, bv, wp, bp] = [`${pre}.norm1_v.weight`, `${pre}.norm1_v.bias`, `${pre}.cross_attn.v.weight`, `${pre}.cross_attn.v_bias`, `${pre}.cross_attn.proj.weight`, `${pre}.cross_attn.proj.bias`].map(get);
    const C = 32;
    const D = 24;
    const pooled = r.pooled.arraySync();
    last.forEach((tokens, b) => {
      const mx = Array.from({ length: C }, (_, c) => Math.max(...tokens.map((t) => t[c]!)));
      const mean = mx.reduce((s, x) => s + x, 0) / C;
      const varc = mx.reduce((s, x) => s + (x - mean) ** 2, 0) / C;
      const ln = mx.map((x, c) => ((x - mean) / Math.sqrt(varc + 1e-5)) * g![c]! + beta![c]!);
      // weights are stored [in, out] (tfjs layout)
      const vv = Array.from({ length: C }, (_, o) => ln.reduce((s, x, i) => s + x * wv![i * C + o]!, bv![o]!));
      const out = Array.from({ length: D }, (_, o) => vv.reduce((s, x, i) => s + x * wp![i * D + o]!, bp![o]!));
      out.forEach((x, o) => expect(pooled[b]![o]!).toBeCloseTo(x, 4));
    });
    expect(m.params.has(`${pre}.cross_attn.q.weight`)).toBe(false);
    expect(m.params.has(`${pre}.norm1_k.weight`)).toBe(false);
    tf.dispose([v, r.logits, r.pooled, r.indices, ...r.layers!]);
    m.dispose();
  });

  it('works with batch 1 and F = 4 (both crash the release), any F and grid', () => {
    const m = tinyModel();
    for (const [b, f, r] of [
      [1, 4, 16],
      [1, 1, 8],
      [3, 3, 12],
      [1, 10, 20],
    ] as const) {
      const v = randomVideo(b, f, r, r);
      const n = f * (r / 4) ** 2;
      const out = m.forward(v, { k: Math.max(1, Math.floor(n / 2)), returnAttention: true });
      expect(out.logits.shape).toEqual([b, 5]);
      expect(Number.isFinite(out.logits.dataSync()[0])).toBe(true);
      expect(out.clsAttention!.shape).toEqual([b, f, (r / 4) ** 2]);
      tf.dispose([v, out.logits, out.pooled, out.indices, out.clsAttention!]);
    }
    m.dispose();
  });

  it('keeping all tokens equals passing all indices explicitly; k ≥ F·L keeps all', () => {
    const m = tinyModel();
    const v = randomVideo(2, 2, 8, 8);
    const a = m.forward(v);
    const b = m.forward(v, { k: 1000 });
    const c = m.forward(v, { indices: tf.tensor2d([Array.from({ length: 8 }, (_, i) => i), Array.from({ length: 8 }, (_, i) => i)], [2, 8], 'int32') });
    expect(a.indices.shape).toEqual([2, 8]);
    expect(Array.from(b.logits.dataSync())).toEqual(Array.from(a.logits.dataSync()));
    const d = tf.max(tf.abs(tf.sub(a.logits, c.logits))).dataSync()[0]!;
    expect(d).toBeLessThan(1e-5);
    m.dispose();
  });

  it('reuseEmbedding (gather the pool\'s embedding) gives the outputs of embedding the kept patches again', () => {
    const m = tinyModel();
    const v = randomVideo(2, 4, 16, 16, 3);
    const before = tf.memory().numTensors;
    const a = m.forward(v, { k: 24, returnLayers: [-1] });
    const b = m.forward(v, { k: 24, returnLayers: [-1], reuseEmbedding: true });
    expect([...b.indices.dataSync()]).toEqual([...a.indices.dataSync()]);
    const la = a.layers![0]!.dataSync();
    const lb = b.layers![0]!.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < la.length; i++) maxDiff = Math.max(maxDiff, Math.abs(la[i]! - lb[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
    const pa = a.logits.dataSync();
    b.logits.dataSync().forEach((x, i) => expect(x).toBeCloseTo(pa[i]!, 4));
    tf.dispose([a.logits, a.pooled, a.indices, ...a.layers!, b.logits, b.pooled, b.indices, ...b.layers!]);
    expect(tf.memory().numTensors).toBe(before);
    v.dispose();
    m.dispose();
  });

  it('explicit head choice and out-of-range checks', () => {
    const m = tinyModel();
    const v = randomVideo(1, 2, 8, 8);
    expect(m.forward(v, { head: 2 }).head).toBe(2);
    expect(() => m.forward(v, { head: 3 })).toThrow(/head 3/);
    expect(() => m.forward(v, { indices: tf.tensor2d([[0, 8]], [1, 2], 'int32') })).toThrow(/out of range/);
    expect(() => m.forward(randomVideo(1, 2, 10, 10))).toThrow(/does not divide/);
    expect(() => m.forward(v, { returnLayers: [5] })).toThrow(/out of range/);
    m.dispose();
  });

  it('does not leak tensors over 20 train steps (variableGrads + apply, drop-path on)', () => {
    const m = tinyModel({ dropPathRate: 0.2 });
    const opt = tf.train.adam(1e-3);
    const rng = new Rng(3);
    const v = randomVideo(2, 4, 8, 8);
    const labels = tf.oneHot(tf.tensor1d([1, 3], 'int32'), 5);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => {
        const r = m.forward(v, { k: 10, training: true, rng });
        return tf.losses.softmaxCrossEntropy(labels, r.logits) as tf.Scalar;
      }, m.trainableVariables());
      opt.applyGradients(grads as tf.NamedTensorMap as Record<string, tf.Variable>);
      const loss = value.dataSync()[0]!;
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    };
    const first = step();
    step();
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 20; i++) last = step();
    expect(tf.memory().numTensors).toBe(before);
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first);
    opt.dispose();
    tf.dispose([v, labels]);
    m.dispose();
  });

  it('activation checkpointing and chunked attention give the same loss and gradients, and do not leak', () => {
    const m = tinyModel({ layerScaleInit: 0.3, dropPathRate: 0.3 });
    const v = randomVideo(2, 4, 8, 8);
    const labels = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 5);
    const run = (checkpoint: boolean) =>
      tf.variableGrads(() => {
        const r = m.forward(v, { k: 12, training: true, rng: new Rng(5), checkpoint });
        return tf.losses.softmaxCrossEntropy(labels, r.logits) as tf.Scalar;
      }, m.trainableVariables());
    const plain = run(false);
    run(true); // warm-up, then count
    const before = tf.memory().numTensors;
    const ck = run(true);
    expect(Math.abs(ck.value.dataSync()[0]! - plain.value.dataSync()[0]!)).toBeLessThan(1e-6);
    expect(Object.keys(ck.grads).length).toBe(Object.keys(plain.grads).length);
    tf.dispose([ck.value, ...Object.values(ck.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    const prev = setAttentionChunk(200); // 13 tokens → one (clip, head) row per chunk
    const again = run(true);
    setAttentionChunk(prev);
    let worst = 0;
    for (const [name, g] of Object.entries(plain.grads)) worst = Math.max(worst, tf.tidy(() => tf.max(tf.abs(tf.sub(g, again.grads[name]!))).dataSync()[0]!));
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([again.value, ...Object.values(again.grads), plain.value, ...Object.values(plain.grads), v, labels]);
    m.dispose();
  });

  it('tanh-approximate GELU option stays close to the erf GELU', () => {
    const a = tinyModel({ layerScaleInit: 0.5 }, 4);
    const b = tinyModel({ layerScaleInit: 0.5, mlpActivation: 'gelu_tanh' }, 4);
    const v = randomVideo(1, 2, 8, 8);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a.forward(v).pooled, b.forward(v).pooled))).dataSync()[0]!);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(1e-2);
    tf.dispose(v);
    a.dispose();
    b.dispose();
  });

  it('holds exactly its parameters in memory and releases them on dispose', () => {
    const before = tf.memory();
    const m = tinyModel();
    const after = tf.memory();
    expect(after.numTensors - before.numTensors).toBe(m.params.size);
    expect(after.numBytes - before.numBytes).toBe(4 * m.numParams());
    m.dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(() => m.forward(randomVideo(1, 1, 8, 8))).toThrow(/disposed/);
  });

  it('freeze / unfreeze select the trainable variables', () => {
    const m = tinyModel();
    const all = m.trainableVariables().length;
    m.freeze(['blocks.', 'patch_embed.']);
    const frozen = m.trainableNames();
    expect(frozen.some((n) => n.startsWith('blocks.'))).toBe(false);
    expect(frozen).toContain('head.0.weight');
    expect(m.trainableVariables().length).toBeLessThan(all);
    m.unfreeze(['blocks.1.']);
    expect(m.trainableNames().some((n) => n.startsWith('blocks.1.'))).toBe(true);
    m.unfreeze();
    expect(m.trainableVariables().length).toBe(all);
    expect(m.trainableVariables((n) => n.startsWith('head.')).length).toBe(6);
    m.dispose();
  });
}
