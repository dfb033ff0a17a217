// Regression tests for hostile weights files: memo-shared pickles, expanded views, decompression bombs,
// malformed zip64 records and prototype keys. Each must end quickly in a WeightsFormatError naming the file.
import { describe, expect, it } from 'vitest';

import {
  type DType,
  PTH_EXTRA_MAX_VALUES,
  WeightsFormatError,
  dtypeByteSize,
  isDType,
  parsePth,
  parseSafetensors,
  pthDefaultMaxBytes,
  readZip,
  safetensorsDType,
  serializeSafetensors,
  makeRecord,
} from '../src/io/index.js';
import { PickleWriter, checkpoint, expectError, f32bytes, makeZipEntries, tensorPickle, zeroDeflateStream } from './io-build.js';

/** Runs `fn`, returning its result (or error) and the milliseconds it took. */
function timed<T>(fn: () => T): { result?: T; error?: unknown; ms: number } {
  const t = performance.now();
  try {
    const result = fn();
    return { result, ms: performance.now() - t };
  } catch (error) {
    return { error, ms: performance.now() - t };
  }
}

/** Peak resident memory of this process so far, in MiB. */
const peakMiB = (): number => process.resourceUsage().maxRSS / 1024;

/** A checkpoint {'w': tensor [2], '<key>': <value built by body>} with a two-float storage. */
function withExtra(key: string, body: (p: PickleWriter) => void): Uint8Array {
  const p = new PickleWriter().emptyDict().str('w').tensor(2, 0, [2], [1]).setitem().str(key);
  body(p);
  return checkpoint(p.setitem().bytes(), { '0': f32bytes([1, 2]) });
}

/**
 * Memo entries 1..depth: entry i is a list (or tuple / dict) holding entry i-1 `width` times; entry 0 is
 * `leaf`. Leaves nothing on the stack.
 */
function sharedNest(p: PickleWriter, kind: 'list' | 'tuple' | 'dict', width: number, depth: number, leaf: (p: PickleWriter) => void): void {
  leaf(p);
  p.put(0).pop();
  for (let i = 1; i <= depth; i++) {
    if (kind === 'list') p.emptyList();
    if (kind === 'dict') p.emptyDict();
    p.mark();
    for (let j = 0; j < width; j++) {
      if (kind === 'dict') p.str(`k${j}`);
      p.get(i - 1);
    }
    if (kind === 'list') p.appends();
    if (kind === 'dict') p.setitems();
    if (kind === 'tuple') p.tuple();
    p.put(i).pop();
  }
}

describe('pickle memo references share objects (bug 1): every walk is bounded', () => {
  it('a list holding the same list 4 times, 40 levels deep, in an extra entry: skipped at once', () => {
    const bytes = withExtra('cfg', (p) => {
      sharedNest(p, 'list', 4, 40, (q) => q.emptyList());
      p.get(40);
    });
    expect(bytes.length).toBeLessThan(2048);
    const { result, error, ms } = timed(() => parsePth(bytes, { name: 'nest.pth' }));
    expect(error).toBeUndefined();
    expect(result!.skipped).toEqual(['cfg']); // deeper than 17 levels: not a simple value
    expect([...result!.tensors.keys()]).toEqual(['w']);
    expect(ms).toBeLessThan(1000);
  });

  it('an extra entry that would expand past PTH_EXTRA_MAX_VALUES values is skipped, one within it kept and shared', () => {
    const big = withExtra('cfg', (p) => {
      sharedNest(p, 'list', 4, 12, (q) => q.int(7)); // 4^12 = 16.7M leaves once expanded
      p.get(12);
    });
    const { result, ms } = timed(() => parsePth(big, { name: 'wide.pth' }));
    expect(result!.skipped).toEqual(['cfg']);
    expect(ms).toBeLessThan(1000);
    expect(4 ** 12).toBeGreaterThan(PTH_EXTRA_MAX_VALUES);

    const small = parsePth(
      withExtra('cfg', (p) => {
        sharedNest(p, 'list', 2, 10, (q) => q.int(7));
        p.get(10);
      }),
    );
    const cfg = small.extra.cfg as unknown[][];
    expect(cfg).toHaveLength(2);
    expect(cfg[0]).toBe(cfg[1]); // the shared list is converted once and stays shared
    expect(JSON.stringify(cfg).match(/7/g)).toHaveLength(1024);
  });

  it('a dict holding the same dict 16 times, 8 levels deep, without tensors: the tensor search is linear', () => {
    const bytes = withExtra('junk', (p) => {
      sharedNest(p, 'dict', 16, 8, (q) => q.emptyDict());
      p.get(8);
    });
    const { result, error, ms } = timed(() => parsePth(bytes, { name: 'junk.pth' }));
    expect(error).toBeUndefined();
    expect(result!.skipped).toEqual(['junk']);
    expect(ms).toBeLessThan(1000);
  });

  it('a dict of tensors shared 8 times per level, 7 deep (2M names): a typed error, quickly', () => {
    const bytes = withExtra('junk', (p) => {
      sharedNest(p, 'dict', 8, 7, (q) => q.emptyDict().str('t').tensor(2, 0, [2], [1]).setitem());
      p.get(7);
    });
    const { error, ms } = timed(() => parsePth(bytes, { name: 'names.pth' }));
    expect(error).toBeInstanceOf(WeightsFormatError);
    expect((error as Error).message).toMatch(/^names\.pth: nested dicts expand to too many tensor names .*shared through pickle memo references/);
    expect(ms).toBeLessThan(2000);
  });

  it('a dict shared under two keys is still flattened under both names', () => {
    const p = new PickleWriter().emptyDict().put(0);
    p.str('a').emptyDict().str('w').tensor(2, 0, [2], [1]).setitem().put(1).setitem();
    p.str('b').get(1).setitem();
    const ckpt = parsePth(checkpoint(p.bytes(), { '0': f32bytes([1, 2]) }));
    expect([...ckpt.tensors.keys()]).toEqual(['a.w', 'b.w']);
    expect(ckpt.tensors.get('a.w')!.data).not.toBe(ckpt.tensors.get('b.w')!.data);
  });

  it('a dict of tensors that contains itself is a typed error', () => {
    const p = new PickleWriter().emptyDict().put(0).str('w').tensor(2, 0, [2], [1]).setitem().str('self').get(0).setitem();
    expectError(() => parsePth(checkpoint(p.bytes(), { '0': f32bytes([1, 2]) }), { name: 'cycle.pth' }), /^cycle\.pth: nested dict 'self' contains itself/);
    // A list inside itself among the extras is simply skipped.
    const q = withExtra('loop', (w) => w.emptyList().put(9).mark().get(9).appends());
    expect(parsePth(q).skipped).toEqual(['loop']);
  });

  it('a tuple dict key holding the same tuple twice, 40 deep: a typed error, quickly', () => {
    const p = new PickleWriter().emptyDict().str('w').tensor(2, 0, [2], [1]).setitem();
    sharedNest(p, 'tuple', 2, 40, (q) => q.int(1));
    p.get(40).int(5).setitem();
    const { error, ms } = timed(() => parsePth(checkpoint(p.bytes(), { '0': f32bytes([1, 2]) }), { name: 'key.pth' }));
    expect(error).toBeInstanceOf(WeightsFormatError);
    expect((error as Error).message).toMatch(/^key\.pth:archive\/data\.pkl: pickle: .*dict key \(tuple\) is (nested more than 32 deep|longer than 4096)/);
    expect(ms).toBeLessThan(1000);
  });

  it('OrderedDict keys are bounded the same way', () => {
    const p = new PickleWriter();
    sharedNest(p, 'tuple', 2, 30, (q) => q.int(1));
    // OrderedDict([(key, tensor)])
    p.global('collections', 'OrderedDict').emptyList().mark().mark().get(30).tensor(2, 0, [2], [1]).tuple().appends().raw(0x85, 0x52);
    const { error, ms } = timed(() => parsePth(checkpoint(p.bytes(), { '0': f32bytes([1, 2]) }), { name: 'od.pth' }));
    expect(error).toBeInstanceOf(WeightsFormatError);
    expect((error as Error).message).toMatch(/^od\.pth:archive\/data\.pkl: pickle: collections\.OrderedDict: a dict key \(tuple\) is longer than 4096/);
    expect(ms).toBeLessThan(1000);
  });

  it('calls whose arguments are shared through the memo are bounded in total', () => {
    // 2000 OrderedDict(pairs) calls on one memoised list of 2000 pairs: 4M entries without the bound.
    const p = new PickleWriter().emptyList().put(0).mark();
    for (let i = 0; i < 2000; i++) p.mark().int(i).int(i).tuple();
    p.appends().pop().emptyList().put(1).mark();
    for (let i = 0; i < 2000; i++) p.global('collections', 'OrderedDict').get(0).raw(0x85, 0x52);
    p.appends().pop().emptyDict().str('w').tensor(2, 0, [2], [1]).setitem();
    const { error, ms } = timed(() => parsePth(checkpoint(p.bytes(), { '0': f32bytes([1, 2]) }), { name: 'calls.pth' }));
    expect(error).toBeInstanceOf(WeightsFormatError);
    expect((error as Error).message).toMatch(/^calls\.pth:archive\/data\.pkl: pickle: calls such as collections\.OrderedDict get more than \d+ units of arguments/);
    expect(ms).toBeLessThan(1000);
  });

  it('torch.device takes only a device type and index (a shared nested list is not stringified)', () => {
    const p = new PickleWriter();
    sharedNest(p, 'list', 2, 40, (q) => q.int(1));
    p.global('torch', 'device').get(40).raw(0x85, 0x52).pop().emptyDict();
    const { error, ms } = timed(() => parsePth(checkpoint(p.bytes()), { name: 'dev.pth' }));
    expect((error as Error).message).toMatch(/^dev\.pth:archive\/data\.pkl: pickle: torch\.device: expects a device type and index, got list\/tuple/);
    expect(ms).toBeLessThan(1000);
  });

  it('a view of rank 8001 (size-1 dims) gathers in linear time', () => {
    const size = [200_000, ...new Array<number>(8000).fill(1)];
    const stride = [2, ...new Array<number>(8000).fill(1)];
    const p = new PickleWriter().emptyDict().str('w').tensor(400_000, 0, size, stride).setitem();
    const storage = new Float32Array(400_000).map((_, i) => i);
    const { result, error, ms } = timed(() => parsePth(checkpoint(p.bytes(), { '0': new Uint8Array(storage.buffer) })));
    expect(error).toBeUndefined();
    const w = result!.tensors.get('w')!;
    expect(w.shape).toHaveLength(8001);
    expect([(w.data as Float32Array)[0], (w.data as Float32Array)[199_999]]).toEqual([0, 399_998]);
    expect(ms).toBeLessThan(1000);
  });
});

describe('expanded (stride-0) views against the byte budget (bug 2)', () => {
  it('a 600-byte checkpoint expanding one float to 1 GiB is refused, naming the file and tensor', () => {
    const bytes = checkpoint(tensorPickle(1, 0, [16384, 16384], [0, 0]), { '0': f32bytes([3]) });
    expect(bytes.length).toBeLessThan(1024);
    const { error, ms } = timed(() => parsePth(bytes, { name: 'expand.pth' }));
    expect(error).toBeInstanceOf(WeightsFormatError);
    expect((error as WeightsFormatError).file).toBe('expand.pth');
    expect((error as WeightsFormatError).tensor).toBe('w');
    expect((error as Error).message).toMatch(
      /^expand\.pth: tensor 'w': materialising shape \[16384, 16384\] \(stride \[0, 0\]\) × float32 needs 1073741824 bytes, .*budget of 268435456 \(maxBytes/,
    );
    expect(ms).toBeLessThan(1000);
  });

  it('maxBytes lowers or raises the budget; small expansions read by default', () => {
    const bytes = checkpoint(tensorPickle(1, 0, [64, 64], [0, 0]), { '0': f32bytes([3]) });
    const w = parsePth(bytes).tensors.get('w')!;
    expect(w.shape).toEqual([64, 64]);
    expect((w.data as Float32Array).every((v) => v === 3)).toBe(true);
    expectError(() => parsePth(bytes, { name: 'small.pth', maxBytes: 16383 }), /^small\.pth: tensor 'w': .*needs 16384 bytes.*budget of 16383/);
    expect(parsePth(bytes, { maxBytes: 16384 }).tensors.get('w')!.data).toHaveLength(4096);
    const huge = checkpoint(tensorPickle(1, 0, [1024, 1024], [0, 0]), { '0': f32bytes([1]) });
    expect(parsePth(huge, { maxBytes: 2 ** 23 }).tensors.get('w')!.data).toHaveLength(2 ** 20);
    expectError(() => parsePth(huge, { maxBytes: 2 ** 22 - 1 }), /tensor 'w'.*budget/);
  });

  it('the budget counts every tensor of the checkpoint, and names the one that crosses it', () => {
    const p = new PickleWriter().emptyDict();
    p.str('a').tensor(1, 0, [32, 32], [0, 0]).setitem();
    p.str('b').tensor(1, 0, [32, 32], [0, 0]).setitem();
    const bytes = checkpoint(p.bytes(), { '0': f32bytes([1]) });
    expect(parsePth(bytes, { maxBytes: 8192 }).tensors.size).toBe(2);
    expectError(() => parsePth(bytes, { name: 'two.pth', maxBytes: 8191 }), /^two\.pth: tensor 'b': .*4096 already used/);
  });

  it('the default budget is max(256 MiB, 8 × the file size)', () => {
    expect(pthDefaultMaxBytes(0)).toBe(2 ** 28);
    expect(pthDefaultMaxBytes(2 ** 30)).toBe(2 ** 33);
  });
});

/** The pickle of {'w': a float32 view of storage '0' (`numel` elements)}, with 32-bit ints throughout. */
const viewPickle = (numel: number, offset: number, size: number[], stride: number[]): Uint8Array =>
  new PickleWriter().emptyDict().str('w').tensor(numel, offset, size, stride).setitem().bytes();

describe('deflated entries are inflated only as far as needed, within the budget (bug 3)', () => {
  const GiB_STREAM = zeroDeflateStream(1024); // ~1 MB of deflate data for 1 GiB of zeros
  const bombCheckpoint = (pickle: Uint8Array, storageBytes: number, deflatedPickle = false): Uint8Array =>
    makeZipEntries([
      deflatedPickle
        ? { name: 'archive/data.pkl', body: GiB_STREAM, size: 2 ** 30, method: 8 }
        : { name: 'archive/data.pkl', body: pickle, size: pickle.length, method: 0 },
      { name: 'archive/data/0', body: GiB_STREAM, size: storageBytes, method: 8 },
    ]);

  it('ZipEntry.read(length) inflates only that prefix', () => {
    const entry = readZip(bombCheckpoint(new Uint8Array(1), 2 ** 30)).get('archive/data/0')!;
    expect(entry.size).toBe(2 ** 30);
    const before = peakMiB();
    const { result, ms } = timed(() => entry.read(8));
    expect(Array.from(result!)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(ms).toBeLessThan(500);
    expect(peakMiB() - before).toBeLessThan(256);
  });

  it('a deflated storage of 1 GiB read by a 2-element view inflates a few bytes, even under a 1 MiB budget', () => {
    const bytes = bombCheckpoint(viewPickle(2 ** 28, 0, [2], [1]), 2 ** 30);
    const before = peakMiB();
    const { result, error, ms } = timed(() => parsePth(bytes, { name: 'prefix.pth', maxBytes: 2 ** 20 }));
    expect(error).toBeUndefined();
    expect(Array.from(result!.tensors.get('w')!.data as Float32Array)).toEqual([0, 0]);
    expect(ms).toBeLessThan(500);
    expect(peakMiB() - before).toBeLessThan(256);
  });

  it('a view reaching the end of a 1 GiB deflated storage is refused by the budget before inflating', () => {
    const bytes = bombCheckpoint(viewPickle(2 ** 28, 2 ** 28 - 2, [2], [1]), 2 ** 30);
    const { error, ms } = timed(() => parsePth(bytes, { name: 'bomb.pth' }));
    expect(error).toBeInstanceOf(WeightsFormatError);
    expect((error as Error).message).toMatch(/^bomb\.pth: tensor 'w': inflating storage entry 'archive\/data\/0' needs 1073741824 bytes, .*budget of 268435456/);
    expect(ms).toBeLessThan(500);
  });

  it('a deflated data.pkl of 1 GiB is refused by the budget before inflating', () => {
    const bytes = bombCheckpoint(new Uint8Array(0), 8, true);
    const { error, ms } = timed(() => parsePth(bytes, { name: 'pkl-bomb.pth' }));
    expect((error as Error).message).toMatch(/^pkl-bomb\.pth: inflating 'archive\/data\.pkl' needs 1073741824 bytes, .*budget/);
    expect(ms).toBeLessThan(500);
  });

  it('an entry claiming more than deflate can produce from its compressed size is refused', () => {
    const z = makeZipEntries([{ name: 'x', body: new Uint8Array([0x03, 0x00]), size: 1 << 20, method: 8 }]);
    expectError(() => readZip(z, 'liar.zip'), /^liar\.zip: zip: entry 'x' claims 1048576 bytes from 2 compressed, more than deflate can produce/);
  });

  it('a byteorder entry that is not a byte order is refused without reading it', () => {
    const pickle = tensorPickle(2, 0, [2], [1]);
    const z = makeZipEntries([
      { name: 'archive/data.pkl', body: pickle, size: pickle.length, method: 0 },
      { name: 'archive/byteorder', body: GiB_STREAM, size: 2 ** 30, method: 8 },
      { name: 'archive/data/0', body: f32bytes([1, 2]), size: 8, method: 0 },
    ]);
    const { error, ms } = timed(() => parsePth(z, { name: 'order.pth' }));
    expect((error as Error).message).toMatch(/^order\.pth: entry 'archive\/byteorder' is 1073741824 bytes, not a byte order/);
    expect(ms).toBeLessThan(500);
  });
});

describe('zip64 extra fields (bug 4)', () => {
  /** One stored entry 'a' ('hi') whose central record has every 32-bit field at 0xffffffff and the given extra bytes. */
  function zip64Entry(extra: number[]): Uint8Array {
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt32LE(2, 18);
    local.writeUInt32LE(2, 22);
    local.writeUInt16LE(1, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt32LE(0xffffffff, 20);
    central.writeUInt32LE(0xffffffff, 24);
    central.writeUInt16LE(1, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(0xffffffff, 42);
    const cd = Buffer.concat([central, Buffer.from('a'), Buffer.from(extra)]);
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(1, 8);
    eocd.writeUInt16LE(1, 10);
    eocd.writeUInt32LE(cd.length, 12);
    eocd.writeUInt32LE(33, 16);
    return new Uint8Array(Buffer.concat([local, Buffer.from('a'), Buffer.from('hi'), cd, eocd]));
  }

  it('a zip64 field running past the end of its record (and of the file) is a typed error naming the file', () => {
    // The field claims 24 bytes, the record holds only its 4-byte header: the values would be read past the file.
    expectError(() => readZip(zip64Entry([1, 0, 24, 0]), 'z64.zip'), /^z64\.zip: zip: entry 'a': zip64 extra field of 24 bytes at 80 runs past the end of its record \(84\)/);
  });

  it('a zip64 field lacking a value its record needs is a typed error', () => {
    expectError(() => readZip(zip64Entry([1, 0, 8, 0, 2, 0, 0, 0, 0, 0, 0, 0]), 'short.zip'), /^short\.zip: zip: entry 'a': zip64 extra field lacks the 64-bit compressed size/);
  });

  it('a well-formed zip64 record still reads', () => {
    const values = Buffer.alloc(28);
    values.writeUInt16LE(1, 0);
    values.writeUInt16LE(24, 2);
    values.writeBigUInt64LE(2n, 4);
    values.writeBigUInt64LE(2n, 12);
    values.writeBigUInt64LE(0n, 20);
    expect(Buffer.from(readZip(zip64Entry([...values])).get('a')!.read()).toString()).toBe('hi');
  });
});

describe('user strings never index a prototype (bug 5)', () => {
  const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
  const header = (dtype: string) => {
    const json = Buffer.from(`{"a":{"dtype":${JSON.stringify(dtype)},"shape":[1],"data_offsets":[0,4]}}`);
    const out = new Uint8Array(8 + json.length + 4);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  };

  it.each(PROTO_NAMES)('safetensors dtype %s is an unknown dtype, naming the file and tensor', (name) => {
    expectError(() => parseSafetensors(header(name), { name: 'proto.safetensors' }), new RegExp(`^proto\\.safetensors: tensor 'a': unknown dtype "${name}"`));
    expect(safetensorsDType(name)).toBeUndefined();
  });

  it("metadata and tensors named '__proto__' or 'constructor' are ordinary names", () => {
    const json = Buffer.from('{"__metadata__":{"__proto__":"x","constructor":"y"},"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    const bytes = new Uint8Array(8 + json.length + 4);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    const file = parseSafetensors(bytes);
    expect(Object.getOwnPropertyDescriptor(file.metadata, '__proto__')?.value).toBe('x');
    expect(Object.getPrototypeOf(file.metadata)).toBe(Object.prototype);
    expect(file.metadata.constructor).toBe('y');
    expect([...file.tensors.keys()]).toEqual(['__proto__']);
    const again = parseSafetensors(serializeSafetensors(file.tensors, file.metadata));
    expect(Object.getOwnPropertyDescriptor(again.metadata, '__proto__')?.value).toBe('x');
    expect([...again.tensors.keys()]).toEqual(['__proto__']);
  });

  it.each(PROTO_NAMES)('a record of dtype %s is an unknown dtype everywhere, never a TypeError from a lookup', (name) => {
    const r = { dtype: name as DType, shape: [1], data: new Float32Array(1) };
    expect(() => serializeSafetensors({ w: r })).toThrow(new RegExp(`tensor 'w': unknown dtype ${name.replace(/[$]/g, '\\$&')}`));
    expect(isDType(name)).toBe(false);
    expect(() => dtypeByteSize(name as DType)).toThrow(/unknown dtype/);
    expect(() => makeRecord(name as DType, [1])).toThrow(/makeRecord: unknown dtype/);
  });

  it(".pth dict keys and storage keys such as '__proto__' are ordinary names", () => {
    const p = new PickleWriter().emptyDict();
    p.str('constructor').tensor(2, 0, [2], [1], '__proto__').setitem();
    p.str('__proto__').int(3).setitem();
    const storages: Record<string, Uint8Array> = {};
    Object.defineProperty(storages, '__proto__', { value: f32bytes([1, 2]), enumerable: true });
    const ckpt = parsePth(checkpoint(p.bytes(), storages));
    expect([...ckpt.tensors.keys()]).toEqual(['constructor']);
    expect(Object.getOwnPropertyDescriptor(ckpt.extra, '__proto__')?.value).toBe(3);
  });
});
