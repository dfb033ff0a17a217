import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import {
  type DType,
  type StateDict,
  type TensorRecord,
  DTYPES,
  WeightsFormatError,
  makeRecord,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  readSafetensorsSync,
  serializeSafetensors,
  writeSafetensors,
  writeSafetensorsSync,
} from '../src/io/index.js';
import { expectRecordEquals, expected, fixture } from './fixtures/expected.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-io-st-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Builds a safetensors file from a header object and raw data, for lying-file tests. */
function craft(header: unknown, data: Uint8Array | number = 0, headerLength?: number): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

const sample = (dtype: DType, shape: number[]): TensorRecord => {
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: n }, (_, i) => (i % 2 ? -i : i) % 100);
  if (dtype === 'bool') return makeRecord('bool', shape, vals.map((v) => (v > 0 ? 1 : 0)));
  if (dtype === 'uint8') return makeRecord('uint8', shape, vals.map(Math.abs));
  if (dtype === 'int64') return makeRecord('int64', shape, vals.map((v) => BigInt(v) * 10_000_000_000n));
  return makeRecord(dtype, shape, dtype.startsWith('float') || dtype === 'bfloat16' ? vals.map((v) => v / 4) : vals);
};

function expectSameDict(a: StateDict, b: StateDict): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, r] of a) {
    const s = b.get(k)!;
    expect({ k, dtype: s.dtype, shape: s.shape }).toEqual({ k, dtype: r.dtype, shape: r.shape });
    expect(s.data.constructor).toBe(r.data.constructor);
    expect(Array.from(s.data as Uint8Array), k).toEqual(Array.from(r.data as Uint8Array));
  }
}

describe('safetensors round trip', () => {
  it.each(DTYPES)('round-trips %s', (dtype) => {
    const sd: StateDict = new Map([
      ['a', sample(dtype, [2, 3])],
      ['scalar', sample(dtype, [])],
      ['empty', sample(dtype, [0, 4])],
    ]);
    const bytes = serializeSafetensors(sd, { note: 'x' });
    const back = parseSafetensors(bytes);
    expectSameDict(sd, back.tensors);
    expect(back.metadata).toEqual({ note: 'x' });
    // copy: false views the buffer where aligned and still reads the same values
    expectSameDict(sd, parseSafetensors(bytes, { copy: false }).tensors);
  });

  it('writes the layout of the Rust reference: 8-aligned space-padded header, dtype-then-name order', () => {
    const sd: StateDict = new Map([
      ['z', makeRecord('float16', [1], [1])],
      ['b', makeRecord('float32', [1], [1])],
      ['a', makeRecord('float32', [1], [2])],
      ['i', makeRecord('int64', [1], [3])],
      ['10', makeRecord('uint8', [1], [3])],
      ['9', makeRecord('uint8', [1], [3])],
    ]);
    const bytes = serializeSafetensors(sd, { b: '2', a: '1' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = Buffer.from(bytes.subarray(8, 8 + n)).toString();
    expect(text).toMatch(/^\{"__metadata__":\{"a":"1","b":"2"\},"i":\{"dtype":"I64","shape":\[1\],"data_offsets":\[0,8\]\},"a":/);
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(/ *$/.exec(text)![0].length).toBe(n - text.trimEnd().length);
    const order = [...parseSafetensors(bytes).tensors.keys()];
    expect(order).toEqual(['i', 'a', 'b', 'z', '10', '9']);
    // Deterministic: same input, same bytes, whatever the insertion order.
    expect(Buffer.from(serializeSafetensors(new Map([...sd].reverse()), { a: '1', b: '2' }))).toEqual(Buffer.from(bytes));
  });

  it('accepts plain objects and pair lists, rejects inconsistent records', () => {
    const r = makeRecord('float32', [2], [1, 2]);
    expect(parseSafetensors(serializeSafetensors({ w: r })).tensors.get('w')!.data).toEqual(r.data);
    expect(() => serializeSafetensors([['w', r], ['w', r]])).toThrow(/'w' appears twice/);
    expect(() => serializeSafetensors({ __metadata__: r })).toThrow(/cannot be a tensor name/);
    expect(() => serializeSafetensors({ w: { dtype: 'float32', shape: [3], data: new Float32Array(2) } })).toThrow(/'w'.*2 elements/);
    expect(() => serializeSafetensors({ w: { dtype: 'float32', shape: [2], data: new Int32Array(2) } })).toThrow(/'w'.*Int32Array/);
    expect(() => serializeSafetensors({ w: { dtype: 'c64' as DType, shape: [2], data: new Int32Array(2) } })).toThrow(/'w'.*unknown dtype/);
  });

  it('property: any state dict survives serialize → parse', () => {
    const dtypeArb = fc.constantFrom(...DTYPES);
    const recordArb = fc
      .tuple(dtypeArb, fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }), fc.integer({ min: 0, max: 1 << 30 }))
      .map(([dtype, shape, seed]) => {
        const rec = makeRecord(dtype, shape);
        const bytes = new Uint8Array(rec.data.buffer, rec.data.byteOffset, rec.data.byteLength);
        let s = seed;
        for (let i = 0; i < bytes.length; i++) bytes[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
        if (dtype === 'bool') for (let i = 0; i < bytes.length; i++) bytes[i]! &= 1;
        return rec;
      });
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }).filter((k) => k !== '__metadata__' && k !== '__proto__'), recordArb, {
          maxKeys: 6,
        }),
        fc.option(fc.dictionary(fc.string({ maxLength: 5 }).filter((k) => k !== '__proto__'), fc.string({ maxLength: 8 }), { maxKeys: 3 }), {
          nil: undefined,
        }),
        (tensors, metadata) => {
          const sd: StateDict = new Map(Object.entries(tensors));
          const bytes = serializeSafetensors(sd, metadata);
          expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
          const back = parseSafetensors(bytes);
          expectSameDict(sd, back.tensors);
          expect(back.metadata).toEqual(metadata ?? {});
          expect(Buffer.from(serializeSafetensors(back.tensors, metadata))).toEqual(Buffer.from(bytes));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('safetensors golden file (independent Python encoder following the Rust reference)', () => {
  const want = expected['golden.safetensors']!;

  it('reads every tensor exactly as PyTorch holds it', async () => {
    const file = await readSafetensors(fixture('golden.safetensors'));
    expect(file.metadata).toEqual(want.metadata);
    expect([...file.tensors.keys()]).toEqual(want.order);
    for (const [name, t] of Object.entries(want.tensors)) expectRecordEquals(file.tensors.get(name), t, name);
  });

  it('re-serializes byte-identically', () => {
    const bytes = fs.readFileSync(fixture('golden.safetensors'));
    const file = parseSafetensors(bytes);
    expect(Buffer.from(serializeSafetensors(file.tensors, file.metadata))).toEqual(bytes);
  });

  it('reads just the header', () => {
    const h = readSafetensorsHeader(fixture('golden.safetensors'));
    expect([...h.tensors.keys()]).toEqual(want.order);
    expect(h.tensors.get('f32')).toMatchObject({ dtype: 'float32', shape: [3, 4] });
    expect(h.dataStart % 8).toBe(0);
  });
});

describe('safetensors files on disk', () => {
  it('writes atomically and reads back (async and sync)', async () => {
    const p = path.join(tmp, 'w.safetensors');
    const sd: StateDict = new Map([['w', makeRecord('bfloat16', [2], [1.5, -2])]]);
    await writeSafetensors(p, sd, { step: '3' });
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expectSameDict(sd, (await readSafetensors(p)).tensors);
    writeSafetensorsSync(p, new Map([['v', makeRecord('int32', [1], [7])]]));
    const back = readSafetensorsSync(p);
    expect([...back.tensors.keys()]).toEqual(['v']);
    expect(back.metadata).toEqual({});
  });
});

describe('safetensors validation', () => {
  const f32 = (shape: number[], offsets: [number, number]) => ({ dtype: 'F32', shape, data_offsets: offsets });
  const bad = (bytes: Uint8Array, re: RegExp) => {
    let err: unknown;
    try {
      parseSafetensors(bytes, { name: 'bad.safetensors' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightsFormatError);
    expect((err as Error).message).toMatch(/^bad\.safetensors: /);
    expect((err as Error).message).toMatch(re);
  };

  it('accepts a well-formed crafted file', () => {
    expect(parseSafetensors(craft({ a: f32([2], [0, 8]), b: f32([1], [8, 12]) }, 12)).tensors.size).toBe(2);
  });

  it('rejects a file shorter than the length prefix', () => {
    bad(new Uint8Array(5), /truncated: 5 bytes/);
    bad(new Uint8Array(0), /truncated: 0 bytes/);
  });

  it('rejects a header length past the end of the file', () => {
    bad(craft({ a: f32([1], [0, 4]) }, 4, 5000), /header length 5000 runs past the end of the file/);
    bad(craft({}, 0, 2 ** 40), /larger than the 100000000-byte limit/);
  });

  it('rejects truncated tensor data, naming the tensor', () => {
    const ok = serializeSafetensors({ w: makeRecord('float32', [4], [1, 2, 3, 4]) });
    bad(ok.subarray(0, ok.length - 3), /tensor 'w': data_offsets \[0, 16\] run past the end of the data \(13 bytes\)/);
  });

  it('rejects overlapping, gapped and out-of-range offsets', () => {
    bad(craft({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12), /tensor 'b': .*overlap tensor 'a'/);
    bad(craft({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, 12), /tensor 'b': .*gap: bytes 4\.\.8/);
    bad(craft({ a: f32([1], [4, 8]) }, 8), /gap: bytes 0\.\.4/);
    bad(craft({ a: f32([1], [0, 4]) }, 10), /6 trailing bytes/);
    bad(craft({ a: f32([1], [8, 4]) }, 8), /tensor 'a': invalid data_offsets \[8,4\]/);
    bad(craft({ a: f32([1], [-4, 0]) }, 8), /tensor 'a': invalid data_offsets/);
  });

  it('rejects a shape that does not match the byte size', () => {
    bad(craft({ a: f32([3], [0, 8]) }, 8), /tensor 'a': shape \[3\] × F32 needs 12 bytes but data_offsets \[0, 8\] hold 8/);
    bad(craft({ a: f32([-1], [0, 4]) }, 4), /tensor 'a': invalid shape/);
    bad(craft({ a: f32([1.5] as number[], [0, 4]) }, 4), /tensor 'a': invalid shape/);
  });

  it('rejects unknown and unsupported dtypes, naming the tensor', () => {
    bad(craft({ a: { dtype: 'Q7', shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'a': unknown dtype "Q7"/);
    bad(craft({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'a': dtype F8_E4M3 is not supported/);
    bad(craft({ a: { shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'a': missing or non-string dtype/);
  });

  it('rejects malformed headers and metadata', () => {
    bad(craft('[1,2]'), /must be a JSON object starting with '\{'/);
    bad(craft('{"a": '), /not valid JSON/);
    bad(craft({ __metadata__: { a: 1 } }), /__metadata__ value of 'a' is 1/);
    bad(craft({ __metadata__: [] }), /__metadata__ must be an object/);
    bad(craft({ a: 5 }), /tensor 'a': header entry is not an object/);
    const notUtf8 = craft('{}');
    notUtf8[9] = 0xff;
    bad(notUtf8, /not valid UTF-8/);
  });

  it('names the path when reading from disk', async () => {
    const p = path.join(tmp, 'short.safetensors');
    fs.writeFileSync(p, new Uint8Array(3));
    await expect(readSafetensors(p)).rejects.toThrow(`${p}: truncated: 3 bytes`);
    expect(() => readSafetensorsHeader(p)).toThrow(`${p}: truncated`);
  });
});
