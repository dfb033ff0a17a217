import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { fluxMultiLoss, labelSmoothedCrossEntropy, smoothL1, stopGradient } from '../src/losses.js';
import { setupBackend } from './helpers.js';

beforeAll(setupBackend);

function logSoftmax(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
  return row.map((x) => x - lse);
}

describe('label-smoothed cross-entropy', () => {
  const logits = [
    [2, 0.5, -1],
    [0.1, 0.2, 0.3],
  ];
  const labels = [0, 2];
  it('equals the hand computation (PyTorch label_smoothing convention)', () => {
    const eps = 0.1;
    const C = 3;
    let want = 0;
    logits.forEach((row, b) => {
      const lp = logSoftmax(row);
      want += -lp.reduce((s, l, c) => s + l * ((c === labels[b] ? 1 - eps : 0) + eps / C), 0);
    });
    want /= 2;
    const got = labelSmoothedCrossEntropy(tf.tensor2d(logits), labels, eps);
    expect(got.dataSync()[0]).toBeCloseTo(want, 5);
  });
  it('with ε = 0 is plain cross-entropy', () => {
    const want = -(logSoftmax(logits[0]!)[0]! + logSoftmax(logits[1]!)[2]!) / 2;
    expect(labelSmoothedCrossEntropy(tf.tensor2d(logits), labels, 0).dataSync()[0]).toBeCloseTo(want, 5);
  });
});

describe('smooth L1', () => {
  it('is quadratic below β and linear above', () => {
    const x = tf.tensor1d([0, 0.5, 3, -2]);
    const y = tf.tensor1d([0, 0, 0, 0]);
    const want = (0 + 0.5 * 0.25 + (3 - 0.5) + (2 - 0.5)) / 4;
    expect(smoothL1(x, y).dataSync()[0]).toBeCloseTo(want, 6);
    const want2 = (0 + (0.5 * 0.25) / 2 + (3 - 1) + (2 - 1)) / 4;
    expect(smoothL1(x, y, 2).dataSync()[0]).toBeCloseTo(want2, 6);
  });
  it('has the smooth-L1 gradient', () => {
    const y = tf.tensor1d([0, 0, 0]);
    const g = tf.grad((x: tf.Tensor) => smoothL1(x, y))(tf.tensor1d([0.5, 2, -3]));
    const got = Array.from(g.dataSync());
    [0.5 / 3, 1 / 3, -1 / 3].forEach((w, i) => expect(got[i]).toBeCloseTo(w, 6));
  });
});

describe('stopGradient', () => {
  it('passes values and blocks gradients', () => {
    const f = (x: tf.Tensor) => tf.sum(tf.mul(x, stopGradient(x)));
    const x = tf.tensor1d([1, 2]);
    expect(f(x).dataSync()[0]).toBe(5);
    expect(Array.from(tf.grad(f)(x).dataSync())).toEqual([1, 2]); // d/dx x·sg(x) = sg(x)
  });
});

describe('Flux-Multi loss', () => {
  it('sums CE per head and smooth-L1 of normalised decoded smaller features to the normalised largest (hand computed)', () => {
    const labels = [1, 0];
    const l0 = [
      [1, 2],
      [0, -1],
    ];
    const l1 = [
      [0.5, 0.5],
      [2, 1],
    ];
    const f0 = [
      [3, 4],
      [1, 0],
    ];
    const f1 = [
      [1, 1],
      [0, 2],
    ];
    const heads = [
      { logits: tf.tensor2d(l0), pooled: tf.tensor2d(f0) },
      { logits: tf.tensor2d(l1), pooled: tf.tensor2d(f1) },
    ];
    const dec = (f: tf.Tensor2D) => tf.mul(f, 2); // a decoder the L2 normalisation undoes
    const parts = fluxMultiLoss(heads, labels, [dec], { smoothing: 0, distillWeight: 1 });
    const ce = (rows: number[][]) => -(logSoftmax(rows[0]!)[1]! + logSoftmax(rows[1]!)[0]!) / 2;
    const n = (v: number[]) => v.map((x) => x / Math.hypot(...v));
    const d = [n(f1[0]!).map((x, i) => x - n(f0[0]!)[i]!), n(f1[1]!).map((x, i) => x - n(f0[1]!)[i]!)].flat();
    const sl1 = d.reduce((s, x) => s + (Math.abs(x) < 1 ? 0.5 * x * x : Math.abs(x) - 0.5), 0) / d.length;
    expect(parts.ce[0]!.dataSync()[0]).toBeCloseTo(ce(l0), 5);
    expect(parts.ce[1]!.dataSync()[0]).toBeCloseTo(ce(l1), 5);
    expect(parts.distill[0]!.dataSync()[0]).toBeCloseTo(sl1, 5);
    expect(parts.total.dataSync()[0]).toBeCloseTo(ce(l0) + ce(l1) + sl1, 5);
  });

  it('sends no distillation gradient into the largest head\'s feature', () => {
    const f1 = tf.tensor2d([[1, 2]]);
    const g = tf.grad((f0: tf.Tensor) => fluxMultiLoss([{ logits: tf.zeros([1, 2]) as tf.Tensor2D, pooled: f0 as tf.Tensor2D }, { logits: tf.zeros([1, 2]) as tf.Tensor2D, pooled: f1 }], [0], [(f) => f]).total)(tf.tensor2d([[3, 1]]));
    expect(Array.from(g.dataSync())).toEqual([0, 0]);
  });
});
