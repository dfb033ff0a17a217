import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaptionManifest, loadFolderDataset, loadKineticsManifest, loadManifest, loadSsv2Manifest, ManifestError } from '../src/index.js';

let root: string;
const touch = (rel: string) => {
  const p = join(root, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, 'x'); // manifests only check existence
  return p;
};
const write = (rel: string, text: string) => {
  const p = join(root, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'flux-manifest-'));
  for (const f of ['videos/a.mp4', 'videos/b.mp4', 'videos/c d.mp4', 'k/abseiling/yt1_000010_000020.mp4', 'k/yt2_000000_000010.mp4']) touch(f);
  for (const f of ['ssv2/101.webm', 'ssv2/102.webm']) touch(f);
  for (const f of ['folders/walk/1.mp4', 'folders/walk/2.webm', 'folders/run/3.mkv', 'folders/run/notes.txt']) touch(f);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('Kinetics-style CSV/TSV', () => {
  it('reads "path label" with spaces, tabs or commas, resolving against the manifest folder or a root', () => {
    const space = loadKineticsManifest(write('space.txt', 'videos/a.mp4 0\nvideos/c d.mp4 2\n\n# comment\nvideos/b.mp4 1\n'));
    expect(space.items.map((i) => [i.path, i.label])).toEqual([
      [join(root, 'videos/a.mp4'), 0],
      [join(root, 'videos/c d.mp4'), 2],
      [join(root, 'videos/b.mp4'), 1],
    ]);
    expect(space.classes).toEqual(['0', '1', '2']);
    const tsv = loadKineticsManifest(write('lists/train.tsv', 'a.mp4\tjump\nb.mp4\trun\n'), { root: join(root, 'videos') });
    expect(tsv.classes).toEqual(['jump', 'run']);
    expect(tsv.items.map((i) => [i.label, i.labelName])).toEqual([
      [0, 'jump'],
      [1, 'run'],
    ]);
    const csv = loadKineticsManifest(write('h.csv', 'path,label\nvideos/a,run\n"videos/c d.mp4",jump\n'), { classes: ['run', 'jump'] });
    expect(csv.items.map((i) => [i.path, i.label])).toEqual([
      [join(root, 'videos/a.mp4'), 0], // extension found
      [join(root, 'videos/c d.mp4'), 1],
    ]);
  });

  it('maps the official Kinetics CSV (label,youtube_id,time_start,time_end) to downloaded file names', () => {
    const ds = loadKineticsManifest(write('k/train.csv', 'label,youtube_id,time_start,time_end,split\nabseiling,yt1,10,20,train\n"air drumming",yt2,0,10,train\n'));
    expect(ds.items.map((i) => i.path)).toEqual([join(root, 'k/abseiling/yt1_000010_000020.mp4'), join(root, 'k/yt2_000000_000010.mp4')]);
    expect(ds.classes).toEqual(['abseiling', 'air drumming']);
  });

  it('collects every missing file and unknown label into one error', () => {
    const file = write('bad.txt', 'videos/a.mp4 walk\nvideos/nope.mp4 walk\nvideos/b.mp4 fly\nvideos/gone.mp4 swim\nvideos/c d.mp4 7\n');
    let err: unknown;
    try {
      loadKineticsManifest(file, { classes: ['walk', 'run'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ManifestError);
    const m = err as ManifestError;
    expect(m.problems.map((p) => [p.kind, p.line])).toEqual([
      ['missing-file', 2],
      ['unknown-label', 3],
      ['missing-file', 4],
      ['unknown-label', 5],
    ]);
    expect(m.message).toContain('2 missing-file, 2 unknown-label');
    expect(m.message).toContain('nope.mp4');
    expect(m.message).toContain('"fly"');
    const lenient = loadKineticsManifest(file, { classes: ['walk', 'run'], strict: false });
    expect(lenient.items.map((i) => i.path)).toEqual([join(root, 'videos/a.mp4')]);
    expect(lenient.problems.length).toBe(4);
  });

  it('reads a class list file (lines, JSON array, or SSv2 name→index object)', () => {
    const lines = write('classes.txt', 'walk\nrun\n');
    expect(loadKineticsManifest(write('l1.txt', 'videos/a.mp4 run\n'), { classes: lines }).items[0].label).toBe(1);
    const obj = write('labels.json', JSON.stringify({ run: '0', walk: '1' }));
    expect(loadKineticsManifest(write('l2.txt', 'videos/a.mp4 run\n'), { classes: obj }).items[0].label).toBe(0);
  });
});

describe('SSv2-style JSON', () => {
  it('uses the bracket-free template as the class and the filled-in label as caption', () => {
    const labels = write('ssv2/labels.json', JSON.stringify({ 'Pushing something from left to right': '0', 'Holding something': '1' }));
    const file = write(
      'ssv2/train.json',
      JSON.stringify([
        { id: '101', label: 'pushing a cup from left to right', template: 'Pushing [something] from left to right', placeholders: ['a cup'] },
        { id: 102, label: 'holding a pen', template: 'Holding [something]', placeholders: ['a pen'] },
      ]),
    );
    const ds = loadSsv2Manifest(file, { classes: labels });
    expect(ds.items.map((i) => [i.path, i.label, i.captions?.[0]])).toEqual([
      [join(root, 'ssv2/101.webm'), 0, 'pushing a cup from left to right'],
      [join(root, 'ssv2/102.webm'), 1, 'holding a pen'],
    ]);
    expect(loadManifest(file, { classes: labels }).items.length).toBe(2);
    const bad = write('ssv2/bad.json', JSON.stringify([{ id: '103', template: 'Spinning [something]' }, { template: 'x' }]));
    expect(() => loadSsv2Manifest(bad, { classes: labels })).toThrow(/missing file.*103\.webm[\s\S]*unknown label "Spinning something"|missing "id"/);
    try {
      loadSsv2Manifest(bad, { classes: labels });
    } catch (e) {
      expect((e as ManifestError).problems.map((p) => p.kind)).toEqual(['missing-file', 'parse']);
    }
  });
});

describe('folder-per-class', () => {
  it('labels videos by sorted folder name and ignores non-videos', () => {
    const ds = loadFolderDataset(join(root, 'folders'));
    expect(ds.classes).toEqual(['run', 'walk']);
    expect(ds.items.map((i) => [i.id, i.label])).toEqual([
      ['run/3.mkv', 0],
      ['walk/1.mp4', 1],
      ['walk/2.webm', 1],
    ]);
    expect(loadManifest(join(root, 'folders')).items.length).toBe(3);
    expect(() => loadFolderDataset(join(root, 'folders'), { classes: ['run', 'walk', 'swim'] })).toThrow(ManifestError);
  });
});

describe('caption files', () => {
  it('reads JSON, JSONL and TSV (video, text) pairs and merges captions per video', () => {
    const json = loadCaptionManifest(write('videos/caps.json', JSON.stringify([{ video: 'a.mp4', caption: 'a dog runs' }, { video: 'a.mp4', caption: 'a dog is running' }, { video: 'b', captions: ['x', 'y'] }])));
    expect(json.items.map((i) => [i.path, i.captions])).toEqual([
      [join(root, 'videos/a.mp4'), ['a dog runs', 'a dog is running']],
      [join(root, 'videos/b.mp4'), ['x', 'y']],
    ]);
    const jsonl = loadCaptionManifest(write('videos/caps.jsonl', '{"video_id": "a.mp4", "text": "one"}\n{"path": "b.mp4", "sentence": "two"}\n'));
    expect(jsonl.items.map((i) => i.captions)).toEqual([['one'], ['two']]);
    const tsv = loadCaptionManifest(write('videos/caps.tsv', 'video\tcaption\na.mp4\ta man, a plan\n'));
    expect(tsv.items[0].captions).toEqual(['a man, a plan']);
    const csv = loadCaptionManifest(write('videos/caps.csv', 'a.mp4,"he said ""hi"", twice"\nmissing.mp4,gone\n'), { strict: false });
    expect(csv.items[0].captions).toEqual(['he said "hi", twice']);
    expect(csv.problems.map((p) => p.kind)).toEqual(['missing-file']);
    expect(() => loadCaptionManifest(write('videos/broken.jsonl', '{"video": "a.mp4"}\nnot json\n'))).toThrow(/2 problem\(s\) \(2 parse\)/);
  });
});
