/**
 * Running one XNNPACK call on the calling thread only, on the threaded wasm build.
 *
 * tfjs-backend-wasm keeps one pthreadpool for every XNNPACK operator (a C++ global, `tfjs::backend::threadpool`)
 * and offers no per-call choice. For a small product (the per-(clip, head) attention matmuls: a few MFLOP each)
 * the pool's hand-off costs more than the second core gives back: the caller spins until the worker has woken
 * and finished, and on a loaded machine a woken worker can wait for a core for a millisecond. XNNPACK runs an
 * operator sequentially on the caller when it is given no pool, so setting that global to 0 around a call
 * makes it single-threaded, and restoring it brings the pool back.
 *
 * The global's address is read from the backend's own wasm binary: the exported `get_threads_count` begins
 * `i32.const ADDR; i32.load` of it. The address is then checked against the running module (the slot holds a
 * pool, and with the slot zeroed `get_threads_count()` reports −1, its "no pool" answer); anything unexpected
 * (another tfjs build, the single-threaded build) leaves the feature off.
 */
import fs from 'node:fs';

import type { WasmBackendLike } from './wasm-heap.js';

interface PoolSlot {
  /** Int32 index of the global in the heap. */
  index: number;
}

const slots = new WeakMap<object, PoolSlot | null>();
let binaryPath: string | null = null;
type Mode = boolean | 'auto';
const envMode = process.env.FLUX_SMALL_MATMUL_1T;
let mode: Mode = envMode === '0' ? false : envMode === '1' ? true : 'auto';

/** Where initBackend loaded the threaded-SIMD wasm binary from (read lazily, once). */
export function setThreadedWasmBinary(path: string): void {
  binaryPath = path;
}

/**
 * Small batched products: `'auto'` (default) times both ways per product shape and keeps the faster (see
 * {@link chooseSingleThread}), `true` always single-threaded, `false` always through the pool. Env
 * `FLUX_SMALL_MATMUL_1T=1` / `0` force one of them. For comparisons.
 */
export function setSmallMatMulSingleThread(on: Mode): void {
  mode = on;
}

interface Timing {
  single: number;
  pooled: number;
  calls: number;
}

const timings = new Map<string, Timing>();
/** Every EXPLORE-th call of a shape runs the way that currently looks slower, so a change in load is noticed. */
const EXPLORE = 32;

/**
 * Whether the next small batched product of this shape should run single-threaded. Which way is faster depends
 * on the load: on an idle 2-core machine the pool wins a little (tiny config: ~5 % of the step), when the other
 * core is busy a woken worker waits for it and the pool loses badly (up to 4× per product). In 'auto' mode both
 * are timed (ms per product, exponential average) and the faster is used, the other tried every 32nd call.
 */
export function chooseSingleThread(key: string): boolean {
  if (mode !== 'auto') return mode;
  let t = timings.get(key);
  if (t == null) {
    t = { single: NaN, pooled: NaN, calls: 0 };
    timings.set(key, t);
  }
  t.calls++;
  if (Number.isNaN(t.single)) return true;
  if (Number.isNaN(t.pooled)) return false;
  const singleFaster = t.single <= t.pooled;
  return t.calls % EXPLORE === 0 ? !singleFaster : singleFaster;
}

/** Records how long one product of this shape took (ms) the way {@link chooseSingleThread} chose. */
export function recordProductTime(key: string, single: boolean, ms: number): void {
  const t = timings.get(key);
  if (t == null) return;
  const prev = single ? t.single : t.pooled;
  const next = Number.isNaN(prev) ? ms : 0.7 * prev + 0.3 * ms;
  if (single) t.single = next;
  else t.pooled = next;
}

function uleb(b: Uint8Array, pos: { i: number }): number {
  let r = 0;
  let s = 0;
  let x: number;
  do {
    x = b[pos.i++]!;
    r += (x & 0x7f) * 2 ** s;
    s += 7;
  } while (x & 0x80);
  return r;
}

function sleb(b: Uint8Array, pos: { i: number }): number {
  let r = 0;
  let s = 0;
  let x: number;
  do {
    x = b[pos.i++]!;
    r |= (x & 0x7f) << s;
    s += 7;
  } while (x & 0x80);
  if (s < 32 && x & 0x40) r |= -1 << s;
  return r;
}

/** Skips a length-prefixed item (the length is read first, then added). */
function skip(b: Uint8Array, pos: { i: number }): void {
  const n = uleb(b, pos);
  pos.i += n;
}

/** The address `get_threads_count` loads its pool from, or null when the binary does not look as expected. */
export function poolAddressFromBinary(b: Uint8Array): number | null {
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) return null;
  const pos = { i: 8 };
  let imported = 0;
  let exportIndex = -1;
  let code = -1;
  while (pos.i < b.length) {
    const id = b[pos.i++]!;
    const len = uleb(b, pos);
    const end = pos.i + len;
    if (id === 2) {
      const n = uleb(b, pos);
      for (let k = 0; k < n; k++) {
        skip(b, pos);
        skip(b, pos);
        const kind = b[pos.i++];
        if (kind === 0) {
          uleb(b, pos);
          imported++;
        } else if (kind === 1) {
          pos.i++;
          const f = uleb(b, pos);
          uleb(b, pos);
          if (f & 1) uleb(b, pos);
        } else if (kind === 2) {
          const f = uleb(b, pos);
          uleb(b, pos);
          if (f & 1) uleb(b, pos);
        } else if (kind === 3) pos.i += 2;
        else return null;
      }
    } else if (id === 7) {
      const n = uleb(b, pos);
      for (let k = 0; k < n; k++) {
        const l = uleb(b, pos);
        const name = String.fromCharCode(...b.subarray(pos.i, pos.i + l));
        pos.i += l;
        const kind = b[pos.i++];
        const idx = uleb(b, pos);
        if (kind === 0 && name === 'get_threads_count') exportIndex = idx;
      }
    } else if (id === 10) code = pos.i;
    pos.i = end;
  }
  if (exportIndex < imported || code < 0) return null;
  pos.i = code;
  const n = uleb(b, pos);
  const fi = exportIndex - imported;
  if (fi >= n) return null;
  for (let k = 0; k < fi; k++) skip(b, pos);
  uleb(b, pos); // body size
  const groups = uleb(b, pos);
  for (let k = 0; k < groups; k++) {
    uleb(b, pos);
    pos.i++;
  }
  if (b[pos.i++] !== 0x41) return null; // i32.const ADDR
  const addr = sleb(b, pos);
  if (b[pos.i] !== 0x28 || b[pos.i + 1] !== 0x02) return null; // i32.load align=2
  pos.i += 2;
  const offset = uleb(b, pos);
  const a = addr + offset;
  return a > 0 && (a & 3) === 0 ? a : null;
}

function slotFor(backend: WasmBackendLike): PoolSlot | null {
  const mem = backend.wasm.wasmMemory;
  if (mem == null || binaryPath == null) return null;
  let slot = slots.get(mem);
  if (slot !== undefined) return slot;
  slot = null;
  try {
    const addr = poolAddressFromBinary(new Uint8Array(fs.readFileSync(binaryPath)));
    const count = (backend.wasm as unknown as { _get_threads_count?: () => number })._get_threads_count;
    if (addr != null && typeof count === 'function') {
      const heap = new Int32Array(mem.buffer);
      const index = addr >> 2;
      const pool = heap[index]!;
      const threads = count();
      if (pool !== 0 && threads > 1) {
        heap[index] = 0;
        const none = count();
        heap[index] = pool;
        if (none === -1 && count() === threads) slot = { index };
      }
    }
  } catch {
    slot = null;
  }
  slots.set(mem, slot);
  return slot;
}

/** Whether {@link singleThreaded} will really run single-threaded on `backend`. */
export function singleThreadAvailable(backend: WasmBackendLike): boolean {
  return mode !== false && slotFor(backend) != null;
}

/** Runs `f` (XNNPACK calls) with the backend's pool detached, so they run on the calling thread alone. */
export function singleThreaded<T>(backend: WasmBackendLike, f: () => T): T {
  const slot = slotFor(backend);
  if (slot == null) return f();
  // Re-read the buffer after f: a grown heap hands out a new one (the slot's address stays).
  const pool = new Int32Array(backend.wasm.wasmMemory!.buffer)[slot.index]!;
  new Int32Array(backend.wasm.wasmMemory!.buffer)[slot.index] = 0;
  try {
    return f();
  } finally {
    new Int32Array(backend.wasm.wasmMemory!.buffer)[slot.index] = pool;
  }
}
