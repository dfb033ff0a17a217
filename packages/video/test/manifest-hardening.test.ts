/**
 * Manifests at Kinetics scale, malformed JSON / class lists / SSv2 entries, and class names that are also
 * Object.prototype property names.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaptionManifest, loadFolderDataset, loadKineticsManifest, loadManifest, loadSsv2Manifest, ManifestError, readClassList, type VideoDataset } from '../src/index.js';

let root: string;
const write = (rel: string, text: string) => {
  const p = join(root, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
};
const touch = (rel: string) => write(rel, 'x'); // manifests only check existence

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'flux-manifest-hardening-'));
  for (let i = 0; i < 64; i++) touch(`clips/c${i}.mp4`);
  for (const f of ['ssv2/1.webm', 'ssv2/2.webm', 'ssv2/3.webm', 'ssv2/4.webm', 'videos/a.mp4', 'videos/b.mp4']) touch(f);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The error a call throws (fails the test if it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** A ManifestError naming `file` whose message says `pattern`. */
function expectManifestError(fn: () => unknown, file: string, pattern: RegExp): ManifestError {
  const e = thrown(fn);
  expect(`${(e as Error).name}: ${(e as Error).message}`).toMatch(/^ManifestError: /);
  expect(e).toBeInstanceOf(ManifestError);
  const m = e as ManifestError;
  expect(m.manifest).toBe(file);
  expect(m.message).toContain(file);
  expect(m.message).toMatch(pattern);
  return m;
}

/** Every item's label indexes `classes` and agrees with its labelName. */
function expectConsistent(ds: VideoDataset): void {
  for (const it of ds.items) {
    if (it.label === undefined) continue;
    expect(Number.isInteger(it.label) && it.label >= 0 && it.label < ds.classes.length).toBe(true);
    if (it.labelName !== undefined) expect(ds.classes[it.label]).toBe(it.labelName);
  }
}

describe('Kinetics-scale manifests (no spread of user-sized arrays)', () => {
  it('loads a 300k-row "path label" CSV with numeric labels in bounded time', () => {
    const rows = 300_000;
    const lines: string[] = ['path,label'];
    for (let i = 0; i < rows; i++) lines.push(`clips/c${i % 64}.mp4,${i % 400}`);
    const file = write('k300k.csv', lines.join('\n') + '\n');
    const t0 = performance.now();
    const ds = loadKineticsManifest(file); // checkFiles: true — every row is checked against the 64 real files
    const ms = performance.now() - t0;
    console.log(`[manifest-hardening] 300k-row numeric-label CSV (checkFiles: true) loaded in ${ms.toFixed(0)} ms`);
    expect(ds.items.length).toBe(rows);
    expect(ds.classes.length).toBe(400);
    expect(ds.items[299_999].label).toBe(299_999 % 400);
    expect(ds.problems).toEqual([]);
    expect(ms).toBeLessThan(20_000);
  }, 60_000);

  it('loads a 150k-row space-separated list with named labels and checkFiles: false', () => {
    const lines: string[] = [];
    for (let i = 0; i < 150_000; i++) lines.push(`v/${i}.mp4 class_${i % 700}`);
    const file = write('k300k-named.txt', lines.join('\n'));
    const t0 = performance.now();
    const ds = loadKineticsManifest(file, { checkFiles: false });
    const ms = performance.now() - t0;
    console.log(`[manifest-hardening] 150k-row named-label list (checkFiles: false) loaded in ${ms.toFixed(0)} ms`);
    expect(ds.items.length).toBe(150_000);
    expect(ds.classes.length).toBe(700);
    expect(ms).toBeLessThan(20_000);
  }, 60_000);

  it('merges a caption list longer than the argument limit', () => {
    const many = Array.from({ length: 200_000 }, (_, i) => `caption ${i}`);
    const file = write('videos/many-captions.json', JSON.stringify([{ video: 'a.mp4', caption: 'first' }, { video: 'a.mp4', captions: many }]));
    const ds = loadCaptionManifest(file);
    expect(ds.items.length).toBe(1);
    expect(ds.items[0].captions!.length).toBe(200_001);
  });
});

describe('malformed JSON manifests and class lists: typed errors naming the file', () => {
  it('loadManifest on broken or odd JSON', () => {
    const broken = write('broken.json', '[{"id": "1", "template": "x"');
    expectManifestError(() => loadManifest(broken), broken, /not valid JSON/);
    const numbers = write('numbers.json', '[5, 6]');
    const m = expectManifestError(() => loadManifest(numbers), numbers, /entry 0/);
    expect(m.problems.every((p) => p.kind === 'parse')).toBe(true);
    const missing = join(root, 'nope.json');
    expect(expectManifestError(() => loadManifest(missing), missing, /cannot read|no such file/).problems[0].kind).toBe('missing-file');
    const missingCsv = join(root, 'nope.csv');
    expectManifestError(() => loadKineticsManifest(missingCsv), missingCsv, /cannot read|no such file/);
  });

  it('class-list files: malformed JSON, bad entries, bad indices, duplicates, missing file', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['cl-broken.json', '["walk", "run"', /not valid JSON/],
      ['cl-objects.json', '["walk", {"toString": 1}, null]', /entry 1.*must be a string/],
      ['cl-idx.json', '{"walk": 0, "run": {"x": 1}}', /"run".*index/],
      ['cl-gap.json', '{"walk": 0, "run": 2}', /indices/],
      ['cl-dup-idx.json', '{"walk": 0, "run": 0}', /indices|duplicate/],
      ['cl-dup.txt', 'walk\nrun\nwalk\n', /duplicate.*walk/],
      ['cl-scalar.json', '{"walk": 0, "run": "1.5"}', /"run".*index/],
    ];
    for (const [name, text, pattern] of cases) {
      const f = write(name, text);
      expectManifestError(() => readClassList(f), f, pattern);
      // As a manifest option, the class list's own error comes through.
      const manifest = write(`uses-${name}.txt`, 'videos/a.mp4 walk\n');
      expectManifestError(() => loadKineticsManifest(manifest, { classes: f }), f, pattern);
    }
    const gone = join(root, 'no-classes.txt');
    expectManifestError(() => readClassList(gone), gone, /cannot read|no such file/);
  });

  it('SSv2 entries with non-string fields are parse problems naming the entry and the field', () => {
    const file = write(
      'ssv2/typed.json',
      JSON.stringify([
        { id: '1', template: 'Holding [something]', label: 'holding a pen' },
        { id: 2, template: 5 },
        { id: '3', template: null },
        { id: { toString: 1 }, template: 'Holding [something]' },
        { id: '4', template: { nested: ['x'] } },
        { id: '4', template: 'Holding [something]', label: ['x'] },
        { id: '', template: 'Holding [something]' },
        { id: 1.5, template: 'Holding [something]' },
        'just a string',
        null,
      ]),
    );
    const m = expectManifestError(() => loadSsv2Manifest(file), file, /entry 1 \(id 2\): "template" must be a string/);
    expect(m.problems.map((p) => [p.kind, p.line, p.field])).toEqual([
      ['parse', 1, 'template'],
      ['parse', 2, 'template'],
      ['parse', 3, 'id'],
      ['parse', 4, 'template'],
      ['parse', 5, 'label'],
      ['parse', 6, 'id'],
      ['parse', 7, 'id'],
      ['parse', 8, undefined],
      ['parse', 9, undefined],
    ]);
    const lenient = loadSsv2Manifest(file, { strict: false });
    expect(lenient.items.map((i) => [i.id, i.labelName])).toEqual([['1', 'Holding something']]);
    expect(lenient.problems.length).toBe(9);
    // loadManifest routes it the same way.
    expect(loadManifest(file, { strict: false }).items.length).toBe(1);
  });

  it('caption files with object captions are parse problems, not TypeErrors', () => {
    const obj = write('videos/obj-caps.json', JSON.stringify({ 'a.mp4': { toString: 1 }, 'b.mp4': 'fine' }));
    const m = expectManifestError(() => loadCaptionManifest(obj), obj, /entry 0/);
    expect(m.problems.map((p) => p.kind)).toEqual(['parse']);
    const arr = write('videos/arr-caps.json', JSON.stringify([{ video: 'a.mp4', captions: ['ok', { toString: 1 }] }, { video: 'b.mp4', caption: null }]));
    expect(expectManifestError(() => loadCaptionManifest(arr), arr, /entry 0/).problems.length).toBe(2);
  });

  it('numeric labels too large to number classes are problems, not a RangeError', () => {
    const file = write('huge-label.txt', 'videos/a.mp4 99999999999999999999\nvideos/b.mp4 1\n');
    const m = expectManifestError(() => loadKineticsManifest(file), file, /too large/);
    expect(m.problems.map((p) => [p.kind, p.line])).toEqual([['unknown-label', 1]]);
    const ds = loadKineticsManifest(file, { strict: false });
    expect(ds.classes.length).toBe(2);
    expectConsistent(ds);
  });

  it('mixed numeric and named labels (lenient) never return a label outside the class list', () => {
    const file = write('mixed.txt', 'videos/a.mp4 7\nvideos/b.mp4 run\n');
    const ds = loadKineticsManifest(file, { strict: false });
    expect(ds.problems.map((p) => p.kind)).toEqual(['parse']);
    expectConsistent(ds);
    expect(ds.items.map((i) => i.labelName)).toEqual(['run']);
  });
});

describe('class names that are Object.prototype property names are ordinary classes', () => {
  const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

  it('Kinetics labels, with and without a class list (array, lines file, JSON array, SSv2 name → index object)', () => {
    const lines = names.map((n, i) => `clips/c${i}.mp4 ${n}`).join('\n');
    const file = write('proto.txt', lines);
    const auto = loadKineticsManifest(file);
    expect(auto.classes).toEqual([...names].sort());
    expectConsistent(auto);
    expect(auto.items.map((i) => i.labelName)).toEqual(names);
    const lists: Array<readonly string[] | string> = [
      names,
      write('proto-classes.txt', names.join('\n')),
      write('proto-classes-array.json', JSON.stringify(names)),
      write('proto-classes-obj.json', `{${names.map((n, i) => `"${n}": ${i}`).join(', ')}}`),
      write('proto-classes-objstr.json', `{${names.map((n, i) => `"${n}": "${i}"`).join(', ')}}`),
    ];
    for (const classes of lists) {
      expect(readClassListOr(classes)).toEqual(names);
      const ds = loadKineticsManifest(file, { classes });
      expect(ds.items.map((i) => [i.label, i.labelName])).toEqual(names.map((n, i) => [i, n]));
      expect(ds.classes).toEqual(names);
    }
    // Unknown prototype-ish names are still unknown.
    const other = write('proto-unknown.txt', 'clips/c0.mp4 isPrototypeOf\n');
    expect(thrown(() => loadKineticsManifest(other, { classes: names }))).toBeInstanceOf(ManifestError);
    // A header CSV with such labels.
    const csv = write('proto.csv', `path,label\n${names.map((n, i) => `clips/c${i}.mp4,${n}`).join('\n')}\n`);
    expect(loadKineticsManifest(csv).items.map((i) => i.labelName)).toEqual(names);
  });

  it('SSv2 templates, folder names and caption video names', () => {
    const file = write('ssv2/proto.json', JSON.stringify(names.slice(0, 4).map((n, i) => ({ id: String(i + 1), template: n, label: n }))));
    const ds = loadSsv2Manifest(file, { classes: names });
    expect(ds.items.map((i) => i.label)).toEqual([0, 1, 2, 3]);
    const viaLoad = loadManifest(file);
    expect(viaLoad.items.map((i) => i.labelName)).toEqual(names.slice(0, 4));
    expectConsistent(viaLoad);
    for (const n of names) touch(`proto-folders/${n}/1.mp4`);
    const folders = loadFolderDataset(join(root, 'proto-folders'));
    expect(folders.classes).toEqual([...names].sort());
    expectConsistent(folders);
    expect(loadFolderDataset(join(root, 'proto-folders'), { classes: names }).items.length).toBe(5);
    for (const n of names) touch(`proto-caps/${n}.mp4`);
    const caps = write('proto-caps/caps.json', `{${names.map((n) => `"${n}": "a caption of ${n}"`).join(', ')}}`);
    const c = loadCaptionManifest(caps);
    expect(c.items.map((i) => i.captions)).toEqual(names.map((n) => [`a caption of ${n}`]));
  });
});

function readClassListOr(classes: readonly string[] | string): readonly string[] {
  return typeof classes === 'string' ? readClassList(classes) : classes;
}
