/**
 * Dense-matmul speed for every matmul on the wasm backend, in one place.
 *
 * tfjs-backend-wasm runs BatchMatMul through XNNPACK's fully-connected operator only for batch 1 with no
 * transpose flags; every other case (batched attention, q·kᵀ, and so every matmul gradient, which tfjs
 * writes with transpose flags) falls to a scalar loop at 1–3 GFLOP/s. Its Transpose kernel is also slow
 * (~8 ns/element). This module overrides both kernels for float32 on the `wasm` backend:
 *
 * - transpose flags become an explicit blocked transpose on the heap (a copy at memory speed);
 * - a batch against a shared right operand ([B,M,K]·[K,N]) is folded into one [B·M,K]·[K,N] call;
 * - any other batch runs as one XNNPACK call per batch item on *aliases* of the operands' memory
 *   (no slicing copies), writing straight into the output.
 *
 * Because the override sits at the kernel level, tf.matMul, its registered gradients, and model code all
 * get it without change. Results equal the cpu backend's up to fp32 summation order.
 */
import {
  getKernel,
  registerKernel,
  unregisterKernel,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import {
  f32At,
  heapBuffer,
  advanceIndex,
  heapOffset,
  isWasmBackend,
  registerAlias,
  releaseAlias,
  tensorId,
  type WasmBackendLike,
} from './wasm-heap.js';
import { simdAllowed, simdKernels, type SimdKernels } from './simd.js';
import { chooseSingleThread, recordProductTime, singleThreadAvailable, singleThreaded } from './wasm-pool.js';

/** Multiply-adds per product up to which a batched product runs single-threaded (env FLUX_SMALL_PRODUCT). */
const SMALL_PRODUCT = Number(process.env.FLUX_SMALL_PRODUCT ?? 8 * 1024 * 1024);

type MatMulFn = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

const cwrapped = new WeakMap<object, MatMulFn>();

function xnnMatMul(backend: WasmBackendLike): MatMulFn {
  let fn = cwrapped.get(backend);
  if (fn == null) {
    fn = backend.wasm.cwrap('BatchMatMul', null, [
      'number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number',
    ]) as unknown as MatMulFn;
    cwrapped.set(backend, fn);
  }
  return fn;
}

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

const TILE = 32;

/** dst[j·R + i] = src[i·C + j] for one R×C matrix (blocked for cache locality). */
export function transposeBlock(
  src: Float32Array,
  srcOff: number,
  dst: Float32Array,
  dstOff: number,
  rows: number,
  cols: number,
): void {
  for (let i0 = 0; i0 < rows; i0 += TILE) {
    const i1 = Math.min(rows, i0 + TILE);
    for (let j0 = 0; j0 < cols; j0 += TILE) {
      const j1 = Math.min(cols, j0 + TILE);
      for (let i = i0; i < i1; i++) {
        const s = srcOff + i * cols;
        let d = dstOff + j0 * rows + i;
        for (let j = j0; j < j1; j++, d += rows) dst[d] = src[s + j];
      }
    }
  }
}

/**
 * transposeBlock through the wasm-SIMD kernel when `k` is given and both sides are multiples of 4 (the
 * arrays must then be views of the heap `k` is bound to), else the JS loop.
 */
function transposeMatrix(k: SimdKernels | null, src: Float32Array, srcOff: number, dst: Float32Array, dstOff: number, rows: number, cols: number): void {
  if (k != null && (rows & 3) === 0 && (cols & 3) === 0) {
    k.transpose(src.byteOffset + 4 * srcOff, dst.byteOffset + 4 * dstOff, rows, cols);
  } else {
    transposeBlock(src, srcOff, dst, dstOff, rows, cols);
  }
}

/**
 * out = permute(src, perm) for a row-major tensor of `shape`. Fast paths: a trailing run of dimensions
 * that stays in place is copied as contiguous blocks; a swap of the last two dimensions is a blocked
 * 2-D transpose per leading index.
 */
export function permuteInto(src: Float32Array, dst: Float32Array, shape: number[], perm: number[], simd: SimdKernels | null = null): void {
  const n = shape.length;
  const inStrides = new Array<number>(n);
  let s = 1;
  for (let i = n - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const outShape = perm.map((p) => shape[p]);
  let k = n;
  let tail = 1;
  while (k > 0 && perm[k - 1] === k - 1) {
    tail *= shape[k - 1];
    k--;
  }
  if (k === 0) {
    dst.set(src.subarray(0, dst.length));
    return;
  }
  let lead = k; // dims [0, lead) are iterated by the odometer
  let block: 'copy' | 'transpose' | 'scalar';
  let rows = 0;
  let cols = 0;
  if (tail >= 8) {
    block = 'copy';
  } else if (tail === 1 && n >= 2 && perm[n - 1] === n - 2 && perm[n - 2] === n - 1) {
    block = 'transpose';
    rows = shape[n - 2];
    cols = shape[n - 1];
    lead = n - 2;
  } else {
    block = 'scalar';
    lead = n;
    tail = 1;
  }
  const idx = new Array<number>(lead).fill(0);
  const total = lead === 0 ? 1 : outShape.slice(0, lead).reduce((a, b) => a * b, 1);
  const strides = perm.slice(0, lead).map((p) => inStrides[p]);
  if (block === 'copy' && simd != null && (tail & 3) === 0 && lead >= 1 && simdAllowed('copyRows')) {
    // One SIMD call per run of the innermost iterated axis: its blocks are `tail` floats at a fixed source stride.
    const rows = outShape[lead - 1];
    const outer = total / rows;
    const sStride = strides[lead - 1] * 4;
    const oIdx = new Array<number>(lead - 1).fill(0);
    let so = 0;
    let dOff = 0;
    for (let it = 0; it < outer; it++) {
      simd.copyRows(src.byteOffset + 4 * so, dst.byteOffset + 4 * dOff, rows, tail, sStride, tail * 4);
      dOff += rows * tail;
      so += advanceIndex(oIdx, outShape, strides, lead - 1);
    }
    return;
  }
  const step = block === 'transpose' ? rows * cols : tail;
  let srcOff = 0;
  let dstOff = 0;
  for (let it = 0; it < total; it++) {
    if (block === 'copy') {
      dst.set(src.subarray(srcOff, srcOff + tail), dstOff);
    } else if (block === 'transpose') {
      transposeMatrix(simd, src, srcOff, dst, dstOff, rows, cols);
    } else {
      dst[dstOff] = src[srcOff];
    }
    dstOff += step;
    srcOff += advanceIndex(idx, outShape, strides, lead); // odometer over output dims [0, lead)
  }
}

let originalTranspose: KernelFunc | null = null;
let originalBatchMatMul: KernelFunc | null = null;

function transposeWasm(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const perm = (attrs as unknown as { perm: number[] }).perm;
  if (!isWasmBackend(backend) || x.dtype !== 'float32' || originalTranspose == null) {
    return originalTranspose!(args) as TensorInfo;
  }
  const outShape = perm.map((p) => x.shape[p]);
  const out = backend.makeOutput(outShape, 'float32');
  const size = util.sizeFromShape(x.shape);
  if (size > 0) {
    permuteInto(f32At(backend, heapOffset(backend, x), size), f32At(backend, heapOffset(backend, out), size), x.shape, perm, simdKernels(backend));
  }
  return out;
}

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * XNNPACK packs the right operand of every product (a scalar copy, ~4× the cost of a SIMD transpose per float)
 * and a fresh tensor is packed on every call; the left operand is read as it is. For a 2-D product C = A·B the
 * same result comes from Cᵀ = Bᵀ·Aᵀ with Aᵀ packed instead of B. Which is cheaper, counting transposes as 1 and
 * packing as PACK_COST per float: for a weight gradient xᵀ·dy with more outputs than inputs (fc1, qkv) the
 * transposed route packs x instead of the wider dy.
 */
const PACK_COST = 4;
let transposedRoute = process.env.FLUX_MATMUL_TRANSPOSED_ROUTE !== '0';

/** Turns the transposed route for 2-D products on or off (default on; env FLUX_MATMUL_TRANSPOSED_ROUTE=0). For comparisons. */
export function setMatMulTransposedRoute(on: boolean): void {
  transposedRoute = on;
}

function transposedRouteCheaper(M: number, K: number, N: number, tA: boolean, tB: boolean): boolean {
  if (!transposedRoute) return false;
  const direct = (tA ? M * K : 0) + (tB ? K * N : 0) + PACK_COST * K * N;
  const swapped = (tB ? 0 : K * N) + (tA ? 0 : K * M) + PACK_COST * K * M + M * N;
  return swapped < 0.8 * direct;
}

/** C [M,N] = op(A)·op(B) computed as (Bᵀ·Aᵀ)ᵀ: left operand Bᵀ [N,K], packed operand Aᵀ [K,M], result transposed. */
function matMulTransposed(
  backend: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
  M: number,
  K: number,
  N: number,
  transposeA: boolean,
  transposeB: boolean,
  outShape: number[],
): TensorInfo {
  // b is [N,K] when transposeB (Bᵀ as stored), else [K,N]; a is [K,M] when transposeA (Aᵀ as stored), else [M,K].
  const tL = transposeB ? 0 : backend.wasm._malloc(N * K * 4);
  const tW = transposeA ? 0 : backend.wasm._malloc(K * M * 4);
  const tC = backend.wasm._malloc(N * M * 4);
  const out = backend.makeOutput(outShape, 'float32');
  const aliases: number[] = [];
  try {
    const buf = heapBuffer(backend);
    const simd = simdKernels(backend);
    const aOff = heapOffset(backend, a);
    const bOff = heapOffset(backend, b);
    if (tL !== 0) transposeMatrix(simd, new Float32Array(buf, bOff, K * N), 0, new Float32Array(buf, tL, K * N), 0, K, N);
    if (tW !== 0) transposeMatrix(simd, new Float32Array(buf, aOff, M * K), 0, new Float32Array(buf, tW, M * K), 0, M, K);
    const alias = (off: number, size: number) => {
      const id = registerAlias(backend, off, size);
      aliases.push(id);
      return id;
    };
    const leftId = tL !== 0 ? alias(tL, N * K) : tensorId(backend, b);
    const wId = tW !== 0 ? alias(tW, K * M) : tensorId(backend, a);
    const cId = alias(tC, N * M);
    xnnMatMul(backend)(leftId, shapeBytes([1, N, K]), 3, wId, shapeBytes([1, K, M]), 3, false, false, cId);
    const buf2 = heapBuffer(backend);
    transposeMatrix(simd, new Float32Array(buf2, tC, N * M), 0, new Float32Array(buf2, heapOffset(backend, out), N * M), 0, N, M);
    return out;
  } catch (e) {
    backend.disposeData(out.dataId, true);
    throw e;
  } finally {
    for (const id of aliases) releaseAlias(backend, id);
    if (tL !== 0) backend.wasm._free(tL);
    if (tW !== 0) backend.wasm._free(tW);
    backend.wasm._free(tC);
  }
}

function batchMatMulWasm(args: Parameters<KernelFunc>[0]): TensorInfo {
  const { inputs, backend, attrs } = args;
  const a = inputs.a as TensorInfo;
  const b = inputs.b as TensorInfo;
  const { transposeA, transposeB } = attrs as unknown as MatMulAttrs;
  if (!isWasmBackend(backend) || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return originalBatchMatMul!(args) as TensorInfo;
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) throw new Error(`matMul: operands must have rank ≥ 2, got shapes [${a.shape}] and [${b.shape}]`);
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const Ka = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (Ka !== Kb) {
    throw new Error(
      `matMul: inner dimensions differ (${Ka} vs ${Kb}) for shapes [${a.shape}] and [${b.shape}] ` +
        `with transposeA=${transposeA}, transposeB=${transposeB}`,
    );
  }
  const K = Ka;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = util.sizeFromShape(outerA);
  const batchB = util.sizeFromShape(outerB);
  let outer: number[];
  if (batchA === batchB) outer = outerA.length >= outerB.length ? outerA : outerB;
  else if (batchB === 1) outer = outerA;
  else if (batchA === 1) outer = outerB;
  else {
    throw new Error(`matMul: batch dimensions [${outerA}] and [${outerB}] cannot be broadcast (one must be 1 or both equal)`);
  }
  const batch = Math.max(batchA, batchB);
  const outShape = [...outer, M, N];
  if (batch === 1 && M * N * K > 0 && transposedRouteCheaper(M, K, N, transposeA, transposeB)) {
    return matMulTransposed(backend, a, b, M, K, N, transposeA, transposeB, outShape);
  }

  // Temporaries for explicit transposes, then the output; views are taken after the last allocation.
  const tA = transposeA && M * K > 0 ? backend.wasm._malloc(batchA * M * K * 4) : 0;
  const tB = transposeB && K * N > 0 ? backend.wasm._malloc(batchB * K * N * 4) : 0;
  const out = backend.makeOutput(outShape, 'float32');
  try {
    const outOff = heapOffset(backend, out);
    if (M * N === 0) return out;
    if (K === 0) {
      f32At(backend, outOff, batch * M * N).fill(0);
      return out;
    }
    const buf = heapBuffer(backend);
    const simd = simdKernels(backend);
    let aOff = heapOffset(backend, a);
    let bOff = heapOffset(backend, b);
    if (tA !== 0) {
      const src = new Float32Array(buf, aOff, batchA * M * K);
      const dst = new Float32Array(buf, tA, batchA * M * K);
      for (let i = 0; i < batchA; i++) transposeMatrix(simd, src, i * M * K, dst, i * M * K, K, M);
      aOff = tA;
    }
    if (tB !== 0) {
      const src = new Float32Array(buf, bOff, batchB * K * N);
      const dst = new Float32Array(buf, tB, batchB * K * N);
      for (let i = 0; i < batchB; i++) transposeMatrix(simd, src, i * K * N, dst, i * K * N, N, K);
      bOff = tB;
    }
    const mm = xnnMatMul(backend);
    const bShape = shapeBytes([1, K, N]);
    if (batchB === 1) {
      // One call: [batchA·M, K] · [K, N] — a shared right operand folds the batch into the rows.
      const rowsA = batchA * M;
      const aId = aOff === heapOffset(backend, a) ? tensorId(backend, a) : registerAlias(backend, aOff, rowsA * K);
      const bId = bOff === heapOffset(backend, b) ? tensorId(backend, b) : registerAlias(backend, bOff, K * N);
      try {
        mm(aId, shapeBytes([1, rowsA, K]), 3, bId, bShape, 3, false, false, tensorId(backend, out));
      } finally {
        if (aId !== tensorId(backend, a)) releaseAlias(backend, aId);
        if (bId !== tensorId(backend, b)) releaseAlias(backend, bId);
      }
      return out;
    }
    const aShape = shapeBytes([1, M, K]);
    const perBatch = (): void => {
      for (let i = 0; i < batch; i++) {
        const ai = registerAlias(backend, aOff + (batchA === 1 ? 0 : i) * M * K * 4, M * K);
        const bi = registerAlias(backend, bOff + i * K * N * 4, K * N);
        const oi = registerAlias(backend, outOff + i * M * N * 4, M * N);
        try {
          mm(ai, aShape, 3, bi, bShape, 3, false, false, oi);
        } finally {
          releaseAlias(backend, ai);
          releaseAlias(backend, bi);
          releaseAlias(backend, oi);
        }
      }
    };
    // Small products (the per-(clip, head) attention matmuls) run on this thread alone: at a few MFLOP the
    // pool's hand-off costs more than the second core gives back (see wasm-pool.ts).
    if (M * N * K <= SMALL_PRODUCT && singleThreadAvailable(backend)) {
      const key = `${M}x${K}x${N}`;
      const single = chooseSingleThread(key);
      const t0 = performance.now();
      if (single) singleThreaded(backend, perBatch);
      else perBatch();
      recordProductTime(key, single, (performance.now() - t0) / batch);
    } else perBatch();
    return out;
  } finally {
    if (tA !== 0) backend.wasm._free(tA);
    if (tB !== 0) backend.wasm._free(tB);
  }
}

let installed = false;
let saved: { mm: KernelConfig; tr: KernelConfig } | null = null;

/**
 * Replaces the wasm backend's BatchMatMul and Transpose kernels with the fast versions above. Idempotent;
 * returns false when tfjs-backend-wasm's kernels are not registered (the package is not loaded).
 */
export function installWasmMatMul(): boolean {
  if (installed) return true;
  const mm = getKernel('BatchMatMul', 'wasm');
  const tr = getKernel('Transpose', 'wasm');
  if (mm == null || tr == null) return false;
  originalBatchMatMul = mm.kernelFunc;
  originalTranspose = tr.kernelFunc;
  unregisterKernel('BatchMatMul', 'wasm');
  unregisterKernel('Transpose', 'wasm');
  // Keep the originals' setup functions: they still serve the non-float32 fallbacks.
  registerKernel({ ...mm, kernelFunc: batchMatMulWasm as KernelFunc });
  registerKernel({ ...tr, kernelFunc: transposeWasm as KernelFunc });
  saved = { mm, tr };
  installed = true;
  return true;
}

/** Restores tfjs's own wasm kernels (for comparisons in benchmarks and tests). */
export function uninstallWasmMatMul(): void {
  if (!installed || saved == null) return;
  unregisterKernel('BatchMatMul', 'wasm');
  unregisterKernel('Transpose', 'wasm');
  registerKernel(saved.mm);
  registerKernel(saved.tr);
  installed = false;
}

/** Whether the fast wasm matmul is installed. */
export function wasmMatMulInstalled(): boolean {
  return installed;
}
