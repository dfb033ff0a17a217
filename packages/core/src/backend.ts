/**
 * Backend choice: the fastest tfjs backend that actually works on this machine, chosen once and reported.
 *
 * Order tried (first that initialises wins):
 *   1. `tensorflow-gpu` — @tensorflow/tfjs-node-gpu (CUDA)
 *   2. `tensorflow`     — @tensorflow/tfjs-node (native libtensorflow on CPU)
 *   3. `wasm-threads`   — @tensorflow/tfjs-backend-wasm, SIMD + one XNNPACK thread per core
 *   4. `wasm-simd`      — the same, single-threaded
 *   5. `cpu`            — @tensorflow/tfjs-backend-cpu (pure JS, slow)
 *
 * The native packages download libtensorflow at install time; where that fails, npm drops them but pnpm
 * leaves a broken package behind, so every candidate is loaded inside try/catch and a failure is recorded
 * as the reason it was skipped. tfjs disables the threaded wasm build under Node (it hands the pthread
 * worker over as a `blob:` URL, which Node's Worker cannot load, and caps threads at half the logical
 * cores); {@link initBackend} writes the worker and main script to real files and lifts the cap.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';

import { duplicateCopiesMessage, shared } from './copies.js';
import { installFastKernels } from './ops/install.js';
import { setThreadedWasmBinary } from './ops/wasm-pool.js';

/** A backend candidate, in the order {@link initBackend} tries them. */
export type BackendKind = 'tensorflow-gpu' | 'tensorflow' | 'wasm-threads' | 'wasm-simd' | 'cpu';

export const BACKEND_ORDER: readonly BackendKind[] = ['tensorflow-gpu', 'tensorflow', 'wasm-threads', 'wasm-simd', 'cpu'];

const ALIASES: Record<string, BackendKind[]> = {
  auto: [...BACKEND_ORDER],
  'tensorflow-gpu': ['tensorflow-gpu'],
  gpu: ['tensorflow-gpu'],
  'node-gpu': ['tensorflow-gpu'],
  tensorflow: ['tensorflow'],
  node: ['tensorflow'],
  wasm: ['wasm-threads', 'wasm-simd'],
  'wasm-threads': ['wasm-threads'],
  'wasm-simd': ['wasm-simd'],
  cpu: ['cpu'],
};

/** Options of {@link initBackend}. Every field has an environment-variable twin. */
export interface InitBackendOptions {
  /**
   * Which backend to use: `auto` (default; env `FLUX_BACKEND`), a {@link BackendKind}, or `wasm`
   * (threads, then single-threaded SIMD). A named backend that fails to load is an error, not a fallback.
   */
  backend?: string;
  /** XNNPACK threads for wasm (default: every logical core; env `FLUX_THREADS`). */
  threads?: number;
  /** Install Flux's fast kernels (wasm matmul/transpose, fused elementwise ops). Default true. */
  fastKernels?: boolean;
  /** Where to print the report line: a function, or false for silence. Default: stderr. */
  log?: ((line: string) => void) | false;
  /** Extra directories to resolve optional backend packages from, tried first (then @flux/core's own location, the main script's real path, cwd). */
  resolveFrom?: string[];
}

/** Why a better backend was not used. */
export interface SkippedBackend {
  kind: BackendKind;
  reason: string;
}

/** What {@link initBackend} chose. */
export interface BackendReport {
  /** The candidate that won. */
  kind: BackendKind;
  /** tfjs's name for it (`tf.getBackend()`): tensorflow, wasm or cpu. */
  backend: string;
  /** Compute threads (1 for cpu; wasm: XNNPACK pool size; tensorflow: libtensorflow's own pool → cores). */
  threads: number;
  /** Whether SIMD code paths run (wasm SIMD128, or native). */
  simd: boolean;
  /** Whether Flux's fast kernels are installed for this backend. */
  fastKernels: boolean;
  /** libtensorflow's version on the tensorflow backends (e.g. "2.21.0"), else null. */
  tensorflowVersion: string | null;
  /** Better candidates that were tried and skipped, with the reason. */
  skipped: SkippedBackend[];
  /** One-line human summary, as logged. */
  summary: string;
  /** Duplicate copies of @tensorflow/tfjs-core / @flux/core loaded in this process (also a process warning), else null. */
  duplicates: string | null;
}

/** The report of the last successful {@link initBackend} (by any copy of @flux/core in this process), or null. */
export function backendReport(): BackendReport | null {
  return shared.report as BackendReport | null;
}

function requireFrom(bases: string[]): (id: string) => unknown {
  return (id: string) => {
    for (const base of bases) {
      try {
        return createRequire(base)(id);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(`'${id}'`)) {
          continue;
        }
        throw e; // found but broken: that is the interesting reason
      }
    }
    throw new Error(`${id} is not installed (add it to your project: npm i ${id})`);
  };
}

/**
 * Where optional backend packages are looked up, in order: the caller's `resolveFrom`, @flux/core's own
 * location (a backend installed beside it shares its tfjs-core copy), the running program's *real* path (a
 * globally installed CLI's bin is a symlink: resolving from the link finds nothing, from its target finds the
 * app's own dependencies), then the working directory.
 */
function resolutionBases(extra: string[] = []): string[] {
  const bases = [...extra.map((d) => path.resolve(d, 'noop.js'))];
  bases.push(fileURLToPath(import.meta.url));
  const main = process.argv[1];
  if (main) {
    try {
      bases.push(fs.realpathSync(path.resolve(main)));
    } catch {
      bases.push(path.resolve(main));
    }
  }
  bases.push(path.join(process.cwd(), 'noop.js'));
  return [...new Set(bases)];
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, 200);
}

async function trySet(name: string): Promise<boolean> {
  if (tf.findBackendFactory(name) == null) return false;
  // tfjs logs init failures with console.warn; keep them out of the user's terminal, we report instead.
  const warn = console.warn;
  console.warn = () => {};
  try {
    return await tf.setBackend(name);
  } finally {
    console.warn = warn;
  }
}

/** Loads tfjs-node(-gpu) and makes its backend current; returns libtensorflow's version. */
async function loadNative(kind: 'tensorflow-gpu' | 'tensorflow', req: (id: string) => unknown): Promise<string> {
  const pkg = kind === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  // libtensorflow logs INFO lines (oneDNN, CPU features) to stderr when it loads; keep warnings and errors.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  try {
    req(pkg);
  } catch (e) {
    // A package whose install could not download libtensorflow: say how to build it (CPU package only).
    const hint = kind === 'tensorflow' && /tfjs_binding/.test(String(e)) ? ' (build it with `npx flux-setup-tfjs-node`)' : '';
    throw new Error(`${pkg}: ${firstLine(e)}${hint}`);
  }
  if (!(await trySet('tensorflow'))) throw new Error(`${pkg} loaded but the 'tensorflow' backend failed to initialise`);
  if (kind === 'tensorflow-gpu') {
    // tfjs-node-gpu silently runs on CPU when CUDA is missing; say so rather than claim a GPU.
    const env = tf.env();
    const gpu = env.getFlags()['IS_GPU'] ?? null;
    if (gpu === false) throw new Error(`${pkg} loaded but found no CUDA device`);
  }
  const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
  return binding?.TF_Version ?? 'unknown';
}

interface WasmModule {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

let wasmThreadFiles: { dir: string; main: string; worker: string } | null = null;

function writeThreadFiles(wasmDir: string, req: (id: string) => unknown): { main: string; worker: string } {
  if (wasmThreadFiles) return wasmThreadFiles;
  const { wasmWorkerContents } = req(path.join(wasmDir, 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  const factoryMod = req(path.join(wasmDir, 'wasm-out/tfjs-backend-wasm-threaded-simd.js')) as
    | ((...a: unknown[]) => unknown)
    | { default: (...a: unknown[]) => unknown };
  const factory = typeof factoryMod === 'function' ? factoryMod : factoryMod.default;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-wasm-'));
  const main = path.join(dir, 'tfjs-backend-wasm-threaded-simd.cjs');
  const worker = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.cjs');
  fs.writeFileSync(main, `var WasmBackendModuleThreadedSimd = ${factory.toString()};\n`);
  // The worker receives the main script as a Blob and turns it into an object URL before importScripts();
  // in Node it can only read real files, so answer that URL with the file written above. tfjs escapes
  // newlines the same way before handing the worker over.
  fs.writeFileSync(
    worker,
    `URL.createObjectURL = () => ${JSON.stringify(main)}; URL.revokeObjectURL = () => {};\n` +
      wasmWorkerContents.replace(/\n/g, '\\n'),
  );
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  wasmThreadFiles = { dir, main, worker };
  return wasmThreadFiles;
}

async function loadWasm(kind: 'wasm-threads' | 'wasm-simd', req: (id: string) => unknown, threads: number): Promise<number> {
  let wasm: WasmModule;
  let wasmDir: string;
  try {
    wasm = req('@tensorflow/tfjs-backend-wasm') as WasmModule;
    wasmDir = path.dirname((req as unknown as { resolvePkg: (id: string) => string }).resolvePkg('@tensorflow/tfjs-backend-wasm/package.json'));
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-wasm: ${firstLine(e)}`);
  }
  if (tf.engine().registry['wasm'] != null) {
    // Already initialised in this process (e.g. initBackend called twice): reuse it as it is.
    if (!(await trySet('wasm'))) throw new Error('wasm backend failed to initialise');
    return wasm.getThreadsCount();
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  if (!simd) throw new Error('this runtime has no WebAssembly SIMD');
  if (kind === 'wasm-simd') {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    if (!(await trySet('wasm'))) throw new Error('wasm backend failed to initialise');
    return 1;
  }
  if (typeof SharedArrayBuffer === 'undefined') throw new Error('SharedArrayBuffer is unavailable');
  const files = writeThreadFiles(wasmDir, req);
  for (const f of ['dist/tfjs-backend-wasm-threaded-simd.wasm', 'wasm-out/tfjs-backend-wasm-threaded-simd.wasm']) {
    if (fs.existsSync(path.join(wasmDir, f))) {
      setThreadedWasmBinary(path.join(wasmDir, f));
      break;
    }
  }
  const origCreate = URL.createObjectURL;
  const origCpus = os.cpus;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  // tfjs hands the pthread worker over as a Blob URL: give Node a real file instead.
  URL.createObjectURL = (obj: Blob | MediaSource) =>
    (obj as Blob)?.type === 'application/javascript' ? files.worker : origCreate(obj as Blob);
  // XNNPACK's pool is capped at half the logical cores (it assumes SMT); report enough cores that the
  // requested count passes the cap.
  const real = origCpus();
  (os as { cpus: typeof os.cpus }).cpus = () => {
    const out = [...real];
    while (out.length < 2 * threads) out.push(...real.slice(0, Math.max(1, Math.min(real.length, 2 * threads - out.length))));
    return out.length ? out : real;
  };
  let ok = false;
  try {
    ok = await trySet('wasm');
  } finally {
    URL.createObjectURL = origCreate;
    (os as { cpus: typeof os.cpus }).cpus = origCpus;
  }
  if (!ok) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    throw new Error('threaded wasm failed to initialise');
  }
  unrefPthreads();
  return wasm.getThreadsCount();
}

interface PthreadWorker {
  unref?: () => void;
}

/**
 * XNNPACK's pool threads run for the life of the process and Emscripten keeps their Node workers
 * referenced, so a script that is done would never exit. They only work inside synchronous kernel calls,
 * so unreferencing them is safe. The pool starts lazily: run one small threaded product first.
 */
function unrefPthreads(): void {
  tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync());
  const mod = (tf.backend() as unknown as { wasm?: { PThread?: { runningWorkers?: PthreadWorker[]; unusedWorkers?: PthreadWorker[] } } }).wasm;
  const pt = mod?.PThread;
  for (const w of [...(pt?.runningWorkers ?? []), ...(pt?.unusedWorkers ?? [])]) w.unref?.();
}

async function loadCpu(req: (id: string) => unknown): Promise<void> {
  try {
    req('@tensorflow/tfjs-backend-cpu');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-cpu: ${firstLine(e)}`);
  }
  if (!(await trySet('cpu'))) throw new Error('cpu backend failed to initialise');
}

function defaultThreads(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, n || 1);
}

/**
 * The backend a command-line tool should ask {@link initBackend} for: its explicit flag, else `FLUX_BACKEND`,
 * else `fallback` (e.g. a config file's value; default `auto`). A CLI whose option defaults to `auto` would
 * otherwise hide the environment variable.
 */
export function requestedBackend(flag?: string | null, fallback = 'auto'): string {
  return flag ?? process.env.FLUX_BACKEND ?? fallback;
}

/**
 * Chooses, initialises and reports the tfjs backend (see the module doc for the order). Call it once at
 * start-up, before creating tensors. Throws if a backend named by option / `FLUX_BACKEND` cannot load.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendReport> {
  const requested = (options.backend ?? process.env.FLUX_BACKEND ?? 'auto').trim().toLowerCase();
  // An own-property check: `constructor`, `__proto__` or `toString` must not find Object.prototype's members.
  const candidates = Object.prototype.hasOwnProperty.call(ALIASES, requested) ? ALIASES[requested] : undefined;
  if (candidates == null) {
    throw new Error(
      // A CLI passes FLUX_BACKEND on as options.backend (requestedBackend): name the variable then.
      `Unknown backend "${requested}" (from ${options.backend != null && options.backend !== process.env.FLUX_BACKEND ? 'options.backend' : 'FLUX_BACKEND'}); ` +
        `expected one of: ${Object.keys(ALIASES).join(', ')}`,
    );
  }
  const envThreads = process.env.FLUX_THREADS != null ? Number(process.env.FLUX_THREADS) : undefined;
  const threads = options.threads ?? envThreads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`threads must be a positive integer, got ${threads} (from ${options.threads != null ? 'options.threads' : 'FLUX_THREADS'})`);
  }
  const bases = resolutionBases(options.resolveFrom);
  const req = Object.assign(requireFrom(bases), {
    resolvePkg: (id: string) => {
      for (const base of bases) {
        try {
          return createRequire(base).resolve(id);
        } catch {
          /* next base */
        }
      }
      throw new Error(`${id} is not installed`);
    },
  });
  const skipped: SkippedBackend[] = [];
  let chosen: { kind: BackendKind; threads: number; simd: boolean; tfVersion?: string } | null = null;
  for (const kind of candidates) {
    try {
      if (kind === 'tensorflow-gpu' || kind === 'tensorflow') {
        const tfVersion = await loadNative(kind, req);
        chosen = { kind, threads: defaultThreads(), simd: true, tfVersion };
      } else if (kind === 'wasm-threads' || kind === 'wasm-simd') {
        const n = await loadWasm(kind, req, kind === 'wasm-threads' ? threads : 1);
        chosen = { kind: n > 1 ? 'wasm-threads' : kind, threads: n, simd: true };
        if (kind === 'wasm-threads' && n < 2 && threads > 1) {
          skipped.push({ kind, reason: `asked for ${threads} threads, XNNPACK runs ${n}` });
        }
      } else {
        await loadCpu(req);
        chosen = { kind, threads: 1, simd: false };
      }
      break;
    } catch (e) {
      skipped.push({ kind, reason: firstLine(e) });
    }
  }
  if (chosen == null) {
    const why = skipped.map((s) => `  ${s.kind}: ${s.reason}`).join('\n');
    const hint = skipped.some((s) => / is not installed/.test(s.reason))
      ? '\nInstall a backend beside @flux/core: npm i @tensorflow/tfjs-backend-wasm (fast, portable) or @tensorflow/tfjs-backend-cpu' +
        ' (pure JS); for native speed npm i --ignore-scripts @tensorflow/tfjs-node && npx flux-setup-tfjs-node.'
      : '';
    throw new Error(`No tfjs backend could be initialised (requested "${requested}"):\n${why}${hint}`);
  }
  await tf.ready();
  const fastKernels = options.fastKernels === false ? false : installFastKernels(tf.getBackend());
  const summary =
    `backend ${chosen.kind} (tfjs "${tf.getBackend()}"${chosen.tfVersion ? `, libtensorflow ${chosen.tfVersion}` : ''}, ${chosen.threads} thread${chosen.threads === 1 ? '' : 's'}` +
    `${chosen.simd ? ', SIMD' : ''}${fastKernels ? ', fast kernels' : ''})` +
    (skipped.length ? `; skipped ${skipped.map((s) => `${s.kind}: ${s.reason}`).join('; ')}` : '');
  const duplicates = duplicateCopiesMessage();
  const current: BackendReport = {
    kind: chosen.kind,
    backend: tf.getBackend(),
    threads: chosen.threads,
    simd: chosen.simd,
    fastKernels,
    tensorflowVersion: chosen.tfVersion ?? null,
    skipped,
    summary,
    duplicates,
  };
  const log = options.log === undefined ? (line: string) => process.stderr.write(`[flux] ${line}\n`) : options.log;
  if (log) log(summary);
  if (duplicates != null && !shared.warned) {
    shared.warned = true;
    process.emitWarning(duplicates, { code: 'FLUX_DUPLICATE_COPIES' });
  }
  shared.report = current;
  return current;
}
