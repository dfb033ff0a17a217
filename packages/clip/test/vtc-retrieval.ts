/** VTC loss and retrieval metrics against plain float64 references (shared by backends). */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import { captionGroups, chanceAtK, dualSoftmax, fluxMultiVtcLoss, recallAtK, retrievalMetrics, softTargets, vtcLoss } from '../src/index.js';

function refVtc(v: number[][], t: number[][], temp: number, groups: number[]): number {
  const norm = (x: number[]) => {
    const n = Math.hypot(...x);
    return x.map((a) => a / n);
  };
  const vn = v.map(norm);
  const tn = t.map(norm);
  const b = v.length;
  const tau = Math.max(temp, 0.01);
  const logits = vn.map((a) => tn.map((c) => a.reduce((s, x, i) => s + x * c[i]!, 0) / tau));
  const target = (i: number, j: number) => (groups[i] === groups[j] ? 1 / groups.filter((g) => g === groups[i]).length : 0);
  const ce = (l: number[][]) => {
    let s = 0;
    for (let i = 0; i < b; i++) {
      const m = Math.max(...l[i]!);
      const lse = m + Math.log(l[i]!.reduce((a, x) => a + Math.exp(x - m), 0));
      for (let j = 0; j < b; j++) s -= target(i, j) * (l[i]![j]! - lse);
    }
    return s / b;
  };
  const lt = logits[0]!.map((_, j) => logits.map((r) => r[j]!));
  return (ce(logits) + ce(lt)) / 2;
}

export function vtcRetrievalTests(): void {
  it('VTC equals a float64 reference: one-hot targets, shared targets for equal captions, the temperature floor', () => {
    const v = tf.randomNormal([5, 6], 0, 1, 'float32', 3) as tf.Tensor2D;
    const t = tf.randomNormal([5, 6], 0, 1, 'float32', 4) as tf.Tensor2D;
    const va = v.arraySync();
    const ta = t.arraySync();
    for (const [temp, groups] of [
      [0.07, [0, 1, 2, 3, 4]],
      [0.5, [0, 1, 0, 2, 1]],
      [0.001, [0, 0, 0, 1, 1]],
    ] as [number, number[]][]) {
      const l = vtcLoss(v, t, tf.scalar(temp), groups);
      expect(l.dataSync()[0]!).toBeCloseTo(refVtc(va, ta, temp, groups), 4);
      l.dispose();
    }
    expect([...softTargets([0, 1, 0])]).toEqual([0.5, 0, 0.5, 0, 1, 0, 0.5, 0, 0.5]);
    expect([...captionGroups(['a b', 'c', 'a b', 'd'])]).toEqual([0, 1, 0, 2]);
    expect(() => vtcLoss(v, tf.zeros([4, 6]) as tf.Tensor2D, tf.scalar(0.07))).toThrow(/differ/);
    tf.dispose([v, t]);
  });

  it('gradients of the VTC w.r.t. the features and the temperature match central differences', () => {
    const v = tf.variable(tf.randomNormal([4, 5], 0, 1, 'float32', 5));
    const t = tf.variable(tf.randomNormal([4, 5], 0, 1, 'float32', 6));
    const temp = tf.variable(tf.scalar(0.2));
    const groups = [0, 1, 1, 2];
    const f = () => vtcLoss(v as unknown as tf.Tensor2D, t as unknown as tf.Tensor2D, temp, groups);
    const { value, grads } = tf.variableGrads(f, [v, t, temp]);
    const h = 1e-2;
    for (const x of [v, t, temp]) {
      const g = grads[x.name]!.dataSync();
      const base = x.dataSync().slice() as Float32Array;
      for (const i of [0, base.length - 1]) {
        const at = (d: number) => {
          const y = base.slice();
          y[i]! += d;
          x.assign(tf.tensor(y, x.shape));
          const l = f();
          const r = l.dataSync()[0]!;
          l.dispose();
          return r;
        };
        const numeric = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
        x.assign(tf.tensor(base, x.shape));
        expect(Math.abs(g[i]! - numeric), `${x.name}[${i}] ${g[i]} vs ${numeric}`).toBeLessThan(3e-3 + 2e-2 * Math.abs(numeric));
      }
    }
    expect(Math.abs(grads[temp.name]!.dataSync()[0]!)).toBeGreaterThan(1e-4);
    tf.dispose([value, ...Object.values(grads), v, t, temp]);
  });

  it('Flux-Multi VTC: one VTC per count plus smooth-L1 of the smaller counts to the largest', () => {
    const t = tf.randomNormal([3, 4], 0, 1, 'float32', 7) as tf.Tensor2D;
    const v0 = tf.randomNormal([3, 4], 0, 1, 'float32', 8) as tf.Tensor2D;
    const v1 = tf.randomNormal([3, 4], 0, 1, 'float32', 9) as tf.Tensor2D;
    const temp = tf.scalar(0.1);
    const p = fluxMultiVtcLoss([v0, v1], t, temp, [0, 1, 2], 2);
    const a = vtcLoss(v0, t, temp).dataSync()[0]!;
    const b = vtcLoss(v1, t, temp).dataSync()[0]!;
    expect(p.vtc.map((x) => x.dataSync()[0])).toEqual([expect.closeTo(a, 5), expect.closeTo(b, 5)]);
    expect(p.total.dataSync()[0]!).toBeCloseTo(a + b + 2 * p.distill[0]!.dataSync()[0]!, 5);
    expect(p.distill[0]!.dataSync()[0]!).toBeGreaterThan(0);
    const same = fluxMultiVtcLoss([v0, tf.mul(v0, 3) as tf.Tensor2D], t, temp, undefined);
    expect(same.distill[0]!.dataSync()[0]!).toBeCloseTo(0, 6); // scale does not matter after normalisation
    tf.dispose([t, v0, v1, temp, p.total, ...p.vtc, ...p.distill, same.total, ...same.vtc, ...same.distill]);
  });
}

export function retrievalTests(): void {
  it('recall@K: perfect, reversed and tied rankings; equal captions count as correct', () => {
    // 3 queries × 3 items, identity is best.
    const eye = Float32Array.from([3, 1, 0, 0, 3, 1, 1, 0, 3]);
    const r = recallAtK(eye, [0, 1, 2], [0, 1, 2], [1, 2]);
    expect(r.at).toEqual({ 1: 1, 2: 1 });
    // Each query's correct item scores lowest: rank 2 of 3 → a hit only at K = 3.
    const rev = Float32Array.from([0, 1, 3, 1, 0, 3, 3, 1, 0]);
    const r2 = recallAtK(rev, [0, 1, 2], [0, 1, 2], [1, 2, 3]);
    expect(r2.at).toEqual({ 1: 0, 2: 0, 3: 1 });
    // Ties rank against the query; a duplicate caption's item is also correct.
    const tie = Float32Array.from([1, 1]);
    expect(recallAtK(tie, [0], [1, 0], [1]).at[1]).toBe(0);
    expect(recallAtK(Float32Array.from([0, 5]), [7], [3, 7], [1]).at[1]).toBe(1);
    expect(recallAtK(Float32Array.from([5, 1, 0]), [4], [4, 9, 4], [1]).at[1]).toBe(1);
    expect(() => recallAtK(eye, [0, 1], [0, 1], [1])).toThrow(/entries/);
  });

  it('chance levels: K/N for one correct item, the hypergeometric tail for several', () => {
    expect(chanceAtK(100, 1, 5)).toBeCloseTo(0.05, 10);
    expect(chanceAtK(10, 2, 1)).toBeCloseTo(0.2, 10);
    expect(chanceAtK(10, 2, 2)).toBeCloseTo(1 - (8 * 7) / (10 * 9), 10);
    expect(chanceAtK(5, 5, 1)).toBe(1);
    expect(chanceAtK(5, 0, 3)).toBe(0);
    const r = recallAtK(new Float32Array(4 * 4), [0, 0, 1, 2], [0, 0, 1, 2], [1]);
    expect(r.chance[1]).toBeCloseTo((0.5 + 0.5 + 0.25 + 0.25) / 4, 10);
  });

  it('dual softmax multiplies each entry by its softmax over the query axis', () => {
    const s = Float32Array.from([1, 2, 3, 4, 0, 6]); // [2, 3]
    const d = dualSoftmax(s, 2, 3);
    const col = (c: number) => [s[c]!, s[3 + c]!];
    for (let c = 0; c < 3; c++) {
      const [a, b] = col(c);
      const z = Math.exp(a!) + Math.exp(b!);
      expect(d[c]).toBeCloseTo(a! * (Math.exp(a!) / z), 5);
      expect(d[3 + c]).toBeCloseTo(b! * (Math.exp(b!) / z), 5);
    }
    const m = retrievalMetrics(Float32Array.from([2, 0, 0, 2]), [0, 1], [0, 1], { dual: true, ks: [1] });
    expect(m.t2v.at[1]).toBe(1);
    expect(m.v2t.at[1]).toBe(1);
  });
}
