// Fuzz tests of the weights readers: thousands of malformed inputs (mutations of small valid files, random
// pickle opcode streams, mutated safetensors headers). Every case must end in a result or a
// WeightsFormatError naming the file, within a second and without allocating more than ~256 MB.
//
// Deterministic by default (fixed seeds, CI-friendly); FLUX_FUZZ_SEED=<n> changes the seed and
// FLUX_FUZZ_SCALE=<k> multiplies the number of cases, for longer local runs.
import fs from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  type StateDict,
  TORCH_PICKLE_GLOBALS,
  TorchStorageRef,
  WeightsFormatError,
  makeRecord,
  parsePth,
  parseSafetensors,
  readZip,
  serializeSafetensors,
  unpickle,
} from '../src/io/index.js';
import { fixture } from './fixtures/expected.js';
import { PickleWriter, binunicode, checkpoint, f32bytes, makeZip, makeZipEntries, tensorPickle } from './io-build.js';

const SEED = Number(process.env.FLUX_FUZZ_SEED ?? 20240611);
const SCALE = Number(process.env.FLUX_FUZZ_SCALE ?? 1);
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));
const MAX_CASE_MS = 1000;
const MAX_CASE_BYTES = 256 * 2 ** 20;
/**
 * The .pth byte budget of the fuzz cases: what bounds their allocations (the default for these small files
 * is 256 MiB, exactly the memory limit; the default itself is tested in io-hardening.test.ts).
 */
const PTH_MAX_BYTES = 192 * 2 ** 20;
/** FLUX_FUZZ_VERBOSE=1 prints the commonest rejection reasons of each property. */
const VERBOSE = process.env.FLUX_FUZZ_VERBOSE === '1';
const reasons = new Map<string, Map<string, number>>();

/** Cases run per property, for the report at the end. */
const counts = new Map<string, { cases: number; errors: number; slowestMs: number; ms: number }>();

/**
 * Runs one fuzz case: `fn` must return or throw a WeightsFormatError whose file is `name`, within
 * MAX_CASE_MS, and grow memory (array buffers + JS heap, measured with the result still alive) by less
 * than MAX_CASE_BYTES.
 */
function fuzzCase(property: string, name: string, fn: () => unknown): void {
  const stat = counts.get(property) ?? { cases: 0, errors: 0, slowestMs: 0, ms: 0 };
  counts.set(property, stat);
  const m0 = process.memoryUsage();
  const t0 = performance.now();
  let result: unknown;
  let error: unknown;
  try {
    result = fn();
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  const m1 = process.memoryUsage();
  stat.cases++;
  stat.ms += ms;
  stat.slowestMs = Math.max(stat.slowestMs, ms);
  if (error !== undefined) {
    stat.errors++;
    if (VERBOSE) {
      const r = reasons.get(property) ?? new Map<string, number>();
      reasons.set(property, r);
      const why = String((error as Error)?.message).slice(name.length).replace(/\d+/g, '#').replace(/'[^']*'/g, "'…'").slice(0, 70);
      r.set(why, (r.get(why) ?? 0) + 1);
    }
    if (!(error instanceof WeightsFormatError)) throw new Error(`${property}: a ${(error as Error)?.name} escaped: ${String((error as Error)?.stack ?? error)}`);
    expect(error.file.startsWith(name), error.message).toBe(true);
    expect(error.message.startsWith(name)).toBe(true);
  }
  expect(ms, `${property}: one case took ${ms.toFixed(0)} ms`).toBeLessThan(MAX_CASE_MS);
  const grown = m1.arrayBuffers - m0.arrayBuffers + (m1.heapUsed - m0.heapUsed);
  expect(grown, `${property}: one case grew memory by ${(grown / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(MAX_CASE_BYTES);
  void result;
}

// ---------------------------------------------------------------------------------------------------
// Byte-level mutations of a seed file.

type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'set'; at: number; bytes: number[] }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number };

/**
 * Positions are fractions of the file length (so one arbitrary fits every seed): mostly uniform, sometimes
 * fast-check's bias toward the edges (the first and last bytes: signatures, the end-of-directory record).
 */
const at = fc.oneof(
  { weight: 19, arbitrary: fc.noBias(fc.integer({ min: 0, max: 2 ** 30 - 1 })).map((n) => n / 2 ** 30) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) },
);
const interesting = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01));
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at, xor: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), at, bytes: fc.array(interesting, { minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.array(interesting, { minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
);
const mutationsArb = fc.oneof({ weight: 3, arbitrary: mutationArb.map((m) => [m]) }, { weight: 2, arbitrary: fc.array(mutationArb, { minLength: 2, maxLength: 6 }) });

function mutate(seed: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Buffer.from(seed);
  for (const m of mutations) {
    const i = Math.floor(m.at * b.length);
    if (m.kind === 'flip') {
      if (b.length) b[i] ^= m.xor;
    } else if (m.kind === 'set') {
      for (let j = 0; j < m.bytes.length && i + j < b.length; j++) b[i + j] = m.bytes[j]!;
    } else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from(m.bytes), b.subarray(i)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + m.length)]);
    else b = b.subarray(0, i);
  }
  return new Uint8Array(b);
}

// ---------------------------------------------------------------------------------------------------
// Seeds.

const pthFixtures = ['dtypes.pth', 'views.pth', 'deflate.pth', 'nested-model.pth', 'parameters.pth', 'ordered.pth'].map(
  (f) => new Uint8Array(fs.readFileSync(fixture(f))),
);
const handBuilt = (() => {
  const storage = f32bytes([0, 1, 2, 3, 4, 5, 6, 7]);
  const files = { 'archive/data.pkl': tensorPickle(8, 1, [2, 3], [1, 2]), 'archive/data/0': storage };
  const expanded = new PickleWriter().emptyDict().str('e').tensor(8, 0, [4, 4], [0, 1]).setitem().str('s').tensor(8, 2, [3], [2]).setitem();
  return [
    checkpoint(tensorPickle(8, 0, [8], [1]), { '0': storage }),
    makeZip(files, true), // deflated
    makeZip(files, false, true), // zip64
    makeZip(files, true, true),
    checkpoint(expanded.bytes(), { '0': storage }),
  ];
})();
const pthSeeds = [...pthFixtures, ...handBuilt];

/** The entries of a seed archive, for rebuilding it around a mutated pickle. */
const pthParts = pthSeeds.map((z) => {
  const entries = [...readZip(z).values()];
  return entries.map((e) => ({ name: e.name, data: new Uint8Array(e.read()) }));
});

const stSeeds: Uint8Array[] = [
  new Uint8Array(fs.readFileSync(fixture('golden.safetensors'))),
  serializeSafetensors(
    new Map([
      ['w', makeRecord('float32', [2, 3], [1, 2, 3, 4, 5, 6])],
      ['i', makeRecord('int64', [2], [1, -1])],
      ['h', makeRecord('bfloat16', [1], [0.5])],
      ['m', makeRecord('bool', [3], [1, 0, 1])],
    ]) as StateDict,
    { step: '3', note: 'x' },
  ),
  serializeSafetensors(new Map([['empty', makeRecord('float16', [0, 4])]]) as StateDict),
];

// ---------------------------------------------------------------------------------------------------
// Random pickle opcode streams.

const NAMES = ['storage', 'cpu', '0', '1', 'w', 'model', 'state_dict', '__proto__', 'constructor', 'toString', 'weight', 'a.b'];
const GLOBALS: [string, string][] = [
  ['collections', 'OrderedDict'],
  ['torch._utils', '_rebuild_tensor_v2'],
  ['torch._utils', '_rebuild_tensor'],
  ['torch._utils', '_rebuild_parameter'],
  ['torch._tensor', '_rebuild_from_type_v2'],
  ['torch', 'FloatStorage'],
  ['torch', 'LongStorage'],
  ['torch', 'HalfStorage'],
  ['torch', 'Size'],
  ['torch', 'device'],
  ['torch', 'Tensor'],
  ['torch.nn.parameter', 'Parameter'],
  ['_codecs', 'encode'],
  ['os', 'system'],
  ['builtins', 'eval'],
  ['builtins', '__proto__'],
  ['torch', 'constructor'],
  ['__proto__', 'toString'],
];
const le32 = (n: number): number[] => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];
const opArb: fc.Arbitrary<number[]> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .constantFrom(0x4e, 0x5d, 0x7d, 0x29, 0x28, 0x65, 0x61, 0x73, 0x75, 0x74, 0x85, 0x86, 0x87, 0x52, 0x62, 0x81, 0x92, 0x30, 0x31, 0x32, 0x51, 0x94, 0x88, 0x89, 0x6c, 0x64, 0x8f, 0x90, 0x91, 0x93, 0x2e)
      .map((op) => [op]),
  },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }).map((n) => [0x4b, n]) }, // BININT1
  { weight: 2, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((n) => [0x4a, ...le32(n)]) }, // BININT
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 2, 3, 1 << 20, 2 ** 30).map((n) => [0x4a, ...le32(n)]) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 9 }).map((b) => [0x8a, b.length, ...b]) }, // LONG1
  { weight: 1, arbitrary: fc.double().map((x) => [0x47, ...Buffer.from(new Float64Array([x]).buffer).reverse()]) }, // BINFLOAT
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 7 }).map((i) => [0x71, i]) }, // BINPUT
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 7 }).map((i) => [0x68, i]) }, // BINGET
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }).map((i) => [0x6a, ...le32(i)]) }, // LONG_BINGET
  { weight: 4, arbitrary: fc.constantFrom(...NAMES).map((s) => binunicode(s)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }).map((s) => [0x8c, Buffer.byteLength(s), ...Buffer.from(s)]) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }).map((b) => [0x43, b.length, ...b]) }, // SHORT_BINBYTES
  { weight: 3, arbitrary: fc.constantFrom(...GLOBALS).map(([m, n]) => [...Buffer.from(`c${m}\n${n}\n`, 'latin1')]) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('0', '1', '2'), fc.constantFrom('FloatStorage', 'LongStorage', 'HalfStorage'), fc.integer({ min: 0, max: 40 }))
      .map(([key, cls, numel]) => {
        const p = new PickleWriter().mark().str('storage').global('torch', cls).str(key).str('cpu').int(numel).tuple().raw(0x51);
        return [...p.bytes().subarray(2, -1)];
      }),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
      )
      .map(([numel, offset, size, stride]) => [...new PickleWriter().tensor(numel, offset, size, stride.slice(0, size.length)).bytes().subarray(2, -1)]),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => [b]) }, // any byte
);
/**
 * Memo entries 0–7 set up before the random opcodes (so that BINGET shares real objects): {}, [], a tensor,
 * (1, 2), 'w', OrderedDict, {'w': tensor}, [[], []] (one list twice).
 */
const PREAMBLE = (() => {
  const p = new PickleWriter();
  p.emptyDict().put(0).pop().emptyList().put(1).pop().tensor(8, 0, [2, 2], [2, 1]).put(2).pop();
  p.mark().int(1).int(2).tuple().put(3).pop().str('w').put(4).pop().global('collections', 'OrderedDict').put(5).pop();
  p.emptyDict().str('w').get(2).setitem().put(6).pop().emptyList().mark().get(1).get(1).appends().put(7).pop();
  return [...p.bytes().subarray(2, -1)];
})();
/**
 * Random opcode streams: fully random (after PROTO and the memo preamble), or the body of a root dict
 * (`} ( … u .`: whatever the random opcodes leave on the stack becomes its items), which often makes a
 * checkpoint that gets as far as the tensors.
 */
const pickleStreamArb = fc
  .tuple(fc.array(opArb, { maxLength: 60 }), fc.constantFrom('raw', 'dict', 'dict'), fc.boolean())
  .map(([ops, mode, stop]) => {
    const body = ops.flat();
    if (mode === 'raw') return new Uint8Array([0x80, 2, ...PREAMBLE, ...body, ...(stop ? [0x2e] : [])]);
    return new Uint8Array([0x80, 2, ...PREAMBLE, 0x7d, 0x28, ...body, 0x75, 0x2e]);
  });

// ---------------------------------------------------------------------------------------------------
// safetensors header mutations.

type HeaderOp =
  | { kind: 'dtype'; which: number; value: unknown }
  | { kind: 'shape'; which: number; value: unknown }
  | { kind: 'offsets'; which: number; value: unknown }
  | { kind: 'entry'; which: number; value: unknown }
  | { kind: 'drop'; which: number; field: string }
  | { kind: 'add'; name: string; value: unknown }
  | { kind: 'metadata'; value: unknown };

const weirdName = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'toString', '__metadata__', 'valueOf', ''), fc.string({ maxLength: 6 }));
const dtypeValue = fc.oneof(
  fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'U16', 'F8_E4M3', 'C64'),
  weirdName,
  fc.jsonValue({ maxDepth: 2 }),
);
const intish = fc.oneof(fc.integer({ min: -2, max: 64 }), fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1.5, -0));
const shapeValue = fc.oneof({ weight: 3, arbitrary: fc.array(intish, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });
const offsetsValue = fc.oneof({ weight: 3, arbitrary: fc.array(intish, { minLength: 2, maxLength: 2 }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });
const headerOpArb: fc.Arbitrary<HeaderOp> = fc.oneof(
  fc.record({ kind: fc.constant('dtype' as const), which: fc.nat(), value: dtypeValue }),
  fc.record({ kind: fc.constant('shape' as const), which: fc.nat(), value: shapeValue }),
  fc.record({ kind: fc.constant('offsets' as const), which: fc.nat(), value: offsetsValue }),
  fc.record({ kind: fc.constant('entry' as const), which: fc.nat(), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('drop' as const), which: fc.nat(), field: fc.constantFrom('dtype', 'shape', 'data_offsets') }),
  fc.record({
    kind: fc.constant('add' as const),
    name: weirdName,
    value: fc.record({ dtype: dtypeValue, shape: shapeValue, data_offsets: offsetsValue }),
  }),
  fc.record({ kind: fc.constant('metadata' as const), value: fc.oneof(fc.dictionary(weirdName, fc.oneof(fc.string(), fc.jsonValue())), fc.jsonValue({ maxDepth: 2 })) }),
);

/** Rebuilds a safetensors file from `seed` with its header entries mutated (keys kept in order, `__proto__` included). */
function mutateHeader(seed: Uint8Array, ops: readonly HeaderOp[], lengthDelta: number, dataCut: number): Uint8Array {
  const n = Number(new DataView(seed.buffer, seed.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(seed.subarray(8, 8 + n)).toString()) as Record<string, unknown>;
  const pairs: [string, unknown][] = Object.entries(header).map(([k, v]) => [k, structuredClone(v)]);
  const tensorIdx = () => pairs.map((p, i) => (p[0] === '__metadata__' ? -1 : i)).filter((i) => i >= 0);
  for (const op of ops) {
    const idx = tensorIdx();
    const target = idx.length ? pairs[idx[('which' in op ? op.which : 0) % idx.length]!]! : undefined;
    const entry = target && typeof target[1] === 'object' && target[1] !== null && !Array.isArray(target[1]) ? (target[1] as Record<string, unknown>) : undefined;
    if (op.kind === 'dtype' && entry) entry.dtype = op.value;
    else if (op.kind === 'shape' && entry) entry.shape = op.value;
    else if (op.kind === 'offsets' && entry) entry.data_offsets = op.value;
    else if (op.kind === 'drop' && entry) delete entry[op.field];
    else if (op.kind === 'entry' && target) target[1] = op.value;
    else if (op.kind === 'add') pairs.push([op.name, op.value]);
    else if (op.kind === 'metadata') {
      const m = pairs.find((p) => p[0] === '__metadata__');
      if (m) m[1] = op.value;
      else pairs.unshift(['__metadata__', op.value]);
    }
  }
  const json = Buffer.from(`{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`);
  const data = seed.subarray(8 + n, Math.max(8 + n, seed.length - dataCut));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, json.length + lengthDelta)), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

// ---------------------------------------------------------------------------------------------------

const params = (numRuns: number, offset: number) => ({ numRuns: runs(numRuns), seed: SEED + offset, endOnFailure: false });

describe('fuzz: .pth (zip container + pickle)', () => {
  it('byte-level mutations of small checkpoints', () => {
    fc.assert(
      fc.property(fc.nat({ max: pthSeeds.length - 1 }), mutationsArb, (s, ms) => {
        const bytes = mutate(pthSeeds[s]!, ms);
        fuzzCase('pth bytes', 'fuzz.pth', () => parsePth(bytes, { name: 'fuzz.pth', maxBytes: PTH_MAX_BYTES }));
      }),
      params(1500, 1),
    );
  });

  it('mutated pickles in a well-formed archive', () => {
    fc.assert(
      fc.property(fc.nat({ max: pthParts.length - 1 }), mutationsArb, fc.boolean(), (s, ms, deflate) => {
        const files: Record<string, Uint8Array> = {};
        for (const { name, data } of pthParts[s]!) files[name] = /\/data\.pkl$/.test(name) ? mutate(data, ms) : data;
        const bytes = makeZip(files, deflate);
        fuzzCase('pth pickle', 'fuzz.pth', () => parsePth(bytes, { name: 'fuzz.pth', opaqueGlobals: ['argparse.Namespace'], maxBytes: PTH_MAX_BYTES }));
      }),
      params(1000, 2),
    );
  });

  it('random pickle opcode streams, alone and as a checkpoint', () => {
    const storages = { '0': new Uint8Array(320), '1': new Uint8Array(320).fill(0x3f), '2': new Uint8Array(7) };
    fc.assert(
      fc.property(pickleStreamArb, fc.boolean(), (pickle, deflate) => {
        fuzzCase('pickle stream', 'fuzz.pkl', () =>
          unpickle(pickle, {
            name: 'fuzz.pkl',
            globals: TORCH_PICKLE_GLOBALS,
            persistentLoad: (pid) => {
              const key = Array.isArray(pid) && typeof pid[2] === 'string' ? pid[2] : '0';
              return new TorchStorageRef(key, 'float32', 4, 'cpu');
            },
          }),
        );
        const files: Record<string, Uint8Array> = { 'archive/data.pkl': pickle };
        for (const [k, v] of Object.entries(storages)) files[`archive/data/${k}`] = v;
        const bytes = deflate ? makeZip(files, true) : makeZipEntries(Object.entries(files).map(([name, body]) => ({ name, body, size: body.length, method: 0 })));
        fuzzCase('pickle checkpoint', 'fuzz.pth', () => parsePth(bytes, { name: 'fuzz.pth', maxBytes: PTH_MAX_BYTES }));
      }),
      params(1500, 3),
    );
  });
});

describe('fuzz: zip', () => {
  it('byte-level mutations of archives, reading every entry in full and in part', () => {
    fc.assert(
      fc.property(fc.nat({ max: pthSeeds.length - 1 }), mutationsArb, fc.nat({ max: 4096 }), (s, ms, prefix) => {
        const bytes = mutate(pthSeeds[s]!, ms);
        fuzzCase('zip', 'fuzz.zip', () => {
          for (const e of readZip(bytes, 'fuzz.zip').values()) {
            e.read(prefix);
            e.read();
          }
        });
      }),
      params(1000, 4),
    );
  });
});

describe('fuzz: safetensors', () => {
  it('byte-level mutations', () => {
    fc.assert(
      fc.property(fc.nat({ max: stSeeds.length - 1 }), mutationsArb, fc.boolean(), (s, ms, copy) => {
        const bytes = mutate(stSeeds[s]!, ms);
        fuzzCase('safetensors bytes', 'fuzz.safetensors', () => parseSafetensors(bytes, { name: 'fuzz.safetensors', copy }));
      }),
      params(1000, 5),
    );
  });

  it('header JSON mutations', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: stSeeds.length - 1 }),
        fc.array(headerOpArb, { minLength: 1, maxLength: 4 }),
        fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -16, max: 16 }) }),
        fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 16 }) }),
        (s, ops, lengthDelta, cut) => {
          const bytes = mutateHeader(stSeeds[s]!, ops, lengthDelta, cut);
          fuzzCase('safetensors header', 'fuzz.safetensors', () => parseSafetensors(bytes, { name: 'fuzz.safetensors' }));
        },
      ),
      params(1000, 6),
    );
  });
});

describe('fuzz: summary', () => {
  it('ran thousands of cases, each within the limits', () => {
    const total = [...counts.values()].reduce((a, c) => a + c.cases, 0);
    const lines = [...counts].map(
      ([k, c]) => `${k}: ${c.cases} cases (${c.errors} rejected), ${c.ms.toFixed(0)} ms in all, slowest ${c.slowestMs.toFixed(1)} ms`,
    );
    console.log(`[io-fuzz] seed ${SEED}, ${total} cases\n  ${lines.join('\n  ')}`);
    for (const [k, r] of reasons) {
      const top = [...r].sort((a, b) => b[1] - a[1]).slice(0, 12);
      console.log(`[io-fuzz] ${k}: ${r.size} distinct rejections\n    ${top.map(([w, c]) => `${c}× ${w}`).join('\n    ')}`);
    }
    if (SCALE >= 1 && counts.size === 7) expect(total).toBeGreaterThanOrEqual(7000);
  });
});
