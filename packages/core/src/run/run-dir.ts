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
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { atomicWriteFile, atomicWriteFileSync } from './atomic.js';

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
   * Writes a checkpoint: every entry of `files` (name → bytes or text) into a temporary folder, which is
   * then renamed to `checkpoints/step-NNNNNN`; then `latest.json` is replaced; then checkpoints beyond
   * `keep` are pruned. Returns the checkpoint folder.
   */
  async saveCheckpoint(step: number, files: Record<string, Uint8Array | string>): Promise<CheckpointRef> {
    const final = this.checkpointPath(step);
    const tmp = `${final}.tmp-${process.pid}`;
    try {
      await fsp.mkdir(this.checkpointsDir, { recursive: true });
      await fsp.rm(tmp, { recursive: true, force: true });
      await fsp.mkdir(tmp);
      for (const [name, data] of Object.entries(files)) {
        if (name.includes('/') || name.includes('\\') || name.startsWith('.')) throw new RunDirError(`bad checkpoint file name ${JSON.stringify(name)}`);
        await atomicWriteFile(path.join(tmp, name), data);
      }
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
  return new RunDir(abs, resume, keep);
}
