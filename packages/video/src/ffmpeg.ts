/**
 * Finding and running ffmpeg / ffprobe.
 *
 * Binaries come, in this order, from: an explicit path (option or {@link setFfmpegPaths}), the environment
 * (`FLUX_FFMPEG`, `FLUX_FFPROBE`), the npm packages `@ffmpeg-installer/ffmpeg` and `@ffprobe-installer/ffprobe`
 * (binaries inside the tarball, no download), and finally `ffmpeg` / `ffprobe` on the PATH.
 *
 * The npm packages mark their binary executable in an install script, which pnpm 10 and npm 11 skip unless
 * allowed; such a binary is left at mode 644, so {@link ensureExecutable} adds the execute bits at first use
 * (and where it cannot, the spawn error names the one-line `chmod +x` fix).
 *
 * Every process is started with a timeout and an optional AbortSignal; on either it is SIGKILLed and the promise
 * settles only after the process has exited and been reaped, so no zombie or orphan outlives a call.
 */
import { constants as bufferConstants } from 'node:buffer';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants as fsConstants, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { VideoOptionError, VideoToolError } from './errors.js';

const require = createRequire(import.meta.url);

export type VideoTool = 'ffmpeg' | 'ffprobe';

/** Where a binary path came from. */
export type ToolSource = 'option' | 'override' | 'env' | 'npm' | 'path';

/** Paths to the two binaries (either may be omitted). */
export interface ToolPaths {
  ffmpegPath?: string;
  ffprobePath?: string;
}

const overrides: { ffmpeg?: string; ffprobe?: string } = {};

/** Sets process-wide paths for ffmpeg / ffprobe (undefined clears an override). */
export function setFfmpegPaths(paths: ToolPaths): void {
  overrides.ffmpeg = paths.ffmpegPath;
  overrides.ffprobe = paths.ffprobePath;
}

const checkedExecutable = new Set<string>();

/**
 * Makes `file` executable by whoever may read it (`chmod a+x` restricted to the read bits), once per path; a
 * file that already is executable is left alone. Returns false if it is not executable and cannot be made so
 * (e.g. a read-only global install): running it then fails with EACCES, and that error names the fix.
 */
export function ensureExecutable(file: string): boolean {
  if (checkedExecutable.has(file)) return true;
  try {
    accessSync(file, fsConstants.X_OK);
  } catch {
    try {
      const mode = statSync(file).mode & 0o7777;
      chmodSync(file, mode | ((mode & 0o444) >> 2));
      accessSync(file, fsConstants.X_OK);
    } catch {
      return false;
    }
  }
  checkedExecutable.add(file);
  return true;
}

function npmPath(tool: VideoTool): string | undefined {
  let file: string | undefined;
  try {
    const mod = require(tool === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe') as { path?: string };
    file = mod.path && existsSync(mod.path) ? mod.path : undefined;
  } catch {
    return undefined;
  }
  if (file && process.platform !== 'win32') ensureExecutable(file);
  return file;
}

/** Resolves the binary for `tool` and says where it came from. Never throws (a bad path fails when run). */
export function resolveTool(tool: VideoTool, explicit?: string): { path: string; source: ToolSource } {
  if (explicit) return { path: explicit, source: 'option' };
  const o = overrides[tool];
  if (o) return { path: o, source: 'override' };
  const env = process.env[tool === 'ffmpeg' ? 'FLUX_FFMPEG' : 'FLUX_FFPROBE'];
  if (env) return { path: env, source: 'env' };
  const npm = npmPath(tool);
  if (npm) return { path: npm, source: 'npm' };
  return { path: tool, source: 'path' };
}

/** Options shared by everything that starts a process. */
export interface ProcessOptions extends ToolPaths {
  /** Kill the process after this many milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Abort (kill) the process. */
  signal?: AbortSignal;
}

/** The longest delay setTimeout honours (larger ones fire at once); longer timeouts wait this long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function isAbortSignal(s: unknown): s is AbortSignal {
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof (s as AbortSignal).aborted === 'boolean' &&
    typeof (s as AbortSignal).addEventListener === 'function' &&
    typeof (s as AbortSignal).removeEventListener === 'function'
  );
}

/**
 * Checks {@link ProcessOptions} before anything starts: `timeoutMs` a positive number (Infinity: no limit),
 * `signal` an AbortSignal, binary paths strings. Throws {@link VideoOptionError} (naming `file` when given).
 */
export function checkProcessOptions(options: ProcessOptions, file?: string): void {
  const t = options.timeoutMs;
  if (t !== undefined && !(typeof t === 'number' && t > 0)) {
    throw new VideoOptionError(file, 'timeoutMs', `timeoutMs must be a positive number of milliseconds, got ${String(t)}`, t);
  }
  if (options.signal !== undefined && !isAbortSignal(options.signal)) {
    throw new VideoOptionError(file, 'signal', 'signal must be an AbortSignal', options.signal);
  }
  for (const k of ['ffmpegPath', 'ffprobePath'] as const) {
    const v = options[k];
    if (v !== undefined && typeof v !== 'string') throw new VideoOptionError(file, k, `${k} must be a string, got ${typeof v}`, v);
  }
}

function checkByteCount(option: string, n: number | undefined, min: number): void {
  if (n === undefined) return;
  if (!(Number.isSafeInteger(n) && n >= min && n <= bufferConstants.MAX_LENGTH)) {
    throw new VideoOptionError(undefined, option, `${option} must be an integer in ${min}..${bufferConstants.MAX_LENGTH} bytes, got ${String(n)}`, n);
  }
}

/** How a finished process ended. */
export interface ProcessResult {
  code: number | null;
  /** The signal that ended it, if any. */
  killedBy: NodeJS.Signals | null;
  stdout: Buffer;
  /** Bytes written to stdout (may exceed stdout.length when a fixed-size buffer overflowed). */
  stdoutBytes: number;
  /** The tail of stderr (at most ~64 KB). */
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
  pid: number | undefined;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/** Pids of ffmpeg/ffprobe processes started by this module that have not yet exited (diagnostics and tests). */
export function liveProcesses(): number[] {
  return [...live].map((c) => c.pid).filter((p): p is number => p !== undefined);
}

const STDERR_CAP = 64 * 1024;

/**
 * Runs a tool to completion. `expectBytes` preallocates stdout (raw video frames); extra bytes are counted but
 * dropped. `keepLastFrame` (a frame size in bytes) keeps only the last complete frame of stdout in constant memory.
 * Rejects when the options are invalid ({@link VideoOptionError}, before spawning) or the binary cannot be started
 * ({@link VideoToolError}); timeouts, aborts and exit codes are reported in the result. Whatever happens, the
 * promise settles only after the process (if one started) exited, and it is then no longer in {@link liveProcesses}.
 */
export function runTool(
  tool: VideoTool,
  args: readonly string[],
  options: ProcessOptions & { expectBytes?: number; keepLastFrame?: number; stdin?: Buffer | Uint8Array } = {},
): Promise<ProcessResult> {
  // Everything that can fail synchronously is checked, and the stdout buffer allocated, before anything is spawned.
  try {
    checkProcessOptions(options);
    checkByteCount('expectBytes', options.expectBytes, 0);
    checkByteCount('keepLastFrame', options.keepLastFrame, 1);
  } catch (e) {
    return Promise.reject(e);
  }
  const { path } = resolveTool(tool, tool === 'ffmpeg' ? options.ffmpegPath : options.ffprobePath);
  const timeoutMs = Math.min(options.timeoutMs ?? 30_000, MAX_TIMER_MS);
  let fixed: Buffer | undefined;
  try {
    fixed = options.expectBytes !== undefined ? Buffer.allocUnsafe(options.expectBytes) : undefined;
  } catch (e) {
    return Promise.reject(new VideoOptionError(undefined, 'expectBytes', `cannot allocate ${options.expectBytes} bytes: ${(e as Error).message}`, options.expectBytes));
  }
  installExitHook();
  return new Promise<ProcessResult>((resolve, reject) => {
    if (options.signal?.aborted) {
      resolve({ code: null, killedBy: null, stdout: Buffer.alloc(0), stdoutBytes: 0, stderr: '', timedOut: false, aborted: true, pid: undefined });
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(path, args, { stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], windowsHide: true });
    } catch (e) {
      reject(new VideoToolError(tool, path, (e as Error).message, e));
      return;
    }
    live.add(child);
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = '';
    let timedOut = false;
    let aborted = false;
    let timer: NodeJS.Timeout | undefined;
    /** An error thrown while wiring the process up: it is killed, and the promise rejects with this once it exited. */
    let failure: { error: unknown } | undefined;
    const fb = options.keepLastFrame;
    let tail = Buffer.alloc(0);
    let tailStart = 0;

    const kill = () => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already exited */
      }
    };
    const onAbort = () => {
      aborted = true;
      kill();
    };
    let settled = false;
    const cleanup = () => {
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      live.delete(child);
    };
    // The exit handlers come first, so that whatever throws below, the process is still reaped and forgotten.
    child.on('error', (e) => {
      // A process that never started (ENOENT, EACCES) has no pid; 'close' may not follow.
      if (child.pid === undefined && !settled) {
        cleanup();
        const code = (e as NodeJS.ErrnoException).code;
        const hint = code === 'EACCES' ? ` (the file is not executable; fix it with: chmod +x ${JSON.stringify(path)})` : '';
        reject(new VideoToolError(tool, path, `${e.message}${hint}`, e));
      }
    });
    // 'close' fires after the process exited (and was reaped) and all stdio streams closed.
    child.on('close', (code, sig) => {
      if (settled) return;
      cleanup();
      if (failure) {
        reject(failure.error);
        return;
      }
      const stdout = fb ? (bytes >= fb ? tail.subarray(0, fb) : Buffer.alloc(0)) : fixed ? fixed.subarray(0, Math.min(bytes, fixed.length)) : Buffer.concat(chunks);
      resolve({ code, killedBy: sig, stdout, stdoutBytes: bytes, stderr, timedOut, aborted, pid: child.pid });
    });

    try {
      timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout!.on('data', (d: Buffer) => {
        if (fb) {
          tail = Buffer.concat([tail, d]);
          const total = bytes + d.length;
          const lastStart = (Math.floor(total / fb) - 1) * fb;
          if (lastStart > tailStart) {
            tail = tail.subarray(lastStart - tailStart);
            tailStart = lastStart;
          }
        } else if (fixed) {
          if (bytes < fixed.length) d.copy(fixed, bytes, 0, Math.min(d.length, fixed.length - bytes));
        } else {
          chunks.push(d);
        }
        bytes += d.length;
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        stderr += d;
        if (stderr.length > STDERR_CAP) stderr = stderr.slice(stderr.length - STDERR_CAP);
      });
      if (options.stdin && child.stdin) {
        child.stdin.on('error', () => {
          /* EPIPE when the tool exits early: reported through the exit code */
        });
        child.stdin.end(options.stdin);
      }
    } catch (e) {
      failure = { error: e };
      // Drain the pipes so 'close' can follow the kill.
      child.stdout?.resume();
      child.stderr?.resume();
      kill();
    }
  });
}

/** Versions and locations of the binaries in use; throws {@link VideoToolError} if one cannot run. */
export async function ffmpegInfo(paths: ToolPaths = {}): Promise<{
  ffmpeg: { path: string; source: ToolSource; version: string };
  ffprobe: { path: string; source: ToolSource; version: string };
}> {
  const one = async (tool: VideoTool) => {
    const r = resolveTool(tool, tool === 'ffmpeg' ? paths.ffmpegPath : paths.ffprobePath);
    const res = await runTool(tool, ['-version'], { ...paths, timeoutMs: 10_000 });
    const first = res.stdout.toString('utf8').split('\n')[0] ?? '';
    if (res.code !== 0 || !first.includes('version')) {
      throw new VideoToolError(tool, r.path, `"-version" exited with ${res.code ?? res.killedBy}: ${res.stderr.trim().slice(-300)}`);
    }
    return { ...r, version: first.replace(/^\S+ version /, '').split(' ')[0] ?? first };
  };
  const [ffmpeg, ffprobe] = await Promise.all([one('ffmpeg'), one('ffprobe')]);
  return { ffmpeg, ffprobe };
}
