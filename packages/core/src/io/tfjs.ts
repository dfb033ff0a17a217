/**
 * Conversions between {@link TensorRecord}s and tfjs tensors. tfjs has float32, int32 and bool only:
 * float64/float16/bfloat16 become float32, int64/int16/int8/uint8 become int32 (int64 range-checked).
 */
import * as tf from '@tensorflow/tfjs-core';

import { type DType, encodeBFloat16, encodeFloat16 } from './dtypes.js';
import { type StateDict, type TensorRecord, makeRecord, recordToFloat32, recordToInt32 } from './record.js';

/** The tfjs dtype a record of `dtype` becomes. */
export function tfDTypeOf(dtype: DType): 'float32' | 'int32' | 'bool' {
  if (dtype === 'bool') return 'bool';
  if (dtype === 'float64' || dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16') return 'float32';
  return 'int32';
}

/**
 * A new tfjs tensor with the record's values (the caller owns it). `name` is used in errors (an int64 value
 * that does not fit in int32 throws naming it).
 */
export function recordToTensor(record: TensorRecord, name = '<tensor>'): tf.Tensor {
  const kind = tfDTypeOf(record.dtype);
  if (kind === 'bool') return tf.tensor(record.data as Uint8Array, record.shape, 'bool');
  if (kind === 'int32') return tf.tensor(recordToInt32(record, name), record.shape, 'int32');
  const values = recordToFloat32(record);
  // Copy float32 data so the tensor never aliases (and a later write never corrupts) the record.
  return tf.tensor(record.dtype === 'float32' ? values.slice() : values, record.shape, 'float32');
}

/**
 * A record holding a tfjs tensor's values (read synchronously with `dataSync`). `dtype` picks the stored
 * type: float32 tensors may be stored as float32 (default), float16, bfloat16 or float64; int32 tensors as
 * int32 (default), int64, int16, int8 or uint8 (range-checked); bool tensors as bool.
 */
export function tensorToRecord(tensor: tf.Tensor, dtype?: DType, name = '<tensor>'): TensorRecord {
  const shape = tensor.shape.slice();
  if (tensor.dtype === 'bool') {
    if (dtype !== undefined && dtype !== 'bool') throw new Error(`tensor '${name}': cannot store a bool tensor as ${dtype}`);
    return makeRecord('bool', shape, Uint8Array.from(tensor.dataSync() as Uint8Array | Int32Array));
  }
  if (tensor.dtype === 'float32') {
    const v = tensor.dataSync() as Float32Array;
    switch (dtype ?? 'float32') {
      case 'float32':
        return makeRecord('float32', shape, v.slice());
      case 'float16':
        return makeRecord('float16', shape, encodeFloat16(v));
      case 'bfloat16':
        return makeRecord('bfloat16', shape, encodeBFloat16(v));
      case 'float64':
        return makeRecord('float64', shape, Float64Array.from(v));
      default:
        throw new Error(`tensor '${name}': cannot store a float32 tensor as ${String(dtype)}`);
    }
  }
  if (tensor.dtype === 'int32') {
    const v = tensor.dataSync() as Int32Array;
    const target = dtype ?? 'int32';
    if (target === 'int32') return makeRecord('int32', shape, v.slice());
    if (target === 'int64') return makeRecord('int64', shape, BigInt64Array.from(v, (x) => BigInt(x)));
    const range = new Map<DType, [number, number]>([
      ['int16', [-32768, 32767]],
      ['int8', [-128, 127]],
      ['uint8', [0, 255]],
    ]);
    const r = range.get(target);
    if (!r) throw new Error(`tensor '${name}': cannot store an int32 tensor as ${target}`);
    for (let i = 0; i < v.length; i++) {
      if (v[i]! < r[0] || v[i]! > r[1]) throw new RangeError(`tensor '${name}': value ${v[i]} at index ${i} does not fit in ${target}`);
    }
    return makeRecord(target, shape, v);
  }
  throw new Error(`tensor '${name}': tfjs dtype ${tensor.dtype} cannot be stored`);
}

/**
 * tfjs tensors for every record of a state dict, in the same order (the caller owns them). If one record
 * fails to convert, the tensors already made are disposed before the error propagates.
 */
export function stateDictToTensors(stateDict: StateDict): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  try {
    for (const [name, record] of stateDict) out.set(name, recordToTensor(record, name));
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

/**
 * A state dict holding the values of named tfjs tensors (tensors are read, not disposed). `dtype` is either
 * one target dtype for every float32 tensor (int32/bool tensors keep their type), or a function choosing
 * per tensor (return undefined for the default).
 */
export function tensorsToStateDict(
  tensors: Map<string, tf.Tensor> | Record<string, tf.Tensor>,
  dtype?: DType | ((name: string, tensor: tf.Tensor) => DType | undefined),
): StateDict {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const out: StateDict = new Map();
  for (const [name, t] of entries) {
    const d = typeof dtype === 'function' ? dtype(name, t) : t.dtype === 'float32' ? dtype : undefined;
    out.set(name, tensorToRecord(t, d, name));
  }
  return out;
}

/**
 * float32 records of variables in PyTorch layout: 2-D weights, held as tfjs's [in, out], are transposed to
 * `nn.Linear`'s [out, in]; every other rank is copied as is. Names are kept.
 */
export function torchLayoutRecords(params: ReadonlyMap<string, tf.Variable>): Map<string, TensorRecord> {
  const out = new Map<string, TensorRecord>();
  for (const [name, v] of params) {
    const t = v.rank === 2 ? tf.tidy(() => tf.transpose(v)) : v;
    out.set(name, makeRecord('float32', t.shape, Float32Array.from(t.dataSync() as Float32Array)));
    if (t !== v) t.dispose();
  }
  return out;
}

/**
 * What stands between `tensors` (PyTorch layout) and a strict load into `params`: `missing <name>`,
 * `<name>: shape [..], expected [..]`, and `unexpected <name>` for every name of `tensors` that is no parameter.
 * Empty when they match exactly.
 */
export function torchLayoutProblems(params: ReadonlyMap<string, tf.Variable>, tensors: ReadonlyMap<string, TensorRecord>): string[] {
  const problems: string[] = [];
  for (const [name, v] of params) {
    const r = tensors.get(name);
    const want = v.rank === 2 ? [v.shape[1]!, v.shape[0]!] : v.shape;
    if (!r) problems.push(`missing ${name}`);
    else if (r.shape.join(',') !== want.join(',')) problems.push(`${name}: shape [${r.shape.join(',')}], expected [${want.join(',')}]`);
  }
  for (const name of tensors.keys()) if (!params.has(name)) problems.push(`unexpected ${name}`);
  return problems;
}

/** Assigns PyTorch-layout records to `params` (2-D transposed back to [in, out]); check {@link torchLayoutProblems} first. */
export function assignTorchLayout(params: ReadonlyMap<string, tf.Variable>, tensors: ReadonlyMap<string, TensorRecord>): void {
  for (const [name, v] of params) {
    const r = tensors.get(name);
    if (!r) throw new Error(`assignTorchLayout: no tensor '${name}'`);
    tf.tidy(() => {
      const t = tf.tensor(recordToFloat32(r), r.shape, 'float32');
      v.assign(v.rank === 2 ? tf.transpose(t) : t);
    });
  }
}
