import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  makeRecord,
  parseSafetensors,
  readPthSync,
  recordToTensor,
  serializeSafetensors,
  stateDictToTensors,
  tensorToRecord,
  tensorsToStateDict,
  tfDTypeOf,
} from '../src/io/index.js';
import { fixture } from './fixtures/expected.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('tfjs conversion', () => {
  it('maps every dtype to float32 / int32 / bool tensors', () => {
    const start = tf.memory().numTensors;
    const sd = readPthSync(fixture('dtypes.pth')).tensors;
    sd.delete('i64_big');
    const tensors = stateDictToTensors(sd);
    for (const [name, t] of tensors) {
      const r = sd.get(name)!;
      expect(t.dtype, name).toBe(tfDTypeOf(r.dtype));
      expect(t.shape, name).toEqual(r.shape);
    }
    expect(Array.from(tensors.get('f16_special')!.dataSync())).toEqual([Infinity, -Infinity, 65504, 5.960464477539063e-8, -0, 0.333251953125]);
    expect(Array.from(tensors.get('i64')!.dataSync())).toEqual([0, -1, 2 ** 31 - 1, -(2 ** 31), 7]);
    expect(Array.from(tensors.get('bool')!.dataSync())).toEqual([1, 0, 1]);
    expect(Array.from(tensors.get('u8')!.dataSync())).toEqual([0, 255, 7]);
    for (const t of tensors.values()) t.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('rejects int64 values outside int32 naming the tensor, without leaking the tensors already made', () => {
    const start = tf.memory().numTensors;
    const sd = readPthSync(fixture('dtypes.pth')).tensors;
    expect(() => stateDictToTensors(sd)).toThrow(/tensor 'i64_big': int64 value 1099511627776 at index 0 does not fit in int32/);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('round-trips tensors through records and safetensors bytes with no tensor leak', () => {
    const start = tf.memory().numTensors;
    const tensors = {
      w: tf.tensor2d([[1.5, -2], [3.25, 1e-3]]),
      ids: tf.tensor1d([1, -7, 2 ** 30], 'int32'),
      mask: tf.tensor1d([1, 0, 1], 'bool'),
    };
    for (const dtype of ['float32', 'float16', 'bfloat16', 'float64'] as const) {
      const sd = tensorsToStateDict(tensors, dtype);
      expect(sd.get('w')!.dtype).toBe(dtype);
      expect(sd.get('ids')!.dtype).toBe('int32');
      const back = stateDictToTensors(parseSafetensors(serializeSafetensors(sd)).tensors);
      const tol = dtype === 'bfloat16' ? 1e-2 : dtype === 'float16' ? 1e-3 : 0;
      const w = back.get('w')!.dataSync();
      tensors.w.dataSync().forEach((v, i) => expect(Math.abs(w[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * tol));
      expect(Array.from(back.get('ids')!.dataSync())).toEqual([1, -7, 2 ** 30]);
      expect(back.get('mask')!.dtype).toBe('bool');
      for (const t of back.values()) t.dispose();
    }
    const i64 = tensorsToStateDict(tensors, (name) => (name === 'ids' ? 'int64' : undefined));
    expect(i64.get('ids')!.data).toEqual(new BigInt64Array([1n, -7n, 2n ** 30n]));
    expect(() => tensorToRecord(tensors.ids, 'int8', 'ids')).toThrow(/tensor 'ids': value -7|tensor 'ids': value 1073741824/);
    expect(() => tensorToRecord(tensors.w, 'int32', 'w')).toThrow(/cannot store a float32 tensor as int32/);
    for (const t of Object.values(tensors)) t.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('never aliases record data', () => {
    const r = makeRecord('float32', [2], [1, 2]);
    const t = recordToTensor(r);
    (r.data as Float32Array)[0] = 99;
    expect(Array.from(t.dataSync())).toEqual([1, 2]);
    t.dispose();
  });
});
