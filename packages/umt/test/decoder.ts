/** Decoder heads and the alignment loss: a plain-JS reference and a finite-difference gradient check (shared by backends). */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import { AlignmentHeads, cosineAlignmentLoss } from '../src/index.js';

/** Reference: Linear → exact GELU → Linear → LayerNorm → L2, in float64 on plain arrays (PyTorch layout weights). */
function refDecode(x: number[], sd: Map<string, { shape: number[]; data: Float32Array }>, prefix: string): number[] {
  const lin = (v: number[], w: string, b: string) => {
    const W = sd.get(w)!;
    const B = sd.get(b)!.data;
    const [out, inn] = W.shape as [number, number];
    return Array.from({ length: out }, (_, o) => {
      let s = B[o]!;
      for (let i = 0; i < inn; i++) s += W.data[o * inn + i]! * v[i]!;
      return s;
    });
  };
  const erf = (z: number) => {
    // Abramowitz–Stegun 7.1.26 is too coarse; integrate erf by Simpson's rule instead (fine for a test).
    const n = 2000;
    const h = z / n;
    let s = 0;
    for (let i = 0; i <= n; i++) s += Math.exp(-((i * h) ** 2)) * (i === 0 || i === n ? 1 : i % 2 ? 4 : 2);
    return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
  };
  const h = lin(x, `${prefix}.head.0.weight`, `${prefix}.head.0.bias`).map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
  const y = lin(h, `${prefix}.head.2.weight`, `${prefix}.head.2.bias`);
  const mu = y.reduce((a, b) => a + b, 0) / y.length;
  const varr = y.reduce((a, b) => a + (b - mu) ** 2, 0) / y.length;
  const g = sd.get(`${prefix}.norm.weight`)!.data;
  const bb = sd.get(`${prefix}.norm.bias`)!.data;
  const n = y.map((v, i) => ((v - mu) / Math.sqrt(varr + 1e-5)) * g[i]! + bb[i]!);
  const norm = Math.hypot(...n);
  return n.map((v) => v / norm);
}

function perturb(heads: AlignmentHeads, seed: number): void {
  let s = seed;
  for (const v of heads.params.values()) v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', s++))));
}

export function decoderTests(): void {
  it('the decoders and 2 − 2·cos match a float64 reference', () => {
    const heads = new AlignmentHeads({ layers: 2, studentDim: 6, teacherDim: 5, studentPooledDim: 4, teacherPooledDim: 3, seed: 1 });
    perturb(heads, 11);
    const sd = heads.stateDict() as Map<string, { shape: number[]; data: Float32Array }>;
    expect(sd.get('clip_decoder.1.head.0.weight')!.shape).toEqual([5, 6]); // PyTorch [out, in]
    const x = tf.randomNormal([2, 3, 6], 0, 1, 'float32', 5) as tf.Tensor3D;
    const t = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 6) as tf.Tensor3D;
    const y = heads.decodeLayer(1, x);
    const xs = x.arraySync() as number[][][];
    const ys = y.arraySync() as number[][][];
    const ts = t.arraySync() as number[][][];
    let ref = 0;
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 3; i++) {
        const r = refDecode(xs[b]![i]!, sd, 'clip_decoder.1');
        r.forEach((v, c) => expect(ys[b]![i]![c]!).toBeCloseTo(v, 4));
        const tn = Math.hypot(...ts[b]![i]!);
        ref += 2 - 2 * r.reduce((a, v, c) => a + v * (ts[b]![i]![c]! / tn), 0);
      }
    const l = cosineAlignmentLoss(y, t);
    expect(l.dataSync()[0]!).toBeCloseTo(ref / 6, 4);
    // Identical directions → 0; opposite → 4.
    const one = cosineAlignmentLoss(t, tf.mul(t, 3));
    const opp = cosineAlignmentLoss(t, tf.mul(t, -0.5));
    expect(one.dataSync()[0]!).toBeCloseTo(0, 5);
    expect(opp.dataSync()[0]!).toBeCloseTo(4, 5);
    expect(() => cosineAlignmentLoss(t, x)).toThrow(/differ/);
    tf.dispose([x, t, y, l, one, opp]);
    heads.dispose();
  });

  it('gradients of the alignment loss w.r.t. every decoder tensor match central finite differences', () => {
    const heads = new AlignmentHeads({ layers: 1, studentDim: 5, teacherDim: 4, studentPooledDim: 3, teacherPooledDim: 4, seed: 2 });
    perturb(heads, 21);
    const x = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 7) as tf.Tensor3D;
    const t = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 8) as tf.Tensor3D;
    const p = tf.randomNormal([2, 3], 0, 1, 'float32', 9) as tf.Tensor2D;
    const pt = tf.randomNormal([2, 4], 0, 1, 'float32', 10) as tf.Tensor2D;
    const lossFn = () => tf.tidy(() => tf.add(cosineAlignmentLoss(heads.decodeLayer(0, x), t), tf.mul(cosineAlignmentLoss(heads.decodePooled(p), pt), 0.7)) as tf.Scalar);
    const vars = [...heads.params.values()];
    const { value, grads } = tf.variableGrads(lossFn, vars);
    const h = 1e-2;
    let checked = 0;
    let nonzero = 0;
    for (const [name, v] of heads.params) {
      const g = grads[v.name]!.dataSync();
      const base = v.dataSync().slice() as Float32Array;
      for (const i of [0, Math.floor(base.length / 2), base.length - 1]) {
        const at = (d: number) => {
          const xx = base.slice();
          xx[i]! += d;
          v.assign(tf.tensor(xx, v.shape));
          const l = lossFn();
          const out = l.dataSync()[0]!;
          l.dispose();
          return out;
        };
        const numeric = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
        v.assign(tf.tensor(base, v.shape));
        expect(Math.abs(g[i]! - numeric), `${name}[${i}] analytic ${g[i]} numeric ${numeric}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
        checked++;
        if (Math.abs(g[i]!) > 1e-5) nonzero++;
      }
    }
    expect(checked).toBe(36); // 12 tensors × 3 probes
    expect(nonzero).toBeGreaterThan(checked * 0.75);
    tf.dispose([value, x, t, p, pt, ...Object.values(grads)]);
    heads.dispose();
  });

  it('state dicts round-trip strictly and name every problem', () => {
    const a = new AlignmentHeads({ layers: 2, studentDim: 6, teacherDim: 5, studentPooledDim: 4, teacherPooledDim: 3, seed: 1 });
    const b = new AlignmentHeads({ layers: 2, studentDim: 6, teacherDim: 5, studentPooledDim: 4, teacherPooledDim: 3, seed: 2 });
    b.loadStateDict(a.stateDict());
    for (const [k, v] of a.params) expect([...b.params.get(k)!.dataSync()]).toEqual([...v.dataSync()]);
    const bad = a.stateDict();
    bad.delete('clip_decoder.0.norm.bias');
    bad.set('extra', bad.get('final_clip_decoder.norm.bias')!);
    expect(() => b.loadStateDict(bad, 'x.safetensors')).toThrow(/x\.safetensors[\s\S]*missing clip_decoder\.0\.norm\.bias[\s\S]*unexpected extra/);
    a.dispose();
    b.dispose();
  });
}
