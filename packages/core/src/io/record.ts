/**
 * Backend-neutral tensors: a {@link TensorRecord} is a dtype, a shape and a typed array (row-major,
 * contiguous). A {@link StateDict} is an ordered map of them, the currency of every weights reader and writer.
 */
import {
  type DType,
  type TensorData,
  allocData,
  dataMatchesDType,
  decodeBFloat16,
  decodeFloat16,
  encodeBFloat16,
  encodeFloat16,
  isDType,
} from './dtypes.js';

/** One tensor, independent of any tensor library. `data.length === shapeSize(shape)`. */
export interface TensorRecord {
  dtype: DType;
  /** Dimensions, row-major (last fastest). `[]` is a scalar. */
  shape: number[];
  /** Elements in row-major order; the class follows the dtype (see {@link TensorData}). */
  data: TensorData;
}

/** Named tensors in a meaningful order (file order when read, insertion order when written). */
export type StateDict = Map<string, TensorRecord>;

/** Number of elements of a shape (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** True when every entry is a non-negative safe integer. */
export function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0);
}

/**
 * Builds a checked {@link TensorRecord}. Without `data` it is zero-filled; `data` may also be a plain array of
 * numbers (or bigints for int64), converted to the dtype's storage (float16/bfloat16 values are encoded).
 * Throws when the shape is invalid or the length does not match.
 */
export function makeRecord(
  dtype: DType,
  shape: readonly number[],
  data?: TensorData | ArrayLike<number> | ArrayLike<bigint>,
): TensorRecord {
  if (!isDType(dtype)) throw new Error(`makeRecord: unknown dtype '${String(dtype)}'`);
  if (!isValidShape(shape)) throw new Error(`makeRecord: invalid shape [${String(shape)}]`);
  const n = shapeSize(shape);
  let out: TensorData;
  if (data === undefined) out = allocData(dtype, n);
  else if (ArrayBuffer.isView(data) && dataMatchesDType(dtype, data as TensorData)) out = data as TensorData;
  else if (dtype === 'float16') out = encodeFloat16(data as ArrayLike<number>);
  else if (dtype === 'bfloat16') out = encodeBFloat16(data as ArrayLike<number>);
  else {
    out = allocData(dtype, data.length);
    const src = data as ArrayLike<number | bigint>;
    if (dtype === 'int64') for (let i = 0; i < src.length; i++) (out as BigInt64Array)[i] = BigInt(src[i]!);
    else for (let i = 0; i < src.length; i++) (out as Float64Array)[i] = Number(src[i]!);
  }
  if (out.length !== n) {
    throw new Error(`makeRecord: ${out.length} elements for shape [${shape.join(', ')}] (needs ${n})`);
  }
  return { dtype, shape: [...shape], data: out };
}

/**
 * The record's values as float32 (float16/bfloat16 decoded, float64 rounded, integers converted). Float32
 * records return their own data (no copy).
 */
export function recordToFloat32(record: TensorRecord): Float32Array {
  switch (record.dtype) {
    case 'float32':
      return record.data as Float32Array;
    case 'float16':
      return decodeFloat16(record.data as Uint16Array);
    case 'bfloat16':
      return decodeBFloat16(record.data as Uint16Array);
    case 'int64': {
      const src = record.data as BigInt64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
      return out;
    }
    default:
      return Float32Array.from(record.data as Float64Array);
  }
}

/**
 * The record's values as int32. Integer records are range-checked (an int64 value outside ±2³¹ throws naming
 * `name`); float records are truncated toward zero.
 */
export function recordToInt32(record: TensorRecord, name = '<tensor>'): Int32Array {
  if (record.dtype === 'int32') return record.data as Int32Array;
  if (record.dtype === 'int64') {
    const src = record.data as BigInt64Array;
    const out = new Int32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!;
      if (v > 2147483647n || v < -2147483648n) {
        throw new RangeError(`tensor '${name}': int64 value ${v} at index ${i} does not fit in int32`);
      }
      out[i] = Number(v);
    }
    return out;
  }
  const f = record.dtype === 'float16' || record.dtype === 'bfloat16' ? recordToFloat32(record) : record.data;
  return Int32Array.from(f as Float64Array, (v) => Math.trunc(v));
}
