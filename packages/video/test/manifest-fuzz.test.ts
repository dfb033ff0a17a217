/**
 * Fuzzing the manifest readers with generated malformed input: Kinetics-style CSV/TSV/space lists, SSv2 JSON (well
 * formed with wrongly typed fields, and broken JSON text), caption JSON / JSONL, class-list files, and
 * folder-of-class-folders trees. Whatever the input, a reader either returns a consistent dataset (problems listed
 * when `strict: false`) or throws a ManifestError naming the file — never a TypeError, SyntaxError or RangeError —
 * and no single case takes a second.
 */
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadCaptionManifest,
  loadFolderDataset,
  loadKineticsManifest,
  loadManifest,
  loadSsv2Manifest,
  ManifestError,
  readClassList,
  type ManifestOptions,
  type VideoDataset,
} from '../src/index.js';

const SEED = 20_240_611;
const CASE_LIMIT_MS = 1_000;
const KINDS = new Set(['missing-file', 'unknown-label', 'parse', 'duplicate']);

let dir: string;
const at = (rel: string) => join(dir, rel);
const stats = { cases: 0, calls: 0, returned: 0, typedErrors: 0, slowestMs: 0, slowest: '' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flux-manifest-fuzz-'));
  for (const f of ['clips/c0.mp4', 'clips/c1.mp4', 'clips/walk/c2.mp4', '0.webm', '1.webm', '42.webm', 'a.mp4', '__proto__.mp4']) {
    mkdirSync(join(at(f), '..'), { recursive: true });
    writeFileSync(at(f), 'x');
  }
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `[manifest-fuzz] ${stats.cases} cases, ${stats.calls} reader calls: ${stats.returned} returned, ${stats.typedErrors} ManifestErrors; ` +
      `slowest call ${stats.slowestMs.toFixed(1)} ms (${stats.slowest})`,
  );
});

/** A plain check (cheaper than expect() in loops that run tens of thousands of times). */
function check(ok: boolean, what: string, message: string): void {
  if (!ok) throw new Error(`${what}: ${message}`);
}

/** Runs one reader call: it must return (a consistent result) or throw a ManifestError naming the file, within the limit. */
function call<T extends VideoDataset | string[]>(what: string, strict: boolean, fn: () => T): T | undefined {
  stats.calls++;
  const t0 = performance.now();
  let result: T | undefined;
  let error: unknown;
  try {
    result = fn();
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - t0;
  if (ms > stats.slowestMs) {
    stats.slowestMs = ms;
    stats.slowest = what;
  }
  check(ms < CASE_LIMIT_MS, what, `took ${ms.toFixed(0)} ms`);
  if (error !== undefined) {
    if (!(error instanceof ManifestError)) {
      const e = error as Error;
      throw new Error(`${what}: untyped ${e?.name}: ${e?.message}\n${e?.stack ?? ''}`);
    }
    stats.typedErrors++;
    // It names the manifest, or the class-list file it read.
    check(typeof error.manifest === 'string' && error.manifest.startsWith(dir) && error.message.includes(error.manifest), what, `ManifestError names ${error.manifest}`);
    check(error.problems.length > 0, what, 'ManifestError without problems');
    for (const p of error.problems) check(KINDS.has(p.kind) && typeof p.message === 'string', what, `bad problem ${JSON.stringify(p)}`);
    return undefined;
  }
  stats.returned++;
  if (Array.isArray(result)) {
    check(result.every((c) => typeof c === 'string'), what, 'class names must be strings');
    check(new Set(result).size === result.length, what, 'duplicate class names returned');
    return result;
  }
  const ds = result as VideoDataset;
  check(Array.isArray(ds.items) && Array.isArray(ds.classes) && Array.isArray(ds.problems), what, 'not a VideoDataset');
  check(!strict || ds.problems.length === 0, what, `strict load returned problems ${JSON.stringify(ds.problems).slice(0, 200)}`);
  for (const p of ds.problems) check(KINDS.has(p.kind), what, `bad problem kind ${p.kind}`);
  for (const c of ds.classes) check(typeof c === 'string', what, 'class names must be strings');
  for (const item of ds.items) {
    check(typeof item.path === 'string', what, 'item without a path');
    if (item.label !== undefined) {
      check(Number.isInteger(item.label) && item.label >= 0 && item.label < ds.classes.length, what, `label ${item.label} of ${ds.classes.length} classes`);
      check(item.labelName === undefined || ds.classes[item.label] === item.labelName, what, `labelName ${item.labelName} ≠ classes[${item.label}]`);
    }
    check(item.captions === undefined || item.captions.every((c) => typeof c === 'string'), what, 'captions must be strings');
  }
  return result;
}

// ---- generators -----------------------------------------------------------------------------------------------

const NASTY = [
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', 'length',
  'path', 'label', 'class', 'youtube_id', 'time_start', 'time_end', 'video', 'video_id', 'caption', 'captions', 'id', 'template', 'name',
  '"', '""', ',', '\t', ' ', '  ', '#', '\uFEFF', '\r', '\\', "'",
  '99999999999999999999', '1e400', '0', '1', '7', '007', '99999', '100000', '-1', '1.5', 'NaN', 'Infinity', '',
  '[', ']', '{', '}', 'null', 'true', '[something]',
  'clips/c0.mp4', 'clips/c1', 'c2', 'walk', 'a', 'missing.mp4', '../x.mp4', '/abs/none.mp4', 'clips/', '.', '..',
  'é', '🎬', '\u0000', '\u2028', 'x'.repeat(300),
];
const token = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...NASTY) }, fc.string({ maxLength: 6 }), fc.nat(1_000).map(String));
const textLine = fc.array(token, { maxLength: 7 }).map((ts) => ts.join(''));
const linesText = fc.tuple(fc.array(textLine, { maxLength: 14 }), fc.constantFrom('\n', '\r\n', '\r')).map(([ls, nl]) => ls.join(nl));
/** Rows that look like manifests (path SEP label), to get past header detection and into label handling. */
const rowish = fc
  .tuple(fc.constantFrom(',', '\t', ' '), fc.option(fc.constantFrom('path,label', 'label,youtube_id,time_start,time_end,split', 'video\tclass', 'youtube_id,time_start,time_end')), fc.array(fc.tuple(token, token, token), { maxLength: 12 }))
  .map(([sep, header, rows]) => [...(header ? [header.replace(/,/g, sep)] : []), ...rows.map((r) => r.join(sep))].join('\n'));
const csvText = fc.oneof(linesText, rowish);

/** Any JSON value, including objects whose keys are prototype names (written as text: JSON.parse makes them own). */
const field: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('null', 'true', '0', '-1', '1.5', '1e308', '""', '"__proto__"', '"Holding [something]"', '"0"', '"42"', '{"toString": 1}', '[]', '{}'),
    token.map((t) => JSON.stringify(t)),
    fc.integer().map(String),
    fc.array(tie('v'), { maxLength: 3 }).map((vs) => `[${vs.join(',')}]`),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom('__proto__', 'toString', 'id', 'template', 'label', 'video', 'caption', 'captions'), token), tie('v')), { maxLength: 4 }).map(
      (kvs) => `{${kvs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`,
    ),
  ),
})).v;
const KEYS = ['id', 'template', 'label', 'placeholders', 'video', 'caption', 'captions', 'text', 'path', '__proto__', 'toString'];
const entry = fc.oneof(
  fc.array(fc.tuple(fc.constantFrom(...KEYS), field), { maxLength: 5 }).map((kvs) => `{${kvs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  field,
);
const jsonArrayText = fc.array(entry, { maxLength: 10 }).map((es) => `[${es.join(',')}]`);
const jsonObjectText = fc.array(fc.tuple(token, field), { maxLength: 8 }).map((kvs) => `{${kvs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`);
/** Valid JSON text with one cut, insertion or deletion: mostly invalid JSON. */
const brokenJson = fc
  .tuple(fc.oneof(jsonArrayText, jsonObjectText), fc.nat(), fc.constantFrom('', ']', '}', ',', '"', '\\', '{', '[', 'x', ':', '\u0000'), fc.boolean())
  .map(([t, k, c, cut]) => {
    const at = k % (t.length + 1);
    return cut ? t.slice(0, at) : t.slice(0, at) + c + t.slice(at + (c ? 0 : 1));
  });
const jsonText = fc.oneof({ weight: 3, arbitrary: jsonArrayText }, { weight: 2, arbitrary: jsonObjectText }, { weight: 3, arbitrary: brokenJson }, field);
const jsonlText = fc.array(fc.oneof(entry, brokenJson, textLine), { maxLength: 8 }).map((ls) => ls.join('\n'));
const classText = fc.oneof(
  linesText,
  fc.array(fc.oneof(token.map((t) => JSON.stringify(t)), field), { maxLength: 8 }).map((es) => `[${es.join(',')}]`),
  fc.array(fc.tuple(token, fc.oneof(fc.nat(12).map(String), fc.nat(12).map((n) => `"${n}"`), field)), { maxLength: 8 }).map(
    (kvs) => `{${kvs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`,
  ),
  brokenJson,
);
/** Options: strict or not, existence checks or not, and a class list (none, an array, or a file). */
const optionsArb = fc.record({
  strict: fc.boolean(),
  checkFiles: fc.boolean(),
  classes: fc.oneof(fc.constant(undefined), fc.array(token, { maxLength: 6 }), classText.map((t) => ({ file: t }))),
});
type Opts = { strict: boolean; checkFiles: boolean; classes: string[] | { file: string } | undefined };

function manifestOptions(o: Opts): ManifestOptions {
  let classes: ManifestOptions['classes'];
  if (Array.isArray(o.classes)) classes = o.classes;
  else if (o.classes) {
    writeFileSync(at('classes.txt'), o.classes.file);
    classes = at('classes.txt');
  }
  return { strict: o.strict, checkFiles: o.checkFiles, ...(classes !== undefined ? { classes } : {}) };
}

// ---- properties -----------------------------------------------------------------------------------------------

describe('manifest readers under fuzzing: only typed errors escape', () => {
  it('Kinetics-style CSV / TSV / space-separated lists', () => {
    fc.assert(
      fc.property(csvText, optionsArb, fc.constantFrom('m.csv', 'm.tsv', 'm.txt'), (text, o, name) => {
        stats.cases++;
        const file = at(name);
        writeFileSync(file, text);
        const opts = manifestOptions(o);
        call(`kinetics ${JSON.stringify(text).slice(0, 120)}`, o.strict, () => loadKineticsManifest(file, opts));
        call(`loadManifest ${name}`, o.strict, () => loadManifest(file, opts));
      }),
      { numRuns: 1_200, seed: SEED },
    );
  });

  it('SSv2 JSON: wrongly typed fields, prototype-named keys, broken JSON text', () => {
    fc.assert(
      fc.property(jsonText, optionsArb, (text, o) => {
        stats.cases++;
        const file = at('ssv2.json');
        writeFileSync(file, text);
        const opts = manifestOptions(o);
        call(`ssv2 ${text.slice(0, 120)}`, o.strict, () => loadSsv2Manifest(file, opts));
        call(`loadManifest ${text.slice(0, 120)}`, o.strict, () => loadManifest(file, opts));
      }),
      { numRuns: 1_200, seed: SEED + 1 },
    );
  });

  it('caption files: JSON and JSONL', () => {
    fc.assert(
      fc.property(jsonText, jsonlText, fc.boolean(), fc.boolean(), (json, jsonl, strict, checkFiles) => {
        stats.cases++;
        const a = at('caps.json');
        const b = at('caps.jsonl');
        writeFileSync(a, json);
        writeFileSync(b, jsonl);
        call(`captions json ${json.slice(0, 120)}`, strict, () => loadCaptionManifest(a, { strict, checkFiles }));
        call(`captions jsonl ${jsonl.slice(0, 120)}`, strict, () => loadCaptionManifest(b, { strict, checkFiles }));
        call('loadManifest jsonl', strict, () => loadManifest(b, { strict, checkFiles }));
      }),
      { numRuns: 700, seed: SEED + 2 },
    );
  });

  it('class-list files (lines, JSON arrays, name → index objects, broken JSON)', () => {
    fc.assert(
      fc.property(classText, (text) => {
        stats.cases++;
        const file = at('classes-only.txt');
        writeFileSync(file, text);
        const names = call(`classes ${text.slice(0, 120)}`, true, () => readClassList(file));
        if (names) {
          // A list that reads is usable as the class list of a manifest.
          const m = at('with-classes.txt');
          writeFileSync(m, names.slice(0, 3).map((n, i) => `clips/c${i % 2}.mp4 ${n}`).join('\n'));
          call('kinetics with that class list', false, () => loadKineticsManifest(m, { classes: file, strict: false }));
        }
      }),
      { numRuns: 800, seed: SEED + 3 },
    );
  });

  it('folder-of-class-folders trees', () => {
    const folderName = fc
      .oneof(fc.constantFrom('__proto__', 'constructor', 'toString', 'walk', 'run', 'a b', 'é', '🎬', '.hidden', 'x'.repeat(200)), fc.string({ minLength: 1, maxLength: 8 }))
      .filter((n) => n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\u0000') && Buffer.byteLength(n) <= 255);
    const fileName = fc.tuple(folderName, fc.constantFrom('.mp4', '.webm', '.MKV', '.txt', '', '.mp4.part')).map(([n, e]) => (Buffer.byteLength(n + e) <= 255 ? n + e : n));
    let run = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(folderName, fc.array(fileName, { maxLength: 3 })), { maxLength: 5 }),
        fc.option(fc.array(folderName, { maxLength: 4 })),
        fc.boolean(),
        (tree, classes, strict) => {
          stats.cases++;
          const root = at(`tree-${run++}`);
          mkdirSync(root);
          for (const [d, files] of tree) {
            mkdirSync(join(root, d), { recursive: true });
            for (const f of files) if (f !== '') writeFileSync(join(root, d, f), 'x');
          }
          const opts = { strict, ...(classes ? { classes } : {}) };
          call(`folders ${JSON.stringify(tree).slice(0, 120)}`, strict, () => loadFolderDataset(root, opts));
          call('loadManifest folder', strict, () => loadManifest(root, opts));
          rmSync(root, { recursive: true, force: true });
        },
      ),
      { numRuns: 100, seed: SEED + 4 },
    );
  });

  it('ran thousands of cases, none near the per-case limit', () => {
    expect(stats.cases).toBeGreaterThanOrEqual(4_000);
    expect(stats.slowestMs).toBeLessThan(CASE_LIMIT_MS);
  });
});
