/**
 * A resumable run directory:
 *
 * ```
 * <dir>/config.json            the run's configuration (written once, checked on resume)
 * <dir>/metrics.jsonl          one JSON object per line (see MetricsLogger)
 * <dir>/checkpoints/step-000100/…   one folder per checkpoint, complete or absent
 * <dir>/checkpoints/latest.json     {"step":100,"dir":"step-000100"}, written last
 * ```
 *
 * A checkpoint folder is filled under a temporary name and renamed into place, and `latest.json` is
 * replaced atomically afterwards, so a crash or a full disk at any point leaves the previous checkpoint
 * intact and `latestCheckpoint()` never points at a partial one.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { atomicWriteFile, atomicWriteFileSync } from './atomic.js';

/** The checksum record every checkpoint folder holds, written last: `{ "algorithm": "sha256", "files": { name: hex } }`. */
export const CHECKSUMS_FILE = 'checksums.json';

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The text of a `checksums.json` record for `files` (name → the bytes written), as {@link verifyFolder} reads it. */
export function checksumRecord(files: Record<string, Uint8Array | string>): string {
  const sums: Record<string, string> = {};
  for (const [name, data] of Object.entries(files)) sums[name] = sha256(data);
  return JSON.stringify({ algorithm: 'sha256', files: sums }, null, 2) + '\n';
}

/** Whether process `pid` is alive on this machine (EPERM: alive but not ours). */
function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Matches the temporaries this module and atomicWriteFile create: `x.tmp-<pid>`, `x.tmp-<pid>-<n>`, `x.old-<pid>`. */
const TEMP = /\.(?:tmp|old)-(\d+)(?:-\d+)?$/;

/**
 * Removes temporaries left in `dir` (one level, plus `checkpoints/`) by processes that no longer run — what a
 * kill -9 during a checkpoint or an atomic write leaves. Returns the removed paths.
 */
export function removeStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  for (const d of [dir, path.join(dir, 'checkpoints')]) {
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = TEMP.exec(name);
      if (!m || pidAlive(Number(m[1]))) continue;
      const p = path.join(d, name);
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
    }
  }
  return removed;
}

/** Result of {@link RunDir.verifyCheckpoint}. */
export interface CheckpointCheck {
  ok: boolean;
  /** Why not (a missing checksum record, a missing file, a mismatching file). */
  problem?: string;
  /** True when the folder has no checksum record at all (written before checksums existed), rather than a bad one. */
  noRecord?: boolean;
}

export interface OpenRunDirOptions {
  /** Continue an existing run (its config must match, see {@link RunDir.writeConfig}). Default false. */
  resume?: boolean;
  /** Refuse a non-empty directory unless resuming (default true). With false, an existing run is overwritten. */
  failIfExists?: boolean;
  /** Keep this many most recent checkpoints (default 2; 0 keeps all). */
  keep?: number;
}

export interface CheckpointRef {
  step: number;
  /** Absolute path of the checkpoint folder. */
  path: string;
}

/** Raised for run-directory misuse: resuming a missing run, starting over an existing one, a config mismatch. */
export class RunDirError extends Error {
  override name = 'RunDirError';
}

const STEP_DIR = /^step-(\d+)$/;

function stepDirName(step: number): string {
  if (!Number.isInteger(step) || step < 0) throw new RunDirError(`checkpoint step must be a non-negative integer, got ${step}`);
  return `step-${String(step).padStart(6, '0')}`;
}

function describeFsError(err: unknown, what: string): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  const cause = code === 'ENOSPC' ? 'the disk is full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : String((err as Error)?.message ?? err);
  return new RunDirError(`${what} failed: ${cause}; the previous checkpoint, if any, is untouched`, { cause: err });
}

export class RunDir {
  readonly dir: string;
  readonly checkpointsDir: string;
  readonly resumed: boolean;
  /** Stale temporaries of dead processes removed when the directory was opened. */
  removedTemps: string[] = [];
  private readonly keep: number;

  constructor(dir: string, resumed: boolean, keep: number) {
    this.dir = path.resolve(dir);
    this.checkpointsDir = path.join(this.dir, 'checkpoints');
    this.resumed = resumed;
    this.keep = keep;
  }

  /** Absolute path of `name` inside the run directory. */
  path(...name: string[]): string {
    return path.join(this.dir, ...name);
  }

  /**
   * Saves the run's config as `config.json`. On a resumed run the stored config must equal `config` in
   * every key listed in `mustMatch` (default: all keys), otherwise this throws naming the differing keys.
   */
  writeConfig(config: Record<string, unknown>, mustMatch?: string[]): void {
    const file = this.path('config.json');
    if (this.resumed && fs.existsSync(file)) {
      const stored = this.readConfig();
      const keys = mustMatch ?? [...new Set([...Object.keys(stored), ...Object.keys(config)])];
      const differ = keys.filter((k) => JSON.stringify(stored[k]) !== JSON.stringify(config[k]));
      if (differ.length) {
        throw new RunDirError(
          `cannot resume ${this.dir}: config differs in ${differ.map((k) => `${k} (stored ${JSON.stringify(stored[k])}, given ${JSON.stringify(config[k])})`).join(', ')}`,
        );
      }
      return;
    }
    atomicWriteFileSync(file, JSON.stringify(config, null, 2) + '\n');
  }

  readConfig(): Record<string, unknown> {
    const file = this.path('config.json');
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new RunDirError(`cannot read the run config ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Folder a checkpoint of `step` has (or would have). */
  checkpointPath(step: number): string {
    return path.join(this.checkpointsDir, stepDirName(step));
  }

  /** Complete checkpoints, oldest first. */
  listCheckpoints(): CheckpointRef[] {
    if (!fs.existsSync(this.checkpointsDir)) return [];
    return fs
      .readdirSync(this.checkpointsDir)
      .map((name) => STEP_DIR.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ step: Number(m[1]), path: path.join(this.checkpointsDir, m[0]) }))
      .sort((a, b) => a.step - b.step);
  }

  /** The newest complete checkpoint, or null. */
  latestCheckpoint(): CheckpointRef | null {
    const pointer = path.join(this.checkpointsDir, 'latest.json');
    try {
      const { step } = JSON.parse(fs.readFileSync(pointer, 'utf8')) as { step: number };
      const p = this.checkpointPath(step);
      if (fs.existsSync(p)) return { step, path: p };
    } catch {
      // no pointer, or a stale one: fall back to the folders themselves
    }
    return this.listCheckpoints().at(-1) ?? null;
  }

  /**
   * Checks a checkpoint folder against its `checksums.json` (sha256 of every file). A folder without the
   * record (written by an older version) or with a missing or changed file is not intact.
   */
  verifyCheckpoint(ref: CheckpointRef): CheckpointCheck {
    return verifyFolder(ref.path);
  }

  /**
   * The newest checkpoint that passes {@link verifyCheckpoint}; `onSkip` hears about every newer one that did
   * not (with the reason). Null when none is intact.
   */
  latestIntactCheckpoint(onSkip?: (ref: CheckpointRef, problem: string) => void): CheckpointRef | null {
    const latest = this.latestCheckpoint();
    const all = this.listCheckpoints().filter((c) => !latest || c.step <= latest.step);
    if (latest && !all.some((c) => c.step === latest.step)) all.push(latest);
    for (const ref of all.reverse()) {
      const check = this.verifyCheckpoint(ref);
      if (check.ok) return ref;
      onSkip?.(ref, check.problem!);
    }
    return null;
  }

  /**
   * Writes a checkpoint: every entry of `files` (name → bytes or text) into a temporary folder, then its
   * `checksums.json` (sha256 per file), which is then renamed to `checkpoints/step-NNNNNN`; then `latest.json`
   * is replaced; then checkpoints beyond `keep` are pruned. Returns the checkpoint folder.
   */
  async saveCheckpoint(step: number, files: Record<string, Uint8Array | string>): Promise<CheckpointRef> {
    const final = this.checkpointPath(step);
    const tmp = `${final}.tmp-${process.pid}`;
    try {
      await fsp.mkdir(this.checkpointsDir, { recursive: true });
      await fsp.rm(tmp, { recursive: true, force: true });
      await fsp.mkdir(tmp);
      for (const [name, data] of Object.entries(files)) {
        if (name.includes('/') || name.includes('\\') || name.startsWith('.') || name === CHECKSUMS_FILE) throw new RunDirError(`bad checkpoint file name ${JSON.stringify(name)}`);
        await atomicWriteFile(path.join(tmp, name), data);
      }
      await atomicWriteFile(path.join(tmp, CHECKSUMS_FILE), checksumRecord(files));
      await fsp.rm(final, { recursive: true, force: true });
      await fsp.rename(tmp, final);
      await atomicWriteFile(path.join(this.checkpointsDir, 'latest.json'), JSON.stringify({ step, dir: path.basename(final) }) + '\n');
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      if (err instanceof RunDirError) throw err;
      throw describeFsError(err, `writing checkpoint ${final}`);
    }
    if (this.keep > 0) {
      const all = this.listCheckpoints();
      for (const old of all.slice(0, Math.max(0, all.length - this.keep))) {
        if (old.step !== step) await fsp.rm(old.path, { recursive: true, force: true });
      }
    }
    return { step, path: final };
  }
}

/** Verifies a folder written with a `checksums.json` record (a checkpoint, or a copy of one such as `best/`). */
export function verifyFolder(dir: string): CheckpointCheck {
  const file = path.join(dir, CHECKSUMS_FILE);
  let record: { algorithm?: unknown; files?: unknown };
  try {
    record = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof record;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, noRecord: true, problem: `${file} is missing (no integrity record)` };
    return { ok: false, problem: `${file} is unreadable: ${(err as Error).message}` };
  }
  if (record === null || typeof record !== 'object' || record.algorithm !== 'sha256' || record.files === null || typeof record.files !== 'object') {
    return { ok: false, problem: `${file} is not a sha256 checksum record` };
  }
  for (const [name, want] of Object.entries(record.files as Record<string, unknown>)) {
    if (typeof want !== 'string' || name.includes('/') || name.includes('\\')) return { ok: false, problem: `${file} has a bad entry for ${JSON.stringify(name)}` };
    let data: Buffer;
    try {
      data = fs.readFileSync(path.join(dir, name));
    } catch {
      return { ok: false, problem: `${path.join(dir, name)} is missing` };
    }
    if (sha256(data) !== want) return { ok: false, problem: `${path.join(dir, name)} does not match its checksum (the file is corrupt)` };
  }
  return { ok: true };
}

/**
 * Opens (creating if needed) a run directory. Starting a new run in a directory that already holds one
 * throws unless `resume` (continue it) or `failIfExists: false` (start over) is given; resuming a
 * directory with no run in it throws.
 */
export function openRunDir(dir: string, options: OpenRunDirOptions = {}): RunDir {
  const { resume = false, failIfExists = true, keep = 2 } = options;
  const abs = path.resolve(dir);
  const hasRun = fs.existsSync(path.join(abs, 'config.json')) || fs.existsSync(path.join(abs, 'checkpoints'));
  if (resume && !hasRun) throw new RunDirError(`cannot resume: ${abs} holds no run (no config.json or checkpoints/)`);
  if (!resume && hasRun) {
    if (failIfExists) throw new RunDirError(`${abs} already holds a run; pass resume to continue it or choose another directory`);
    fs.rmSync(path.join(abs, 'checkpoints'), { recursive: true, force: true });
    fs.rmSync(path.join(abs, 'metrics.jsonl'), { force: true });
    fs.rmSync(path.join(abs, 'config.json'), { force: true });
  }
  try {
    fs.mkdirSync(abs, { recursive: true });
  } catch (err) {
    throw describeFsError(err, `creating run directory ${abs}`);
  }
  const run = new RunDir(abs, resume, keep);
  run.removedTemps = removeStaleTemps(abs);
  return run;
}
