/**
 * Dataset manifests: Kinetics-style CSV/TSV, SSv2-style JSON, folder-per-class, and caption files. Relative paths
 * resolve against a data root (default: the manifest's folder). Every problem — a missing file, an unknown
 * label, an unparsable line — is collected and reported in one {@link ManifestError} (or returned, with
 * `strict: false`, with the bad entries dropped).
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

/** Reads a class list file (lines, JSON array, or JSON object name → index). */
export function readClassList(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return (JSON.parse(trimmed) as unknown[]).map(String);
  if (trimmed.startsWith('{')) {
    const obj = JSON.parse(trimmed) as Record<string, string | number>;
    const out: string[] = [];
    for (const [name, idx] of Object.entries(obj)) out[Number(idx)] = name;
    if (out.length !== Object.keys(obj).length || out.some((x) => x === undefined)) throw new Error(`${file}: class indices are not 0..${Object.keys(obj).length - 1}`);
    return out;
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

function classList(classes: ManifestOptions['classes']): string[] | undefined {
  if (classes === undefined) return undefined;
  return typeof classes === 'string' ? readClassList(classes) : [...classes];
}

/** Shared resolution/validation for manifest loaders. */
class Builder {
  readonly problems: ManifestProblem[] = [];
  readonly items: VideoItem[] = [];
  readonly root: string;
  private readonly fixed: string[] | undefined;
  private readonly classIndex = new Map<string, number>();
  private readonly check: boolean;
  private readonly exts: readonly string[];
  private readonly pendingNames: Array<{ item: VideoItem; name: string }> = [];

  constructor(
    readonly manifest: string,
    private readonly options: ManifestOptions,
    defaultRoot: string,
  ) {
    this.root = resolve(options.root ?? defaultRoot);
    this.fixed = classList(options.classes);
    this.fixed?.forEach((c, i) => this.classIndex.set(c, i));
    this.check = options.checkFiles ?? true;
    this.exts = options.extensions ?? VIDEO_EXTENSIONS;
  }

  /** Resolves a manifest path against the root; tries extensions when the path has none and does not exist. */
  resolvePath(p: string, extraDirs: string[] = []): string {
    const base = isAbsolute(p) ? p : join(this.root, p);
    if (!this.check) return base;
    if (existsSync(base)) return base;
    const candidates = [base, ...extraDirs.map((d) => join(this.root, d, p))];
    for (const c of candidates) {
      if (existsSync(c)) return c;
      if (!VIDEO_EXTENSIONS.includes(extname(c).toLowerCase())) {
        for (const e of this.exts) if (existsSync(c + e)) return c + e;
      }
    }
    return base;
  }

  add(item: VideoItem, line: number | undefined, labelToken?: string): void {
    if (this.check && !existsSync(item.path)) {
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
        item.label = Number(t);
      } else {
        this.pendingNames.push({ item, name: t });
        item.labelName = t;
      }
    }
    this.items.push(item);
  }

  parseProblem(line: number | undefined, message: string): void {
    this.problems.push({ kind: 'parse', line, message });
  }

  finish(): VideoDataset {
    let classes: string[];
    if (this.fixed) classes = this.fixed;
    else if (this.pendingNames.length > 0) {
      const numeric = this.items.filter((i) => i.label !== undefined && i.labelName === undefined);
      if (numeric.length > 0) {
        this.problems.push({ kind: 'parse', message: `mixed numeric and named labels without a class list (${numeric.length} numeric, ${this.pendingNames.length} named)` });
      }
      classes = [...new Set(this.pendingNames.map((p) => p.name))].sort();
      const idx = new Map(classes.map((c, i) => [c, i] as const));
      for (const p of this.pendingNames) p.item.label = idx.get(p.name);
    } else {
      const max = Math.max(-1, ...this.items.map((i) => i.label ?? -1));
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
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
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

interface Ssv2Entry {
  id?: string | number;
  template?: string;
  label?: string;
  placeholders?: string[];
}

/**
 * SSv2-style JSON: an array of `{id, template?, label?, placeholders?}`. The class is the template with its
 * brackets removed ("Pushing [something] from left to right" → "Pushing something from left to right"), looked
 * up in `classes` (e.g. the official `something-something-v2-labels.json`); the filled-in `label` becomes the
 * caption. Videos are `{root}/{id}{ext}` (default ext .webm, other extensions tried).
 */
export function loadSsv2Manifest(file: string, options: ManifestOptions & { videoExtension?: string } = {}): VideoDataset {
  const b = new Builder(file, options, dirname(resolve(file)));
  let entries: Ssv2Entry[];
  try {
    entries = JSON.parse(readFileSync(file, 'utf8')) as Ssv2Entry[];
  } catch (e) {
    throw new ManifestError(file, [{ kind: 'parse', message: `not valid JSON: ${(e as Error).message}` }]);
  }
  if (!Array.isArray(entries)) throw new ManifestError(file, [{ kind: 'parse', message: 'expected a JSON array of {id, template, label}' }]);
  const ext = options.videoExtension ?? '.webm';
  entries.forEach((e, i) => {
    if (e === null || typeof e !== 'object' || e.id === undefined) return b.parseProblem(i, `entry ${i}: missing "id"`);
    const id = String(e.id);
    let path = b.resolvePath(id + ext);
    if (!existsSync(path)) path = b.resolvePath(id);
    const item: VideoItem = { path, id };
    if (typeof e.label === 'string' && e.template) item.captions = [e.label];
    const cls = e.template ? e.template.replace(/\[/g, '').replace(/\]/g, '') : typeof e.label === 'string' && !e.template ? e.label : undefined;
    b.add(item, i, cls);
  });
  return b.finish();
}

/** Folder-per-class: `root/<class>/<video>`; classes sorted by name unless `classes` is given. */
export function loadFolderDataset(root: string, options: Omit<ManifestOptions, 'root'> = {}): VideoDataset {
  const abs = resolve(root);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new ManifestError(abs, [{ kind: 'missing-file', path: abs, message: `not a folder: ${abs}` }]);
  const exts = new Set((options.extensions ?? VIDEO_EXTENSIONS).map((e) => e.toLowerCase()));
  const dirs = readdirSync(abs, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
  const b = new Builder(abs, { ...options, root: abs, checkFiles: false }, abs);
  const given = classList(options.classes);
  for (const dir of dirs) {
    const files = readdirSync(join(abs, dir)).filter((f) => exts.has(extname(f).toLowerCase())).sort();
    for (const f of files) b.add({ path: join(abs, dir, f), id: `${dir}/${f}` }, undefined, dir);
  }
  if (given) {
    for (const c of given) if (!dirs.includes(c)) b.problems.push({ kind: 'missing-file', path: join(abs, c), label: c, message: `class folder ${join(abs, c)} is missing` });
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
  const text = readFileSync(file, 'utf8');
  const pairs: Array<{ video: string; texts: string[]; line: number }> = [];
  const fromObject = (o: unknown, line: number) => {
    if (o === null || typeof o !== 'object') return b.parseProblem(line, `entry ${line}: not an object`);
    const rec = o as Record<string, unknown>;
    const vk = PATH_KEYS.find((k) => typeof rec[k] === 'string' || typeof rec[k] === 'number');
    const tk = TEXT_KEYS.find((k) => rec[k] !== undefined);
    if (!vk || !tk) return b.parseProblem(line, `entry ${line}: needs a video key (${PATH_KEYS.join('/')}) and a text key (${TEXT_KEYS.join('/')})`);
    const t = rec[tk];
    const texts = Array.isArray(t) ? t.map(String) : [String(t)];
    pairs.push({ video: String(rec[vk]), texts, line });
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
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (e) {
      throw new ManifestError(file, [{ kind: 'parse', message: `not valid JSON: ${(e as Error).message}` }]);
    }
    if (Array.isArray(json)) json.forEach((o, i) => fromObject(o, i));
    else if (json && typeof json === 'object') {
      Object.entries(json as Record<string, unknown>).forEach(([video, t], i) => {
        pairs.push({ video, texts: Array.isArray(t) ? t.map(String) : [String(t)], line: i });
      });
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
      existing.captions!.push(...p.texts);
      continue;
    }
    const item: VideoItem = { path, id: p.video, captions: [...p.texts] };
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
    const json = JSON.parse(readFileSync(abs, 'utf8')) as unknown;
    const first = Array.isArray(json) ? (json[0] as Record<string, unknown> | undefined) : undefined;
    if (first && 'id' in first && ('template' in first || 'label' in first) && !TEXT_KEYS.some((k) => k in first)) return loadSsv2Manifest(abs, options);
    return loadCaptionManifest(abs, options);
  }
  return loadKineticsManifest(abs, options);
}
