import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { framesToTensor, IMAGENET_MEAN, IMAGENET_STD, MovingMnist, normalizeFrames } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('framesToTensor', () => {
  it('normalises per channel with ImageNet mean/std', () => {
    const data = new Uint8Array([0, 128, 255, 255, 0, 64]);
    const t = framesToTensor({ data, shape: [1, 1, 2, 3] });
    expect(t.shape).toEqual([1, 1, 2, 3]);
    const v = t.dataSync();
    const want = Array.from(data, (x, i) => (x / 255 - IMAGENET_MEAN[i % 3]) / IMAGENET_STD[i % 3]);
    want.forEach((w, i) => expect(v[i]).toBeCloseTo(w, 5));
    t.dispose();
    expect(Array.from(normalizeFrames(data, 'unit'))).toEqual(Array.from(data, (x) => Math.fround(x / 255)));
  });

  it('shapes a Moving-MNIST batch as [B,F,H,W,3] and does not leak tensors', () => {
    const before = tf.memory().numTensors;
    const b = new MovingMnist().batch([0, 1], { frames: [0, 8], size: 32 });
    const t = framesToTensor(b);
    expect(t.shape).toEqual([2, 2, 32, 32, 3]);
    expect(tf.memory().numTensors).toBe(before + 1);
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('checks its input', () => {
    expect(() => framesToTensor({ data: new Uint8Array(5), shape: [1, 5] })).toThrow(/last dimension must be 3|holds/);
    expect(() => framesToTensor({ data: new Uint8Array(6), shape: [1, 3] })).toThrow(/holds 3 values/);
  });
});
