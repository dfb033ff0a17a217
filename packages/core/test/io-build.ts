// Builders of small zip archives, pickles and .pth checkpoints for the weights-I/O tests.
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';

import { expect } from 'vitest';

import { WeightsFormatError } from '../src/io/index.js';

/** One entry of {@link makeZipEntries}: stored bytes, or a ready deflate stream with the size it claims. */
export interface ZipSpec {
  name: string;
  /** The entry's data as written: the content (method 0) or a raw deflate stream (method 8). */
  body: Uint8Array;
  /** Uncompressed size recorded in the headers. */
  size: number;
  method: 0 | 8;
}

/** Builds a stored (or deflated) zip archive in memory; `zip64` puts every size and offset in zip64 records. */
export function makeZip(files: Record<string, Uint8Array | string>, deflate = false, zip64 = false): Uint8Array {
  return makeZipEntries(
    Object.entries(files).map(([name, content]) => {
      const data = Buffer.from(content);
      return { name, body: deflate ? deflateRawSync(data) : data, size: data.length, method: deflate ? 8 : 0 };
    }),
    zip64,
  );
}

/** Builds a zip archive from entries whose bodies are given as written (see {@link ZipSpec}). */
export function makeZipEntries(specs: readonly ZipSpec[], zip64 = false): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, body, size, method } of specs) {
    const nameBuf = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(zip64 ? 0xffffffff : body.length, 20);
    central.writeUInt32LE(zip64 ? 0xffffffff : size, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
    const extra = Buffer.alloc(zip64 ? 28 : 0);
    if (zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(size), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
      central.writeUInt16LE(28, 30);
    }
    locals.push(local, nameBuf, Buffer.from(body));
    centrals.push(central, nameBuf, extra);
    offset += 30 + nameBuf.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const count = specs.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(zip64 ? 0xffff : count, 8);
  eocd.writeUInt16LE(zip64 ? 0xffff : count, 10);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(zip64 ? 0xffffffff : offset, 16);
  if (!zip64) return new Uint8Array(Buffer.concat([...locals, cd, eocd]));
  const rec = Buffer.alloc(56);
  rec.writeUInt32LE(0x06064b50, 0);
  rec.writeBigUInt64LE(44n, 4);
  rec.writeBigUInt64LE(BigInt(count), 24);
  rec.writeBigUInt64LE(BigInt(count), 32);
  rec.writeBigUInt64LE(BigInt(cd.length), 40);
  rec.writeBigUInt64LE(BigInt(offset), 48);
  const loc = Buffer.alloc(20);
  loc.writeUInt32LE(0x07064b50, 0);
  loc.writeBigUInt64LE(BigInt(offset + cd.length), 8);
  loc.writeUInt32LE(1, 16);
  return new Uint8Array(Buffer.concat([...locals, cd, rec, loc, eocd]));
}

/**
 * A raw deflate stream of `mib` MiB of zero bytes, built without holding them: one sync-flushed chunk of
 * 1 MiB of zeros (its back-references only ever see zeros) repeated, then an empty final block.
 */
export function zeroDeflateStream(mib: number): Uint8Array {
  const chunk = deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return new Uint8Array(Buffer.concat([...new Array<Buffer>(mib).fill(chunk), Buffer.from([0x03, 0x00])]));
}

/** Pickle bytes from a list of opcode chunks (strings are latin-1). */
export const pkl = (...parts: (string | number[])[]): Uint8Array =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))));
export const binunicode = (s: string): number[] => {
  const b = Buffer.from(s);
  return [0x58, b.length & 255, (b.length >> 8) & 255, 0, 0, ...b];
};

/** A one-tensor checkpoint whose pickle we control. */
export function checkpoint(pickle: Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Record<string, Uint8Array | string> = { 'archive/data.pkl': pickle, 'archive/version': '3\n' };
  for (const [k, v] of Object.entries(storages)) files[`archive/data/${k}`] = v;
  return makeZip(files);
}

/** pickle of {'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', numel), offset, size, stride, False, OrderedDict())} */
export function tensorPickle(numel: number, offset: number, size: number[], stride: number[], storageClass = 'FloatStorage'): Uint8Array {
  const tuple = (xs: number[]) => ['(', ...xs.map((x) => [0x4a, x & 255, (x >> 8) & 255, (x >> 16) & 255, (x >>> 24) & 255]), 't'] as (string | number[])[];
  return pkl(
    [0x80, 2],
    '}',
    binunicode('w'),
    'ctorch._utils\n_rebuild_tensor_v2\n',
    '(',
    '(',
    binunicode('storage'),
    `ctorch\n${storageClass}\n`,
    binunicode('0'),
    binunicode('cpu'),
    [0x4a, numel & 255, (numel >> 8) & 255, 0, 0],
    't',
    'Q',
    [0x4a, offset, 0, 0, 0],
    ...tuple(size),
    ...tuple(stride),
    [0x89],
    'ccollections\nOrderedDict\n',
    ')',
    'R',
    't',
    'R',
    's',
    '.',
  );
}

export const f32bytes = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

export function expectError(fn: () => unknown, ...res: RegExp[]): WeightsFormatError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(WeightsFormatError);
  for (const re of res) expect((err as Error).message).toMatch(re);
  return err as WeightsFormatError;
}

/**
 * A small pickle writer for hand-built (and hostile) pickles: each method appends one opcode and returns the
 * writer. `bytes()` ends with STOP.
 */
export class PickleWriter {
  private readonly out: number[] = [0x80, 2];

  raw(...bytes: number[]): this {
    for (const b of bytes) this.out.push(b);
    return this;
  }
  text(s: string): this {
    return this.raw(...Buffer.from(s, 'latin1'));
  }
  str(s: string): this {
    return this.raw(...binunicode(s));
  }
  int(n: number): this {
    return this.raw(0x4a, n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255);
  }
  /** LONG_BINPUT i (memoise the top of the stack). */
  put(i: number): this {
    return this.raw(0x72, i & 255, (i >> 8) & 255, (i >> 16) & 255, (i >>> 24) & 255);
  }
  /** LONG_BINGET i (push memo entry i). */
  get(i: number): this {
    return this.raw(0x6a, i & 255, (i >> 8) & 255, (i >> 16) & 255, (i >>> 24) & 255);
  }
  pop(): this {
    return this.raw(0x30);
  }
  mark(): this {
    return this.raw(0x28);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  /** SETITEM (dict, key, value → dict). */
  setitem(): this {
    return this.raw(0x73);
  }
  /** SETITEMS (dict, MARK, k, v, … → dict). */
  setitems(): this {
    return this.raw(0x75);
  }
  /** APPENDS (list, MARK, x, … → list). */
  appends(): this {
    return this.raw(0x65);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  global(module: string, name: string): this {
    return this.text(`c${module}\n${name}\n`);
  }
  /** Pushes `_rebuild_tensor_v2(('storage', <cls>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`. */
  tensor(numel: number, offset: number, size: number[], stride: number[], key = '0', storageClass = 'FloatStorage'): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', storageClass).str(key).str('cpu').int(numel).tuple().raw(0x51);
    this.int(offset).mark();
    for (const s of size) this.int(s);
    this.tuple().mark();
    for (const s of stride) this.int(s);
    this.tuple().raw(0x89).global('collections', 'OrderedDict').raw(0x29, 0x52);
    return this.tuple().raw(0x52);
  }
  bytes(): Uint8Array {
    return new Uint8Array([...this.out, 0x2e]);
  }
}
