/**
 * A minimal zip reader (enough for PyTorch checkpoints): central directory (+ zip64), stored and deflated
 * entries, bounds checks on every offset and size (extra fields included). CRCs are not verified. A
 * deflated entry may be read in part (`read(length)` inflates only that prefix), and an entry claiming more
 * bytes than deflate can produce from its compressed size (1032:1) is refused as a lying header / zip bomb.
 */
import { constants as zlibConstants, inflateRawSync } from 'node:zlib';

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
  /**
   * The uncompressed bytes (a view into the archive for stored entries, a new buffer for deflated ones).
   * With `length`, only the first `length` bytes (at most `size`): a deflated entry is then inflated only
   * as far as needed. Throws {@link WeightsFormatError} when the data does not inflate to the size it claims.
   */
  read(length?: number): Uint8Array;
}

/** The most bytes deflate can produce per compressed byte (zlib's documented limit). */
export const DEFLATE_MAX_RATIO = 1032;

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
  try {
    return listEntries(bytes, name);
  } catch (err) {
    if (err instanceof WeightsFormatError) throw err;
    // Every offset is checked before it is read; this is a safety net so that nothing but a typed error escapes.
    throw new WeightsFormatError(name, `zip: malformed archive: ${(err as Error).message}`);
  }
}

function listEntries(bytes: Uint8Array, name: string): Map<string, ZipEntry> {
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
    // A field that overruns its record is an error when it is the zip64 one (its values matter), else the
    // scan stops there (other fields are ignored anyway, as are fewer than 4 trailing bytes).
    const extraEnd = p + 46 + nameLen + extraLen;
    for (let e = p + 46 + nameLen; e + 4 <= extraEnd; ) {
      const id = u16(e);
      const sz = u16(e + 2);
      const end = e + 4 + sz;
      if (end > extraEnd) {
        if (id === 0x0001) fail(`entry '${entryName}': zip64 extra field of ${sz} bytes at ${e} runs past the end of its record (${extraEnd})`);
        break;
      }
      if (id === 0x0001) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > end) fail(`entry '${entryName}': zip64 extra field lacks the 64-bit ${what}`);
          const v = u64(q);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localOffset === 0xffffffff) localOffset = take('local header offset');
      }
      e = end;
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
    if (method === 8 && size > compressedSize * DEFLATE_MAX_RATIO + 64) {
      fail(`entry '${entryName}' claims ${size} bytes from ${compressedSize} compressed, more than deflate can produce (a lying header or a zip bomb)`);
    }
    const raw = bytes.subarray(dataOffset, dataOffset + compressedSize);
    const read = (length?: number): Uint8Array => {
      const want = length === undefined ? size : Math.max(0, Math.min(size, Math.floor(length)));
      if (method === 0) return raw.subarray(0, want);
      if (want < size) return inflatePrefix(raw, want, (msg) => fail(`entry '${entryName}' ${msg}`));
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

/**
 * The first `want` bytes of the raw deflate stream `raw`, inflating as little of it as possible: prefixes of
 * the compressed data are inflated (sync-flushed, so an incomplete stream is not an error) with an output
 * cap of `want` + 1 MiB, growing the prefix geometrically and bisecting when the cap is hit. One compressed
 * byte yields at most ~2 KiB, so the search ends; the output never exceeds the cap.
 */
function inflatePrefix(raw: Uint8Array, want: number, fail: (msg: string) => never): Uint8Array {
  if (want === 0) return new Uint8Array(0);
  const cap = want + (1 << 20);
  const attempt = (k: number): Uint8Array | 'over' => {
    try {
      return inflateRawSync(raw.subarray(0, k), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: cap });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return 'over';
      return fail(`does not inflate: ${(err as Error).message}`);
    }
  };
  let lo = 0; // a prefix known to inflate to fewer than `want` bytes
  let hi = -1; // a prefix known to inflate past the cap (-1: none yet)
  let k = Math.min(raw.length, Math.ceil(want / DEFLATE_MAX_RATIO) + 256);
  for (;;) {
    const out = attempt(k);
    if (out !== 'over' && out.length >= want) return out.subarray(0, want);
    if (out === 'over') hi = k;
    else {
      if (k >= raw.length) fail(`inflates to ${out.length} bytes, fewer than the ${want} needed`);
      lo = k;
    }
    const next = hi < 0 ? Math.min(raw.length, 2 * k) : Math.floor((lo + hi) / 2);
    if (next <= lo || next === k) fail(`does not inflate to ${want} bytes within ${cap}`); // cannot happen for valid deflate
    k = next;
  }
}
