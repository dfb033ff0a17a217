import fs from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  PyObject,
  TORCH_PICKLE_GLOBALS,
  TorchStorageRef,
  WeightsFormatError,
  isZip,
  parsePth,
  readPth,
  readPthSync,
  readZip,
  unpickle,
} from '../src/io/index.js';
import { expectRecordEquals, expected, fixture } from './fixtures/expected.js';
import { binunicode, checkpoint, expectError, f32bytes, makeZip, pkl, tensorPickle } from './io-build.js';

describe('.pth golden fixtures (written by torch.save)', () => {
  const goldens = Object.keys(expected).filter((k) => k.endsWith('.pth'));

  it.each(goldens)('%s', async (name) => {
    const want = expected[name]!;
    const ckpt = await readPth(fixture(name));
    expect(new Set(ckpt.tensors.keys())).toEqual(new Set(Object.keys(want.tensors)));
    for (const [t, w] of Object.entries(want.tensors)) expectRecordEquals(ckpt.tensors.get(t), w, `${name}:${t}`);
    expect(ckpt.path).toEqual(want.path);
    expect(ckpt.extra).toEqual(want.extra);
  });

  it('keeps pickle (insertion) order of a module state_dict', () => {
    const ckpt = readPthSync(fixture('ordered.pth'));
    expect([...ckpt.tensors.keys()]).toEqual([
      '0.weight',
      '0.bias',
      '1.weight',
      '1.bias',
      '1.running_mean',
      '1.running_var',
      '1.num_batches_tracked',
      '2.weight',
    ]);
    expect(ckpt.tensors.get('1.num_batches_tracked')).toMatchObject({ dtype: 'int64', shape: [] });
  });

  it('reports skipped top-level entries (the optimizer state) and accepts an explicit key path', () => {
    const ckpt = readPthSync(fixture('nested-model.pth'));
    expect(ckpt.skipped).toEqual(['optimizer']);
    const twice = readPthSync(fixture('nested-twice.pth'), { key: ['model', 'module'] });
    expect(twice.path).toEqual(['model', 'module']);
    expect(twice.tensors.size).toBe(3);
    expectError(() => readPthSync(fixture('nested-model.pth'), { key: 'ema' }), /no dict at key path \[ema\].*keys there: model, optimizer/);
  });

  it('reads storages shared between tensors once and copies views apart', () => {
    const ckpt = readPthSync(fixture('views.pth'));
    const a = ckpt.tensors.get('shared_a')!;
    const b = ckpt.tensors.get('shared_b')!;
    expect(Array.from(b.data as Float32Array)).toEqual([3, 4, 5, 6]);
    expect(a.data.buffer).not.toBe(b.data.buffer);
  });

  it('reads deflated entries like stored ones', () => {
    const stored = readPthSync(fixture('dtypes.pth')).tensors;
    const deflated = readPthSync(fixture('deflate.pth')).tensors;
    expect(readZip(fs.readFileSync(fixture('deflate.pth'))).get('dtypes/data.pkl')!.method).toBe(8);
    expect([...deflated.keys()]).toEqual([...stored.keys()]);
    for (const [k, r] of stored) expect(deflated.get(k)).toEqual(r);
  });
});

describe('.pth rejects what it must', () => {
  it('rejects a pickle that calls os.system, naming the global, without running it', () => {
    const err = expectError(() => readPthSync(fixture('malicious.pth')), /global '(posix|os)\.system' is not allowed/, /malicious\.pth/);
    expect(err.file).toContain('malicious.pth');
    expect(fs.existsSync('/tmp/flux-pwned')).toBe(false);
  });

  it.each([
    ['os', 'system'],
    ['builtins', 'eval'],
    ['builtins', 'exec'],
    ['numpy.core.multiarray', '_reconstruct'],
    ['torch', 'load'],
    ['subprocess', 'Popen'],
  ])('rejects GLOBAL %s.%s', (mod, name) => {
    const bytes = pkl([0x80, 2], `c${mod}\n${name}\n`, binunicode('echo hi'), [0x85], 'R', '.');
    expectError(() => unpickle(bytes, { globals: TORCH_PICKLE_GLOBALS }), new RegExp(`global '${mod}\\.${name}' is not allowed`), /GLOBAL at byte 2/);
  });

  it('rejects STACK_GLOBAL of a disallowed name (protocol 4)', () => {
    const bytes = pkl([0x80, 4], [0x8c, 8], 'builtins', [0x8c, 4], 'eval', [0x93], '.');
    expectError(() => unpickle(bytes, { globals: TORCH_PICKLE_GLOBALS }), /global 'builtins\.eval' is not allowed/, /STACK_GLOBAL/);
  });

  it('rejects INST / OBJ and other unsupported opcodes', () => {
    expectError(() => unpickle(pkl('(', 'ios\nsystem\n', '.'), { globals: TORCH_PICKLE_GLOBALS }), /unsupported opcode \(opcode INST at byte 1\)/);
    expectError(() => unpickle(pkl('(', 'o', '.'), { globals: TORCH_PICKLE_GLOBALS }), /opcode OBJ/);
    expectError(() => unpickle(pkl([0x82, 1], '.'), { globals: TORCH_PICKLE_GLOBALS }), /opcode EXT1/);
    expectError(() => unpickle(pkl([0xff]), { globals: TORCH_PICKLE_GLOBALS }), /unsupported opcode 0xff/);
  });

  it('rejects calling a marker-only global and misuse of allowed ones', () => {
    expectError(() => unpickle(pkl('ctorch\nFloatStorage\n', ')', 'R', '.'), { globals: TORCH_PICKLE_GLOBALS }), /'torch\.FloatStorage' is allowed only as a value/);
    expectError(
      () => unpickle(pkl('ctorch._utils\n_rebuild_tensor_v2\n', ')', 'R', '.'), { globals: TORCH_PICKLE_GLOBALS }),
      /torch\._utils\._rebuild_tensor_v2: expects a storage, got undefined/,
    );
  });

  it('rejects truncated and malformed pickles', () => {
    expectError(() => unpickle(pkl([0x80, 2], '}', [0x58, 100, 0, 0, 0], 'ab'), { globals: {} }), /truncated: needs 100 more bytes/);
    expectError(() => unpickle(pkl([0x80, 2], '}'), { globals: {} }), /truncated/);
    expectError(() => unpickle(pkl('s', '.'), { globals: {} }), /stack underflow/);
    expectError(() => unpickle(pkl('h', [3], '.'), { globals: {} }), /memo entry 3 is undefined/);
    expectError(() => unpickle(pkl('N', 'N', '.'), { globals: {} }), /stack holds 2 values at STOP/);
    expectError(() => unpickle(pkl('Q', '.'), { globals: {} }), /stack underflow/);
    expectError(() => unpickle(pkl('N', 'Q', '.'), { globals: {} }), /persistent ids are not supported/);
  });

  it('rejects the legacy (non-zip) format with a clear message', () => {
    expectError(() => readPthSync(fixture('legacy.pth')), /legacy\.pth: is in the legacy \(pre-1\.6, non-zip\) torch\.save format/);
    expectError(() => parsePth(new Uint8Array([1, 2, 3]), { name: 'x.bin' }), /x\.bin: is not a PyTorch zip checkpoint/);
  });

  it('names the missing archive entry and the tensor that needs it', () => {
    expectError(
      () => readPthSync(fixture('missing-entry.pth')),
      /missing-entry\.pth: tensor '[^']+': storage entry 'dtypes\/data\/0' is missing from the archive/,
    );
  });

  it('rejects truncated archives and entries', () => {
    const bytes = fs.readFileSync(fixture('dtypes.pth'));
    expectError(() => parsePth(bytes.subarray(0, bytes.length - 30), { name: 'cut.pth' }), /cut\.pth: zip: no end-of-central-directory record/);
    // Keep the central directory but cut the data in the middle: the directory points past the end.
    const z = makeZip({ 'archive/data.pkl': tensorPickle(2, 0, [2], [1]), 'archive/data/0': f32bytes([1, 2]) });
    const cd = readZip(z);
    const e = cd.get('archive/data/0')!;
    const lying = new Uint8Array(z);
    new DataView(lying.buffer).setUint32(lying.length - 22 + 16, lying.length + 100, true);
    expectError(() => parsePth(lying, { name: 'lying.pth' }), /central directory .* past the end/);
    expect(e.size).toBe(8);
  });

  it('rejects a storage smaller than its numel and views reaching past the storage', () => {
    expectError(
      () => parsePth(checkpoint(tensorPickle(4, 0, [4], [1]), { '0': f32bytes([1, 2, 3]) }), { name: 'short.pth' }),
      /short\.pth: tensor 'w': storage entry 'archive\/data\/0' has 12 bytes, but 4 × float32 need 16/,
    );
    expectError(
      () => parsePth(checkpoint(tensorPickle(4, 2, [2, 2], [2, 1]), { '0': f32bytes([1, 2, 3, 4]) }), { name: 'reach.pth' }),
      /tensor 'w': view \(offset 2, size \[2, 2\], stride \[2, 1\]\) reaches element 5 of storage '0', which has 4/,
    );
  });

  it('rejects an unsupported storage class by name', () => {
    expectError(
      () => parsePth(checkpoint(tensorPickle(2, 0, [2], [1], 'ComplexFloatStorage'), { '0': f32bytes([1, 2, 3, 4]) })),
      /global 'torch\.ComplexFloatStorage' is not allowed/,
    );
  });

  it('rejects a checkpoint without tensors, or whose root is not a dict', () => {
    expectError(() => parsePth(checkpoint(pkl([0x80, 2], '}', binunicode('epoch'), 'K', [3], 's', '.'))), /no tensors found \(top-level keys: epoch\)/);
    expectError(() => parsePth(checkpoint(pkl([0x80, 2], ']', '.'))), /root object is a list\/tuple/);
    expectError(() => parsePth(makeZip({ 'x/other.bin': 'hi' })), /no <archive>\/data\.pkl entry/);
  });
});

describe('.pth building blocks', () => {
  it('reads a hand-built checkpoint, strided and offset', () => {
    const ckpt = parsePth(checkpoint(tensorPickle(6, 1, [2, 2], [1, 2]), { '0': f32bytes([0, 1, 2, 3, 4, 5]) }));
    // element (i, j) = storage[1 + i + 2j]
    expect(Array.from(ckpt.tensors.get('w')!.data as Float32Array)).toEqual([1, 3, 2, 4]);
  });

  it('reads zip64 archives (64-bit sizes, offsets and counts)', () => {
    const files = { 'archive/data.pkl': tensorPickle(2, 0, [2], [1]), 'archive/data/0': f32bytes([5, 6]) };
    for (const deflate of [false, true]) {
      const z = makeZip(files, deflate, true);
      const e = readZip(z).get('archive/data/0')!;
      expect([e.size, e.method]).toEqual([8, deflate ? 8 : 0]);
      expect(Array.from(parsePth(z).tensors.get('w')!.data as Float32Array)).toEqual([5, 6]);
    }
    const broken = makeZip(files, false, true);
    broken.set([0, 0, 0, 0], broken.length - 22 - 20); // destroy the zip64 locator
    expectError(() => readZip(broken, 'z64.pth'), /z64\.pth: zip: zip64 end-of-central-directory locator missing/);
  });

  it('reads a deflated hand-built checkpoint and the zip reader checks sizes', () => {
    const z = makeZip({ 'archive/data.pkl': tensorPickle(2, 0, [2], [1]), 'archive/data/0': f32bytes([7, 8]) }, true);
    expect(isZip(z)).toBe(true);
    expect(Array.from(parsePth(z).tensors.get('w')!.data as Float32Array)).toEqual([7, 8]);
    // Lie about the uncompressed size in the central directory.
    const lying = new Uint8Array(z);
    const dv = new DataView(lying.buffer);
    const cdStart = dv.getUint32(lying.length - 22 + 16, true);
    dv.setUint32(cdStart + 24, 3, true);
    expectError(() => parsePth(lying, { name: 'bomb.pth' }), /bomb\.pth: zip: entry 'archive\/data\.pkl' does not inflate|inflates to/);
  });

  it('accepts allowed-as-opaque globals without running them, and leaves them out of extra', () => {
    const bytes = checkpoint(
      pkl(
        [0x80, 2],
        '}',
        '(',
        binunicode('args'),
        'cargparse\nNamespace\n',
        ')',
        'R',
        '}',
        binunicode('lr'),
        'G',
        [0x3f, 0x50, 0x62, 0x4d, 0xd2, 0xf1, 0xa9, 0xfc],
        's',
        'b',
        binunicode('w'),
        'ctorch._utils\n_rebuild_tensor_v2\n',
        '(',
        '(',
        binunicode('storage'),
        'ctorch\nFloatStorage\n',
        binunicode('0'),
        binunicode('cpu'),
        'K',
        [1],
        't',
        'Q',
        'K',
        [0],
        'K',
        [1],
        [0x85],
        'K',
        [1],
        [0x85],
        [0x89],
        'ccollections\nOrderedDict\n',
        ')',
        'R',
        't',
        'R',
        'u',
        '.',
      ),
      { '0': f32bytes([42]) },
    );
    expectError(() => parsePth(bytes), /global 'argparse\.Namespace' is not allowed.*opaqueGlobals/);
    const ckpt = parsePth(bytes, { opaqueGlobals: ['argparse.Namespace'] });
    expect(Array.from(ckpt.tensors.get('w')!.data as Float32Array)).toEqual([42]);
    expect(ckpt.skipped).toEqual(['args']);
    const root = unpickle(readZip(bytes).get('archive/data.pkl')!.read(), {
      globals: TORCH_PICKLE_GLOBALS,
      opaqueGlobals: ['argparse.Namespace'],
      persistentLoad: () => new TorchStorageRef('0', 'float32', 1, 'cpu'),
    }) as Map<string, unknown>;
    const ns = root.get('args') as PyObject;
    expect(ns).toBeInstanceOf(PyObject);
    expect(ns.cls).toBe('argparse.Namespace');
    expect((ns.state as Map<string, number>).get('lr')).toBe(0.001);
  });

  it('reads big-endian storages (archive/byteorder = big), contiguous and strided', () => {
    const be = (xs: number[]) => {
      const b = Buffer.alloc(4 * xs.length);
      xs.forEach((x, i) => b.writeFloatBE(x, 4 * i));
      return new Uint8Array(b);
    };
    for (const [size, stride, want] of [
      [[4], [1], [1, 2, 3, 4]],
      [[2, 2], [1, 2], [1, 3, 2, 4]],
    ] as const) {
      const z = makeZip({
        'archive/data.pkl': tensorPickle(4, 0, [...size], [...stride]),
        'archive/byteorder': 'big',
        'archive/data/0': be([1, 2, 3, 4]),
      });
      expect(Array.from(parsePth(z).tensors.get('w')!.data as Float32Array)).toEqual(want);
    }
  });

  it('turns pathological nesting into a format error', () => {
    const deep = pkl('}', 'N', new Array(200_000).fill(0x85), 'N', 's', '.');
    expectError(() => unpickle(deep, { globals: {} }), /malformed pickle/);
    expectError(() => unpickle(pkl([0x8b, 0, 0, 1, 0], '.'), { globals: {} }), /integer of 65536 bytes is too large/);
  });

  it('interprets the data opcodes', () => {
    const v = unpickle(
      pkl(
        [0x80, 4],
        [0x95, 0, 0, 0, 0, 0, 0, 0, 0], // FRAME
        ']',
        [0x94], // MEMOIZE
        '(',
        'J',
        [0xff, 0xff, 0xff, 0xff], // -1
        'M',
        [0x34, 0x12], // 0x1234
        [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0], // 2^63 as LONG1
        [0x8a, 1, 0xfe], // -2
        'G',
        [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], // pi
        [0x88, 0x89],
        'N',
        [0x8c, 2],
        'hi',
        'C',
        [2, 1, 2],
        ')',
        'e',
        'h',
        [0],
        'a',
        '.',
      ),
      { globals: {} },
    ) as unknown[];
    expect(v.slice(0, 10)).toEqual([-1, 0x1234, 2n ** 63n, -2, Math.PI, true, false, null, 'hi', new Uint8Array([1, 2])]);
    expect(v[10]).toEqual([]);
    expect(v[11]).toBe(v); // memoised self-reference
  });
});
