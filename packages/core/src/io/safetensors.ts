/**
 * safetensors files (https://github.com/huggingface/safetensors): reading and writing on the file system, and
 * serialization. The format itself (header validation, parsing from bytes) is in safetensors-format.ts, which
 * the browser entry shares.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';

import { atomicWriteFile, atomicWriteFileSync } from '../run/atomic.js';
import { dataMatchesDType, dataToBytes, isDType } from './dtypes.js';
import { type StateDict, type TensorRecord, isValidShape, shapeSize } from './record.js';
import { DTYPE_TO_ST, RUST_RANK, SAFETENSORS_MAX_HEADER, parseSafetensors, parseSafetensorsHeader, type SafetensorsFile, type SafetensorsHeader } from './safetensors-format.js';

export {
  SAFETENSORS_DTYPES,
  SAFETENSORS_MAX_HEADER,
  safetensorsDType,
  parseSafetensorsHeader,
  parseSafetensors,
  type SafetensorsTensorInfo,
  type SafetensorsHeader,
  type SafetensorsFile,
  type ParseSafetensorsOptions,
} from './safetensors-format.js';

/** Reads a safetensors file (the whole file; tensor data views the file buffer where aligned). */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await fsp.readFile(path), { name: path, copy: false });
}

/** Synchronous {@link readSafetensors}. */
export function readSafetensorsSync(path: string): SafetensorsFile {
  return parseSafetensors(fs.readFileSync(path), { name: path, copy: false });
}

/** Reads and validates only the header of a safetensors file (names, dtypes, shapes, metadata). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const first = Buffer.alloc(Math.min(8, size));
    fs.readSync(fd, first, 0, first.length, 0);
    if (first.length < 8) return parseSafetensorsHeader(first, size, path);
    const n = first.readBigUInt64LE(0);
    const want = n > BigInt(SAFETENSORS_MAX_HEADER) || 8n + n > BigInt(size) ? 8 : 8 + Number(n);
    const head = Buffer.alloc(want);
    fs.readSync(fd, head, 0, want, 0);
    return parseSafetensorsHeader(head, size, path);
  } finally {
    fs.closeSync(fd);
  }
}

/** Tensors to write: a state dict, `[name, record]` pairs, or a plain object. */
export type TensorsInput = StateDict | Iterable<readonly [string, TensorRecord]> | Record<string, TensorRecord>;

function entriesOf(tensors: TensorsInput): (readonly [string, TensorRecord])[] {
  if (tensors instanceof Map) return [...tensors];
  if (Symbol.iterator in (tensors as object)) return [...(tensors as Iterable<readonly [string, TensorRecord]>)];
  return Object.entries(tensors as Record<string, TensorRecord>);
}

const utf8Compare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

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
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
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

/** Writes a safetensors file atomically (temp file, fsync, rename). See {@link serializeSafetensors}. */
export async function writeSafetensors(path: string, tensors: TensorsInput, metadata?: Record<string, string>): Promise<void> {
  await atomicWriteFile(path, serializeSafetensors(tensors, metadata));
}

/** Synchronous {@link writeSafetensors}. */
export function writeSafetensorsSync(path: string, tensors: TensorsInput, metadata?: Record<string, string>): void {
  atomicWriteFileSync(path, serializeSafetensors(tensors, metadata));
}
