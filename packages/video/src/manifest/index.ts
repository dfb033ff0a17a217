/**
 * Dataset manifests: Kinetics-style CSV/TSV, SSv2-style JSON, folder-per-class, and caption files. Relative paths
 * resolve against a data root (default: the manifest's folder). Every problem — a missing file, an unknown
 * label, an unparsable line, a JSON entry with a field of the wrong type — is collected and reported in one
 * {@link ManifestError} (or returned, with `strict: false`, with the bad entries dropped). A manifest or class
 * list that cannot be read or is not valid JSON is a ManifestError naming that file.
 *
 * Names from the data (labels, class names, field names) are only ever looked up in Maps or with own-property
 * checks, so `__proto__`, `constructor` or `toString` are ordinary class names; arrays as long as the data are never
 * spread into call arguments (a few hundred thousand rows would overflow the stack).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { ManifestError, type ManifestProblem } from '../errors.js';
import type { VideoItem } from '../loader.js';

/** Extensions treated as video files. */
export const VIDEO_EXTENSIONS = ['.mp4', '.webm', '.mkv', '.avi', '.mov', '.m4v', '.mpg', '.mpeg', '.gif', '.ogv', '.flv', '.ts'];

/** A loaded dataset: items with resolved paths, the class list, and what was wrong (empty unless `strict: false`). */
export interface VideoDataset {
  items: VideoItem[];
  /** Class names; `item.label` indexes this list. Empty for caption-only datasets. */
  classes: string[];
  root: string;
  problems: ManifestProblem[];
}

/** Options shared by all manifest loaders. */
export interface ManifestOptions {
  /** Folder that relative paths resolve against (default: the manifest's folder). */
  root?: string;
  /**
   * The class list: names in index order, or a path to a file (one name per line, a JSON array, or an SSv2-style
   * JSON object `{name: index}`). When given, labels outside it are reported as 'unknown-label'.
   */
  classes?: readonly string[] | string;
  /** Check that every video file exists (default true). */
  checkFiles?: boolean;
  /** Throw one ManifestError listing every problem (default true); false drops bad entries and returns the problems. */
  strict?: boolean;
  /** Extensions to try for paths given without one (default: mp4, webm, mkv, avi, …). */
  extensions?: readonly string[];
}

/** Numeric labels without a class list name classes 0..max; a label this large or larger is refused. */
export const MAX_NUMERIC_LABEL = 100_000;

/** Reads a manifest or class-list file as text (BOM removed); a ManifestError naming the file if it cannot. */
function readText(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a folder' : err.message;
    throw new ManifestError(file, [{ kind: 'missing-file', path: file, message: `cannot read ${file}: ${why}` }]);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** JSON.parse with a ManifestError naming the file. */
function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ManifestError(file, [{ kind: 'parse', message: `not valid JSON: ${(e as Error).message}` }]);
  }
}

/** A short, safe description of a JSON value for messages (never calls a user-supplied toString). */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return `${typeof v} ${String(v)}`;
}

/** A class name from a JSON array entry: strings, and finite numbers as their decimal text. */
function nameOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Adds a 'duplicate' problem to `problems` for each repeated name of a class list. */
function findDuplicates(names: readonly string[], problems: ManifestProblem[], where: (i: number) => number): void {
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    const first = seen.get(n);
    if (first === undefined) seen.set(n, i);
    else problems.push({ kind: 'duplicate', line: where(i), label: n, message: `duplicate class "${n}" (first at ${where(first)})` });
  });
}

/**
 * Reads a class list file (lines, JSON array, or JSON object name → index). Throws one {@link ManifestError}
 * naming the file for a file that cannot be read, malformed JSON, entries that are not names, indices that are not
 * exactly 0..n-1, and duplicate names.
 */
export function readClassList(file: string): string[] {
  const text = readText(file);
  const trimmed = text.trim();
  const problems: ManifestProblem[] = [];
  let out: string[];
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    const json = parseJson(file, trimmed);
    if (Array.isArray(json)) {
      out = [];
      for (let i = 0; i < json.length; i++) {
        const n = nameOf(json[i]);
        if (n === undefined) problems.push({ kind: 'parse', line: i, message: `entry ${i}: a class name must be a string, got ${describe(json[i])}` });
        else out.push(n);
      }
      if (problems.length === 0) findDuplicates(out, problems, (i) => i);
    } else if (json !== null && typeof json === 'object') {
      const byIndex = new Map<number, string>();
      const entries = Object.entries(json as Record<string, unknown>);
      for (const [name, idx] of entries) {
        const k = typeof idx === 'number' ? idx : typeof idx === 'string' && /^\d+$/.test(idx.trim()) ? Number(idx.trim()) : Number.NaN;
        if (!Number.isSafeInteger(k) || k < 0) {
          problems.push({ kind: 'parse', field: name, label: name, message: `class "${name}": the index must be a non-negative integer, got ${describe(idx)}` });
          continue;
        }
        const other = byIndex.get(k);
        if (other !== undefined) problems.push({ kind: 'duplicate', field: name, label: name, message: `class "${name}": index ${k} is also "${other}"` });
        else byIndex.set(k, name);
      }
      out = [];
      if (problems.length === 0) {
        for (let i = 0; i < entries.length; i++) {
          const n = byIndex.get(i);
          if (n === undefined) {
            problems.push({ kind: 'parse', message: `class indices are not 0..${entries.length - 1} (no class has index ${i})` });
            break;
          }
          out.push(n);
        }
      }
    } else {
      problems.push({ kind: 'parse', message: `expected a JSON array of names or an object {name: index}, got ${describe(json)}` });
      out = [];
    }
  } else {
    const lines = text.split(/\r?\n/);
    out = [];
    const lineOf: number[] = [];
    lines.forEach((l, i) => {
      const t = l.trim();
      if (t.length === 0) return;
      out.push(t);
      lineOf.push(i + 1);
    });
    findDuplicates(out, problems, (i) => lineOf[i]);
  }
  if (problems.length > 0) throw new ManifestError(file, problems);
  return out;
}

/** The class list of an options object (a file is read; an array is checked: strings, no duplicates). */
function classList(classes: ManifestOptions['classes'], manifest: string): string[] | undefined {
  if (classes === undefined) return undefined;
  if (typeof classes === 'string') return readClassList(classes);
  if (!Array.isArray(classes)) throw new ManifestError(manifest, [{ kind: 'parse', message: `options.classes must be an array of names or a file path, got ${describe(classes)}` }]);
  const out: string[] = [];
  const problems: ManifestProblem[] = [];
  for (let i = 0; i < classes.length; i++) {
    const n: unknown = classes[i];
    if (typeof n === 'string') out.push(n);
    else problems.push({ kind: 'parse', line: i, message: `options.classes[${i}] must be a string, got ${describe(n)}` });
  }
  if (problems.length === 0) findDuplicates(out, problems, (i) => i);
  if (problems.length > 0) throw new ManifestError(manifest, problems);
  return out;
}

/** Shared resolution/validation for manifest loaders. */
class Builder {
  readonly problems: ManifestProblem[] = [];
  items: VideoItem[] = [];
  readonly root: string;
  private readonly fixed: string[] | undefined;
  private readonly classIndex = new Map<string, number>();
  private readonly check: boolean;
  private readonly exts: readonly string[];
  private readonly pendingNames: Array<{ item: VideoItem; name: string }> = [];
  /** The path `resolvePath` last found on disk (so `add` does not stat it a second time). */
  private lastFound: string | undefined;

  constructor(
    readonly manifest: string,
    private readonly options: ManifestOptions,
    defaultRoot: string,
  ) {
    this.root = resolve(options.root ?? defaultRoot);
    this.fixed = classList(options.classes, manifest);
    this.fixed?.forEach((c, i) => this.classIndex.set(c, i));
    this.check = options.checkFiles ?? true;
    this.exts = options.extensions ?? VIDEO_EXTENSIONS;
  }

  /** Resolves a manifest path against the root; tries extensions when the path has none and does not exist. */
  resolvePath(p: string, extraDirs: string[] = []): string {
    const base = isAbsolute(p) ? p : join(this.root, p);
    if (!this.check) return base;
    const found = (c: string) => {
      this.lastFound = c;
      return c;
    };
    if (existsSync(base)) return found(base);
    const candidates = [base];
    for (const d of extraDirs) candidates.push(join(this.root, d, p));
    for (const c of candidates) {
      if (existsSync(c)) return found(c);
      if (!VIDEO_EXTENSIONS.includes(extname(c).toLowerCase())) {
        for (const e of this.exts) if (existsSync(c + e)) return found(c + e);
      }
    }
    return base;
  }

  add(item: VideoItem, line: number | undefined, labelToken?: string): void {
    if (this.check && item.path !== this.lastFound && !existsSync(item.path)) {
      this.problems.push({ kind: 'missing-file', line, path: item.path, message: `missing file ${item.path}` });
      return;
    }
    if (labelToken !== undefined) {
      const t = labelToken.trim();
      if (this.fixed) {
        const byName = this.classIndex.get(t);
        const asInt = /^\d+$/.test(t) ? Number(t) : undefined;
        if (byName !== undefined) {
          item.label = byName;
          item.labelName = t;
        } else if (asInt !== undefined && asInt < this.fixed.length) {
          item.label = asInt;
          item.labelName = this.fixed[asInt];
        } else {
          this.problems.push({ kind: 'unknown-label', line, path: item.path, label: t, message: `unknown label "${t}" for ${item.path}` });
          return;
        }
      } else if (/^\d+$/.test(t)) {
        const n = Number(t);
        if (!(n < MAX_NUMERIC_LABEL)) {
          this.problems.push({
            kind: 'unknown-label',
            line,
            path: item.path,
            label: t,
            message: `label ${t.length > 24 ? `${t.slice(0, 24)}…` : t} for ${item.path} is too large to number classes 0..${t.length > 24 ? '…' : t} (at most ${MAX_NUMERIC_LABEL - 1} without a class list; pass \`classes\`)`,
          });
          return;
        }
        item.label = n;
      } else {
        this.pendingNames.push({ item, name: t });
        item.labelName = t;
      }
    }
    this.items.push(item);
  }

  parseProblem(line: number | undefined, message: string, field?: string): void {
    this.problems.push({ kind: 'parse', line, ...(field !== undefined ? { field } : {}), message });
  }

  finish(): VideoDataset {
    let classes: string[];
    if (this.fixed) classes = this.fixed;
    else if (this.pendingNames.length > 0) {
      const isNumeric = (i: VideoItem) => i.label !== undefined && i.labelName === undefined;
      const numeric = this.items.filter(isNumeric);
      if (numeric.length > 0) {
        this.problems.push({ kind: 'parse', message: `mixed numeric and named labels without a class list (${numeric.length} numeric, ${this.pendingNames.length} named); the numerically labelled entries are dropped` });
        // Their numbers do not index the named classes: keep them out of the dataset.
        this.items = this.items.filter((i) => !isNumeric(i));
      }
      classes = [...new Set(this.pendingNames.map((p) => p.name))].sort();
      const idx = new Map(classes.map((c, i) => [c, i] as const));
      for (const p of this.pendingNames) p.item.label = idx.get(p.name);
    } else {
      // A loop, not Math.max(...labels): spreading a few hundred thousand labels overflows the call stack.
      let max = -1;
      for (const i of this.items) if (i.label !== undefined && i.label > max) max = i.label;
      classes = max >= 0 ? Array.from({ length: max + 1 }, (_, i) => String(i)) : [];
    }
    if (this.problems.length > 0 && (this.options.strict ?? true)) throw new ManifestError(this.manifest, this.problems);
    return { items: this.items, classes, root: this.root, problems: this.problems };
  }
}

function splitLine(line: string, sep: 'tab' | 'comma' | 'space'): string[] {
  if (sep === 'tab') return line.split('\t');
  if (sep === 'space') return line.trim().split(/\s+/);
  // Minimal CSV: quoted fields with "" escapes.
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') q = false;
      else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function detectSeparator(lines: string[]): 'tab' | 'comma' | 'space' {
  const sample = lines.slice(0, 20);
  if (sample.some((l) => l.includes('\t'))) return 'tab';
  if (sample.some((l) => l.includes(','))) return 'comma';
  return 'space';
}

const PATH_KEYS = ['path', 'video', 'filename', 'file', 'video_path', 'video_id', 'clip', 'name'];
const LABEL_KEYS = ['label', 'class', 'category', 'label_name', 'class_name'];

/**
 * Kinetics-style CSV/TSV/space-separated manifest: `path label` per line (label a class index or name), optionally
 * with a header naming the columns. The official Kinetics CSV header (`label,youtube_id,time_start,time_end,…`)
 * maps to files named `{youtube_id}_{start:06}_{end:06}.mp4`, found in the root or in `root/{label}/`.
 */
export function loadKineticsManifest(file: string, options: ManifestOptions = {}): VideoDataset {
  const b = new Builder(file, options, dirname(resolve(file)));
  const lines = readText(file).split(/\r?\n/);
  const nonEmpty = lines.filter((l) => l.trim().length > 0 && !l.trimStart().startsWith('#'));
  const sep = detectSeparator(nonEmpty);
  let header: string[] | undefined;
  let first = true;
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim().length === 0 || raw.trimStart().startsWith('#')) return;
    const cols = splitLine(raw, sep).map((c) => c.trim());
    if (first) {
      first = false;
      const lower = cols.map((c) => c.toLowerCase());
      if (lower.some((c) => PATH_KEYS.includes(c) || c === 'youtube_id') && lower.some((c) => LABEL_KEYS.includes(c) || c === 'youtube_id')) {
        header = lower;
        return;
      }
    }
    if (header) {
      const get = (keys: string[]) => {
        const k = header!.findIndex((h) => keys.includes(h));
        return k >= 0 ? cols[k] : undefined;
      };
      const label = get(LABEL_KEYS);
      const yt = get(['youtube_id']);
      let rel = get(PATH_KEYS.filter((k) => k !== 'video_id' || !yt));
      if (yt && !header.some((h) => PATH_KEYS.slice(0, 6).includes(h))) {
        const pad = (s: string | undefined) => String(Math.round(Number(s ?? 0))).padStart(6, '0');
        rel = `${yt}_${pad(get(['time_start']))}_${pad(get(['time_end']))}`;
      }
      if (!rel) return b.parseProblem(line, `line ${line}: no path column value`);
      b.add({ path: b.resolvePath(rel, label ? [label, label.replace(/ /g, '_')] : []), id: yt ?? basename(rel) }, line, label);
      return;
    }
    if (cols.length < 2) {
      // A path alone: an unlabelled item.
      if (cols[0]) b.add({ path: b.resolvePath(cols[0]) }, line);
      return;
    }
    const path = sep === 'space' ? raw.trim().replace(/\s+\S+$/, '') : cols[0];
    const label = cols[cols.length - 1];
    b.add({ path: b.resolvePath(path) }, line, label);
  });
  return b.finish();
}

/**
 * SSv2-style JSON: an array of `{id, template?, label?, placeholders?}`. The class is the template with its
 * brackets removed ("Pushing [something] from left to right" → "Pushing something from left to right"), looked
 * up in `classes` (e.g. the official `something-something-v2-labels.json`); the filled-in `label` becomes the
 * caption. Videos are `{root}/{id}{ext}` (default ext .webm, other extensions tried). `id` must be a non-empty
 * string or a non-negative integer, `template` and `label` strings when present; other entries are parse problems
 * naming the entry index and the field.
 */
export function loadSsv2Manifest(file: string, options: ManifestOptions & { videoExtension?: string } = {}): VideoDataset {
  return ssv2FromJson(file, parseJson(file, readText(file)), options);
}

function ssv2FromJson(file: string, entries: unknown, options: ManifestOptions & { videoExtension?: string }): VideoDataset {
  if (!Array.isArray(entries)) throw new ManifestError(file, [{ kind: 'parse', message: `expected a JSON array of {id, template, label}, got ${describe(entries)}` }]);
  const b = new Builder(file, options, dirname(resolve(file)));
  const ext = options.videoExtension ?? '.webm';
  entries.forEach((e: unknown, i) => {
    if (e === null || typeof e !== 'object' || Array.isArray(e)) return b.parseProblem(i, `entry ${i}: expected an object {id, template, label}, got ${describe(e)}`);
    const rec = e as Record<string, unknown>;
    const own = (k: string): unknown => (Object.hasOwn(rec, k) ? rec[k] : undefined);
    const rawId = own('id');
    if (rawId === undefined) return b.parseProblem(i, `entry ${i}: missing "id"`, 'id');
    const id = typeof rawId === 'string' ? rawId.trim() : typeof rawId === 'number' && Number.isSafeInteger(rawId) && rawId >= 0 ? String(rawId) : undefined;
    if (id === undefined || id.length === 0) return b.parseProblem(i, `entry ${i}: "id" must be a non-empty string or a non-negative integer, got ${describe(rawId)}`, 'id');
    const template = own('template');
    const label = own('label');
    for (const [field, v] of [
      ['template', template],
      ['label', label],
    ] as const) {
      if (v !== undefined && typeof v !== 'string') return b.parseProblem(i, `entry ${i} (id ${id}): "${field}" must be a string, got ${describe(v)}`, field);
    }
    const t = template as string | undefined;
    const l = label as string | undefined;
    let path = b.resolvePath(id + ext);
    if (!existsSync(path)) path = b.resolvePath(id);
    const item: VideoItem = { path, id };
    if (l !== undefined && t) item.captions = [l];
    const cls = t ? t.replace(/\[/g, '').replace(/\]/g, '') : l !== undefined && !t ? l : undefined;
    b.add(item, i, cls);
  });
  return b.finish();
}

/** Folder-per-class: `root/<class>/<video>`; classes sorted by name unless `classes` is given. */
export function loadFolderDataset(root: string, options: Omit<ManifestOptions, 'root'> = {}): VideoDataset {
  const abs = resolve(root);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new ManifestError(abs, [{ kind: 'missing-file', path: abs, message: `not a folder: ${abs}` }]);
  const exts = new Set((options.extensions ?? VIDEO_EXTENSIONS).map((e) => e.toLowerCase()));
  let dirs: string[];
  try {
    dirs = readdirSync(abs, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
  } catch (e) {
    throw new ManifestError(abs, [{ kind: 'missing-file', path: abs, message: `cannot read folder ${abs}: ${(e as Error).message}` }]);
  }
  const b = new Builder(abs, { ...options, root: abs, checkFiles: false }, abs);
  const given = classList(options.classes, abs);
  for (const dir of dirs) {
    let files: string[];
    try {
      files = readdirSync(join(abs, dir)).filter((f) => exts.has(extname(f).toLowerCase())).sort();
    } catch (e) {
      b.problems.push({ kind: 'missing-file', path: join(abs, dir), label: dir, message: `cannot read class folder ${join(abs, dir)}: ${(e as Error).message}` });
      continue;
    }
    for (const f of files) b.add({ path: join(abs, dir, f), id: `${dir}/${f}` }, undefined, dir);
  }
  if (given) {
    const present = new Set(dirs);
    for (const c of given) if (!present.has(c)) b.problems.push({ kind: 'missing-file', path: join(abs, c), label: c, message: `class folder ${join(abs, c)} is missing` });
  }
  if (b.items.length === 0 && b.problems.length === 0) b.problems.push({ kind: 'missing-file', path: abs, message: `no video files (${[...exts].join(' ')}) in class folders under ${abs}` });
  return b.finish();
}

const TEXT_KEYS = ['caption', 'text', 'sentence', 'captions', 'sentences', 'description'];

/**
 * Caption files for video-text training: JSON (array of `{video, caption|captions}` or an object `{video: caption(s)}`),
 * JSONL (one object per line), or CSV/TSV (`video<sep>text`, text may contain the separator when it is a comma).
 * Several captions of one video are merged into `item.captions`.
 */
export function loadCaptionManifest(file: string, options: Omit<ManifestOptions, 'classes'> = {}): VideoDataset {
  const b = new Builder(file, options, dirname(resolve(file)));
  const text = readText(file);
  const pairs: Array<{ video: string; texts: string[]; line: number }> = [];
  /** Caption texts of a JSON value: a string / number, or an array of them; otherwise a parse problem. */
  const textsOf = (t: unknown, line: number, what: string, field: string): string[] | undefined => {
    const one = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined);
    const single = one(t);
    if (single !== undefined) return [single];
    if (Array.isArray(t)) {
      const out: string[] = [];
      for (let k = 0; k < t.length; k++) {
        const s = one(t[k]);
        if (s === undefined) {
          b.parseProblem(line, `${what}: caption ${k} must be a string, got ${describe(t[k])}`, field);
          return undefined;
        }
        out.push(s);
      }
      return out;
    }
    b.parseProblem(line, `${what}: the caption must be a string or an array of strings, got ${describe(t)}`, field);
    return undefined;
  };
  const fromObject = (o: unknown, line: number) => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return b.parseProblem(line, `entry ${line}: expected an object, got ${describe(o)}`);
    const rec = o as Record<string, unknown>;
    const own = (k: string): unknown => (Object.hasOwn(rec, k) ? rec[k] : undefined);
    const vk = PATH_KEYS.find((k) => {
      const v = own(k);
      return (typeof v === 'string' && v.trim().length > 0) || (typeof v === 'number' && Number.isFinite(v));
    });
    const tk = TEXT_KEYS.find((k) => own(k) !== undefined);
    if (!vk || !tk) return b.parseProblem(line, `entry ${line}: needs a video key (${PATH_KEYS.join('/')}) and a text key (${TEXT_KEYS.join('/')})`);
    const texts = textsOf(own(tk), line, `entry ${line}`, tk);
    if (texts) pairs.push({ video: String(own(vk)), texts, line });
  };
  const ext = extname(file).toLowerCase();
  const trimmed = text.trim();
  if (ext === '.jsonl' || ext === '.ndjson') {
    text.split(/\r?\n/).forEach((l, i) => {
      if (!l.trim()) return;
      try {
        fromObject(JSON.parse(l), i + 1);
      } catch (e) {
        b.parseProblem(i + 1, `line ${i + 1}: ${(e as Error).message}`);
      }
    });
  } else if (ext === '.json' || trimmed.startsWith('[') || trimmed.startsWith('{')) {
    const json = parseJson(file, trimmed);
    if (Array.isArray(json)) json.forEach((o: unknown, i) => fromObject(o, i));
    else if (json && typeof json === 'object') {
      Object.entries(json as Record<string, unknown>).forEach(([video, t], i) => {
        if (video.trim().length === 0) return b.parseProblem(i, `entry ${i}: empty video name`);
        const texts = textsOf(t, i, `entry ${i} (${video})`, video);
        if (texts) pairs.push({ video, texts, line: i });
      });
    } else {
      throw new ManifestError(file, [{ kind: 'parse', message: `expected a JSON array of {video, caption} or an object {video: caption}, got ${describe(json)}` }]);
    }
  } else {
    const lines = text.split(/\r?\n/);
    const sep = lines.some((l) => l.includes('\t')) ? '\t' : ',';
    lines.forEach((l, i) => {
      if (!l.trim() || l.trimStart().startsWith('#')) return;
      const k = l.indexOf(sep);
      if (k < 0) return b.parseProblem(i + 1, `line ${i + 1}: expected "video${sep === '\t' ? '<TAB>' : ','}text"`);
      const video = l.slice(0, k).trim();
      let t = l.slice(k + 1).trim();
      if (t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1).replace(/""/g, '"');
      if (i === 0 && PATH_KEYS.includes(video.toLowerCase()) && TEXT_KEYS.includes(t.toLowerCase())) return; // header
      pairs.push({ video, texts: [t], line: i + 1 });
    });
  }
  const byPath = new Map<string, VideoItem>();
  for (const p of pairs) {
    const path = b.resolvePath(p.video);
    const existing = byPath.get(path);
    if (existing) {
      for (const t of p.texts) existing.captions!.push(t); // not push(...texts): a long list would overflow the stack
      continue;
    }
    const item: VideoItem = { path, id: p.video, captions: p.texts.slice() };
    const before = b.items.length;
    b.add(item, p.line);
    if (b.items.length > before) byPath.set(path, item);
  }
  return b.finish();
}

/** Picks a loader from the file: a folder → folder-per-class; .json with SSv2 fields → SSv2; captions by content; else CSV/TSV. */
export function loadManifest(path: string, options: ManifestOptions = {}): VideoDataset {
  const abs = resolve(path);
  if (existsSync(abs) && statSync(abs).isDirectory()) return loadFolderDataset(abs, options);
  const ext = extname(abs).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return loadCaptionManifest(abs, options);
  if (ext === '.json') {
    const json = parseJson(abs, readText(abs));
    const first: unknown = Array.isArray(json) ? json[0] : undefined;
    const has = (k: string) => first !== null && typeof first === 'object' && Object.hasOwn(first, k);
    if (has('id') && (has('template') || has('label')) && !TEXT_KEYS.some(has)) return ssv2FromJson(abs, json, options);
    return loadCaptionManifest(abs, options);
  }
  return loadKineticsManifest(abs, options);
}
