/**
 * A minimal zip reader (enough for PyTorch checkpoints): central directory (+ zip64), stored and deflated
 * entries, bounds checks on every offset and size. CRCs are not verified.
 */
import { inflateRawSync } from 'node:zlib';

import { WeightsFormatError } from './errors.js';

/** One file in a zip archive. */
export interface ZipEntry {
  /** Full path inside the archive. */
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  /** Uncompressed size. */
  size: number;
  /** Offset of the entry's (compressed) data in the archive. */
  dataOffset: number;
  /** The uncompressed bytes (a view into the archive for stored entries, a new buffer for deflated ones). */
  read(): Uint8Array;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOC = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

/** True when `bytes` starts like a zip archive (`PK\x03\x04` or an empty archive's `PK\x05\x06`). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6));
}

/**
 * Lists the entries of a zip archive held in memory, keyed by path (in central-directory order). `name` is
 * used in errors. Throws {@link WeightsFormatError} on a truncated or inconsistent archive.
 */
export function readZip(bytes: Uint8Array, name = '<bytes>'): Map<string, ZipEntry> {
  const fail = (msg: string): never => {
    throw new WeightsFormatError(name, `zip: ${msg}`);
  };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.length;
  const u16 = (o: number): number => dv.getUint16(o, true);
  const u32 = (o: number): number => dv.getUint32(o, true);
  const u64 = (o: number): number => {
    const v = dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`64-bit field at ${o} is too large`);
    return Number(v);
  };

  // End of central directory: the last signature within the final 22 + 65535 bytes.
  let eocd = -1;
  for (let o = len - 22; o >= Math.max(0, len - 22 - 65535); o--) {
    if (u32(o) === SIG_EOCD && o + 22 + u16(o + 20) <= len) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) fail(`no end-of-central-directory record (${len} bytes): truncated or not a zip file`);
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== SIG_EOCD64_LOC) fail('zip64 end-of-central-directory locator missing');
    const at = u64(loc + 8);
    if (at + 56 > len || u32(at) !== SIG_EOCD64) fail('zip64 end-of-central-directory record missing or out of range');
    count = u64(at + 32);
    cdSize = u64(at + 40);
    cdOffset = u64(at + 48);
  }
  if (cdOffset + cdSize > len) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) lies past the end of the file (${len} bytes)`);

  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || u32(p) !== SIG_CENTRAL) fail(`central directory entry ${i} is malformed`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    let compressedSize = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let localOffset = u32(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdOffset + cdSize) fail(`central directory entry ${i} runs past the directory`);
    const entryName = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the 64-bit values replace the 0xffffffff placeholders, in this order.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = u16(e);
      const sz = u16(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        const end = q + sz;
        if (size === 0xffffffff && q + 8 <= end) (size = u64(q)), (q += 8);
        if (compressedSize === 0xffffffff && q + 8 <= end) (compressedSize = u64(q)), (q += 8);
        if (localOffset === 0xffffffff && q + 8 <= end) localOffset = u64(q);
      }
      e += 4 + sz;
    }
    if (flags & 1) fail(`entry '${entryName}' is encrypted`);
    if (method !== 0 && method !== 8) fail(`entry '${entryName}' uses compression method ${method} (only stored and deflate are supported)`);
    if (method === 0 && compressedSize !== size) fail(`stored entry '${entryName}' has compressed size ${compressedSize} ≠ size ${size}`);
    if (localOffset + 30 > len || u32(localOffset) !== SIG_LOCAL) fail(`local header of '${entryName}' missing at offset ${localOffset}`);
    const dataOffset = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28);
    if (dataOffset + compressedSize > len) {
      fail(`entry '${entryName}' data [${dataOffset}, ${dataOffset + compressedSize}) runs past the end of the file (${len} bytes): truncated?`);
    }
    if (entries.has(entryName)) fail(`entry '${entryName}' appears twice`);
    const read = (): Uint8Array => {
      const raw = bytes.subarray(dataOffset, dataOffset + compressedSize);
      if (method === 0) return raw;
      let out: Uint8Array;
      try {
        out = inflateRawSync(raw, { maxOutputLength: Math.max(size, 1) });
      } catch (err) {
        return fail(`entry '${entryName}' does not inflate: ${(err as Error).message}`);
      }
      if (out.length !== size) fail(`entry '${entryName}' inflates to ${out.length} bytes, expected ${size}`);
      return out;
    };
    entries.set(entryName, { name: entryName, method, compressedSize, size, dataOffset, read });
    p = next;
  }
  return entries;
}
