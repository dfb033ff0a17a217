/**
 * Element types of weights files and their raw storage, plus exact float16 / bfloat16 bit conversions.
 */

/** Element type of a {@link TensorRecord}. `float16` and `bfloat16` keep their raw 16-bit patterns. */
export type DType =
  | 'float64'
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/**
 * Raw element storage of each {@link DType}: float64 Float64Array, float32 Float32Array, float16 and bfloat16
 * Uint16Array (bit patterns), int64 BigInt64Array, int32 Int32Array, int16 Int16Array, int8 Int8Array,
 * uint8 and bool Uint8Array (bool: 0 or 1).
 */
export type TensorData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

type TypedCtor = {
  new (length: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  readonly BYTES_PER_ELEMENT: number;
};

interface DTypeInfo {
  size: number;
  ctor: TypedCtor;
}

/** Per-dtype storage; a null-prototype table, so no string (`constructor`, `__proto__`) finds an inherited entry. */
const INFO: Readonly<Record<DType, DTypeInfo>> = Object.freeze(
  Object.assign(Object.create(null) as Record<DType, DTypeInfo>, {
    float64: { size: 8, ctor: Float64Array as unknown as TypedCtor },
    float32: { size: 4, ctor: Float32Array as unknown as TypedCtor },
    float16: { size: 2, ctor: Uint16Array as unknown as TypedCtor },
    bfloat16: { size: 2, ctor: Uint16Array as unknown as TypedCtor },
    int64: { size: 8, ctor: BigInt64Array as unknown as TypedCtor },
    int32: { size: 4, ctor: Int32Array as unknown as TypedCtor },
    int16: { size: 2, ctor: Int16Array as unknown as TypedCtor },
    int8: { size: 1, ctor: Int8Array as unknown as TypedCtor },
    uint8: { size: 1, ctor: Uint8Array as unknown as TypedCtor },
    bool: { size: 1, ctor: Uint8Array as unknown as TypedCtor },
  }),
);

/** Every supported {@link DType}. */
export const DTYPES: readonly DType[] = Object.keys(INFO) as DType[];

/** True when `s` names a supported {@link DType}. */
export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(INFO, s);
}

/** The table entry of `dtype`; throws for anything that is not a {@link DType} (the value may come from a file). */
function info(dtype: DType): DTypeInfo {
  if (!isDType(dtype)) throw new TypeError(`unknown dtype ${JSON.stringify(String(dtype)).slice(0, 80)}`);
  return INFO[dtype];
}

/** Bytes per element of `dtype`. Throws a TypeError for an unknown dtype. */
export function dtypeByteSize(dtype: DType): number {
  return info(dtype).size;
}

/** A zero-filled storage array of `length` elements for `dtype`. */
export function allocData(dtype: DType, length: number): TensorData {
  return new (info(dtype).ctor)(length);
}

/** True when `data` is the storage class {@link TensorData} prescribes for `dtype`. */
export function dataMatchesDType(dtype: DType, data: TensorData): boolean {
  return isDType(dtype) && data instanceof (INFO[dtype].ctor as unknown as typeof Uint8Array);
}

/**
 * A typed array of `dtype` holding a copy of `length` elements taken from `bytes` at `byteOffset`
 * (little-endian; any alignment).
 */
export function dataFromBytes(dtype: DType, bytes: Uint8Array, byteOffset: number, length: number): TensorData {
  const size = info(dtype).size;
  const out = allocData(dtype, length);
  new Uint8Array(out.buffer, out.byteOffset, length * size).set(bytes.subarray(byteOffset, byteOffset + length * size));
  if (!LITTLE_ENDIAN && size > 1) swapBytes(new Uint8Array(out.buffer, out.byteOffset, length * size), size);
  return out;
}

/**
 * A typed array of `dtype` viewing `length` elements of `bytes` at `byteOffset` without copying when the
 * position is aligned for the element size, else a copy.
 */
export function dataViewOrCopy(dtype: DType, bytes: Uint8Array, byteOffset: number, length: number): TensorData {
  const size = info(dtype).size;
  const abs = bytes.byteOffset + byteOffset;
  if (LITTLE_ENDIAN && abs % size === 0) return new INFO[dtype].ctor(bytes.buffer, abs, length);
  return dataFromBytes(dtype, bytes, byteOffset, length);
}

/** The little-endian bytes of `data` (a view when the platform is little-endian). */
export function dataToBytes(data: TensorData): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, data.BYTES_PER_ELEMENT);
  return copy;
}

/** True on little-endian platforms (all Node targets in practice). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the byte order of every `size`-byte element of `bytes`, in place. */
export function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// float16 / bfloat16 <-> float32, exact (round to nearest, ties to even; NaN stays NaN, ±Inf stays ±Inf).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
let halfTable: Float32Array | undefined;

function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  halfTable = t;
  return t;
}

/** The float16 bit pattern nearest to `value` (ties to even). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry rolls into the exponent (up to Inf): correct
  return sign | h;
}

/** The value of a float16 bit pattern. */
export function float16BitsToFloat32(bits: number): number {
  return halfToFloatTable()[bits & 0xffff]!;
}

/** The bfloat16 bit pattern nearest to `value` (ties to even). */
export function float32ToBFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) / 65536) & 0xffff;
}

/** The value of a bfloat16 bit pattern. */
export function bfloat16BitsToFloat32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

/** Float16 bit patterns of every element of `values`. */
export function encodeFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i]!);
  return out;
}

/** Float32 values of float16 bit patterns. */
export function decodeFloat16(bits: Uint16Array): Float32Array {
  const t = halfToFloatTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]!]!;
  return out;
}

/** BFloat16 bit patterns of every element of `values`. */
export function encodeBFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToBFloat16Bits(values[i]!);
  return out;
}

/** Float32 values of bfloat16 bit patterns (exact: a bfloat16 is the top half of a float32). */
export function decodeBFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const o = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) o[i] = bits[i]! << 16;
  return out;
}
