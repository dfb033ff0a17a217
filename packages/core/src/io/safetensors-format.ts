/**
 * safetensors from and to bytes, with no file system (browser-safe; the file functions are in safetensors.ts)
 * (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON header (`{"__metadata__": {..}, "name": {"dtype", "shape", "data_offsets"}}`,
 * space-padded to a multiple of 8), then the tensor bytes. Reading validates everything the Rust reference
 * validates; writing produces the same bytes as the Rust reference (tensor order: dtype alignment
 * descending, then name; compact JSON; space padding).
 */
import { type DType, dataMatchesDType, dataToBytes, dataViewOrCopy, dataFromBytes, dtypeByteSize, isDType } from './dtypes.js';
import { WeightsFormatError } from './errors.js';
import { type StateDict, type TensorRecord, isValidShape, shapeSize } from './record.js';

/**
 * safetensors dtype names and the {@link DType} each maps to (a frozen null-prototype table: look names up
 * with an own-property check, as {@link safetensorsDType} does).
 */
export const SAFETENSORS_DTYPES: Readonly<Record<string, DType>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, DType>, {
    F64: 'float64',
    F32: 'float32',
    F16: 'float16',
    BF16: 'bfloat16',
    I64: 'int64',
    I32: 'int32',
    I16: 'int16',
    I8: 'int8',
    U8: 'uint8',
    BOOL: 'bool',
  }),
);

const ST_TO_DTYPE = new Map<string, DType>(Object.entries(SAFETENSORS_DTYPES));
const DTYPE_TO_ST = new Map<DType, string>([...ST_TO_DTYPE].map(([k, v]) => [v, k]));

/** The {@link DType} of a safetensors dtype name (`F32` → `float32`), or undefined for any other string. */
export function safetensorsDType(name: string): DType | undefined {
  return ST_TO_DTYPE.get(name);
}

/** Valid safetensors dtypes this reader does not convert. */
const KNOWN_UNSUPPORTED = new Set(['U16', 'U32', 'U64', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);

/** Rank of each dtype in the Rust reference's `Dtype` enum; tensors are written in descending rank. */
const RUST_RANK = new Map<DType, number>([
  ['bool', 0],
  ['uint8', 1],
  ['int8', 2],
  ['int16', 5],
  ['float16', 7],
  ['bfloat16', 8],
  ['int32', 9],
  ['float32', 11],
  ['float64', 12],
  ['int64', 13],
]);

/** Same limit as the Rust reference (`MAX_HEADER_SIZE`). */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

/** One header entry: where a tensor's bytes are, relative to the start of the data section. */
export interface SafetensorsTensorInfo {
  dtype: DType;
  shape: number[];
  /** `[begin, end)` byte offsets relative to the start of the data section. */
  dataOffsets: [number, number];
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  /** The `__metadata__` map (empty when absent). */
  metadata: Record<string, string>;
  /** Tensor entries in data order. */
  tensors: Map<string, SafetensorsTensorInfo>;
  /** Byte offset of the data section in the file (8 + header length). */
  dataStart: number;
}

/** The contents of a safetensors file. */
export interface SafetensorsFile {
  /** Tensors in data order. */
  tensors: StateDict;
  /** The `__metadata__` map (empty when absent). */
  metadata: Record<string, string>;
}

/** Options of {@link parseSafetensors}. */
export interface ParseSafetensorsOptions {
  /** Name used in errors (default `<bytes>`). */
  name?: string;
  /**
   * Copy tensor data out of `bytes` (default true). With false, records view `bytes` directly wherever the
   * data is aligned for its element type (the Rust writer's layout always is), saving a copy.
   */
  copy?: boolean;
}

/** Sets an own enumerable property, even for keys such as `__proto__`. */
function setOwn(obj: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses and validates a safetensors header from `head` (the first bytes of the file, at least 8 + N of them),
 * for a file of `fileSize` bytes.
 */
export function parseSafetensorsHeader(head: Uint8Array, fileSize: number, name = '<bytes>'): SafetensorsHeader {
  const fail = (msg: string, tensor?: string): never => {
    throw new WeightsFormatError(name, msg, tensor);
  };
  if (fileSize < 8 || head.length < 8) {
    fail(`truncated: ${fileSize} bytes, but a safetensors file starts with an 8-byte header length`);
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(SAFETENSORS_MAX_HEADER)) fail(`header length ${n64} is larger than the ${SAFETENSORS_MAX_HEADER}-byte limit (not a safetensors file?)`);
  const n = Number(n64);
  if (8 + n > fileSize) fail(`header length ${n} runs past the end of the file (${fileSize} bytes): truncated or not a safetensors file`);
  if (head.length < 8 + n) fail(`need ${8 + n} header bytes, got ${head.length}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header must be a JSON object starting with '{' (starts with ${JSON.stringify(text.slice(0, 16))})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(json)) return fail('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const infos: [string, SafetensorsTensorInfo][] = [];
  for (const [key, value] of Object.entries(json)) {
    if (key === '__metadata__') {
      if (!isObject(value)) fail('__metadata__ must be an object of strings');
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail(`__metadata__ value of '${mk}' is ${String(JSON.stringify(mv)).slice(0, 64)}, not a string`);
        setOwn(metadata, mk, mv as string); // an own property even for '__proto__'
      }
      continue;
    }
    if (!isObject(value)) fail('header entry is not an object', key);
    const { dtype: st, shape, data_offsets: offs } = value as Record<string, unknown>;
    if (typeof st !== 'string') return fail('missing or non-string dtype', key);
    const dtype = ST_TO_DTYPE.get(st);
    if (dtype === undefined) {
      fail(KNOWN_UNSUPPORTED.has(st) ? `dtype ${st} is not supported by this reader` : `unknown dtype ${JSON.stringify(st.slice(0, 64))}`, key);
    }
    if (!isValidShape(shape)) fail(`invalid shape ${JSON.stringify(shape)}`, key);
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0) ||
      (offs[0] as number) > (offs[1] as number)
    ) {
      fail(`invalid data_offsets ${JSON.stringify(offs)}`, key);
    }
    const [begin, end] = offs as [number, number];
    const numel = shapeSize(shape as number[]);
    const want = numel * dtypeByteSize(dtype!);
    if (!Number.isSafeInteger(want) || want !== end - begin) {
      fail(`shape [${(shape as number[]).join(', ')}] × ${st} needs ${want} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`, key);
    }
    infos.push([key, { dtype: dtype!, shape: [...(shape as number[])], dataOffsets: [begin, end] }]);
  }

  const dataLength = fileSize - 8 - n;
  for (const [key, info] of infos) {
    if (info.dataOffsets[1] > dataLength) {
      fail(`data_offsets [${info.dataOffsets.join(', ')}] run past the end of the data (${dataLength} bytes): file truncated?`, key);
    }
  }
  infos.sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let prevEnd = 0;
  let prevName: string | undefined;
  for (const [key, info] of infos) {
    const [begin] = info.dataOffsets;
    if (begin < prevEnd) fail(`data_offsets [${info.dataOffsets.join(', ')}] overlap tensor '${prevName}' (which ends at ${prevEnd})`, key);
    if (begin > prevEnd) fail(`data_offsets [${info.dataOffsets.join(', ')}] leave a gap: bytes ${prevEnd}..${begin} belong to no tensor`, key);
    prevEnd = info.dataOffsets[1];
    prevName = key;
  }
  if (prevEnd !== dataLength) fail(`${dataLength - prevEnd} trailing bytes after the last tensor's data (data section ${dataLength} bytes, tensors cover ${prevEnd})`);
  return { metadata, tensors: new Map(infos), dataStart: 8 + n };
}

/** Parses a whole safetensors file held in memory. Throws {@link WeightsFormatError} on any inconsistency. */
export function parseSafetensors(bytes: Uint8Array, options: ParseSafetensorsOptions = {}): SafetensorsFile {
  const name = options.name ?? '<bytes>';
  const header = parseSafetensorsHeader(bytes, bytes.length, name);
  const tensors: StateDict = new Map();
  for (const [key, info] of header.tensors) {
    const numel = shapeSize(info.shape);
    const at = header.dataStart + info.dataOffsets[0];
    const data = options.copy === false ? dataViewOrCopy(info.dtype, bytes, at, numel) : dataFromBytes(info.dtype, bytes, at, numel);
    tensors.set(key, { dtype: info.dtype, shape: info.shape, data });
  }
  return { tensors, metadata: header.metadata };
}

/** Tensors to write: a state dict, `[name, record]` pairs, or a plain object. */
export type TensorsInput = StateDict | Iterable<readonly [string, TensorRecord]> | Record<string, TensorRecord>;

function entriesOf(tensors: TensorsInput): (readonly [string, TensorRecord])[] {
  if (tensors instanceof Map) return [...tensors];
  if (Symbol.iterator in (tensors as object)) return [...(tensors as Iterable<readonly [string, TensorRecord]>)];
  return Object.entries(tensors as Record<string, TensorRecord>);
}

const utf8 = new TextEncoder();

/** Orders strings by their UTF-8 bytes (as Rust compares `String`s). */
function utf8Compare(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/**
 * Serializes tensors (and an optional string→string metadata map) to safetensors bytes. Output is
 * deterministic and byte-identical to the Rust reference: tensors ordered by dtype (widest first, as the Rust
 * `Dtype` enum orders them) then name, compact JSON header with `__metadata__` first (keys sorted), padded with
 * spaces to a multiple of 8 bytes. Throws when a record is inconsistent or a name repeats.
 */
export function serializeSafetensors(tensors: TensorsInput, metadata?: Record<string, string>): Uint8Array {
  const entries = entriesOf(tensors);
  const seen = new Set<string>();
  for (const [name, r] of entries) {
    if (name === '__metadata__') throw new Error(`safetensors: '__metadata__' cannot be a tensor name`);
    if (seen.has(name)) throw new Error(`safetensors: tensor '${name}' appears twice`);
    seen.add(name);
    if (!isDType(r.dtype) || !DTYPE_TO_ST.has(r.dtype)) throw new Error(`safetensors: tensor '${name}': unknown dtype ${String(r.dtype)}`);
    if (!isValidShape(r.shape)) throw new Error(`safetensors: tensor '${name}': invalid shape [${String(r.shape)}]`);
    if (!dataMatchesDType(r.dtype, r.data)) throw new Error(`safetensors: tensor '${name}': ${String(r.data?.constructor?.name)} is not the storage of ${r.dtype}`);
    if (r.data.length !== shapeSize(r.shape)) {
      throw new Error(`safetensors: tensor '${name}': ${r.data.length} elements for shape [${r.shape.join(', ')}]`);
    }
  }
  entries.sort((a, b) => RUST_RANK.get(b[1].dtype)! - RUST_RANK.get(a[1].dtype)! || utf8Compare(a[0], b[0]));

  // JSON object keys that look like array indices ("0", "1") would be reordered by JS objects, so build the
  // JSON text of the tensor entries by hand in entry order.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const m = Object.create(null) as Record<string, string>; // a '__proto__' key stays an ordinary key
    for (const k of Object.keys(metadata).sort(utf8Compare)) {
      const v = Object.getOwnPropertyDescriptor(metadata, k)?.value as unknown;
      if (typeof v !== 'string') throw new Error(`safetensors: metadata value of '${k}' is not a string`);
      m[k] = v;
    }
    parts.push(`"__metadata__":${JSON.stringify(m)}`);
  }
  let offset = 0;
  for (const [name, r] of entries) {
    const len = r.data.byteLength;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${DTYPE_TO_ST.get(r.dtype)!}","shape":[${r.shape.join(',')}],"data_offsets":[${offset},${offset + len}]}`,
    );
    offset += len;
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const n = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const [, r] of entries) {
    out.set(dataToBytes(r.data), at);
    at += r.data.byteLength;
  }
  return out;
}
