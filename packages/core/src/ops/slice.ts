/**
 * A wasm `Slice` that copies only the slice.
 *
 * tfjs-backend-wasm 4.22's Slice starts with `backend.readSync(x)`: a copy of the *whole* input out of the
 * heap, which on the threaded build (a SharedArrayBuffer heap) runs byte by byte at ~11 ns per float —
 * so taking q, k and v out of a qkv projection, or one row of a big tensor, costs milliseconds. SplitV
 * and Unpack (tf.split, tf.unstack) call that Slice once per output, so each output copies the whole input.
 * These kernels copy straight from heap to heap: contiguous runs with `TypedArray.set`, an odometer over the
 * leading axes. float32, int32 and bool; anything else (string, complex) goes to tfjs's own kernels.
 */
import {
  backend_util,
  getKernel,
  registerKernel,
  slice_util,
  unregisterKernel,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { advanceIndex, heapBuffer, heapOffset, isWasmBackend } from './wasm-heap.js';
import { simdAllowed, simdKernels, type SimdKernels } from './simd.js';

type View = Float32Array | Int32Array | Uint8Array;


function viewOf(dtype: string, buf: ArrayBufferLike, off: number, n: number): View {
  if (dtype === 'float32') return new Float32Array(buf, off, n);
  if (dtype === 'int32') return new Int32Array(buf, off, n);
  return new Uint8Array(buf, off, n);
}

/** dst = x[begin : begin + size] for a row-major `shape` (all arrays of the same element type). */
export function sliceInto(src: View, shape0: number[], begin0: number[], size0: number[], dst: View, simd: SimdKernels | null = null): void {
  // Small integers (Smis) throughout: shapes computed by division (tfjs's -1 inference, split sizes) are
  // stored as doubles, and double-valued indices send every typed-array access down V8's slow path (~10×).
  const shape = shape0.map((v) => v | 0);
  const begin = begin0.map((v) => v | 0);
  const size = size0.map((v) => v | 0);
  const r = shape.length;
  if (r === 0) {
    dst[0] = src[0];
    return;
  }
  const strides = new Array<number>(r);
  let s = 1;
  for (let d = r - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  // Innermost axis k whose trailing axes are all taken whole: each (leading index) is one contiguous run.
  let k = r - 1;
  while (k > 0 && size[k] === shape[k] && begin[k] === 0) k--;
  const run = size[k] * strides[k];
  const lead = k; // axes [0, k) are iterated
  const idx = new Array<number>(lead).fill(0);
  let total = 1;
  for (let d = 0; d < lead; d++) total *= size[d];
  let srcOff = begin[k] * strides[k];
  for (let d = 0; d < lead; d++) srcOff += begin[d] * strides[d];
  let dstOff = 0;
  if (simd != null && src.BYTES_PER_ELEMENT === 4 && (run & 3) === 0 && lead >= 1 && simdAllowed('copyRows')) {
    // One SIMD call per run of the innermost iterated axis (e.g. every row of a q/k/v split).
    const rows = size[lead - 1];
    const outer = total / rows;
    const oIdx = new Array<number>(lead - 1).fill(0);
    for (let it = 0; it < outer; it++) {
      simd.copyRows(src.byteOffset + 4 * srcOff, dst.byteOffset + 4 * dstOff, rows, run, strides[lead - 1] * 4, run * 4);
      dstOff += rows * run;
      srcOff += advanceIndex(oIdx, size, strides, lead - 1);
    }
    return;
  }
  for (let it = 0; it < total; it++) {
    if (run >= 512) dst.set(src.subarray(srcOff, srcOff + run), dstOff);
    else for (let j = 0; j < run; j++) dst[dstOff + j] = src[srcOff + j];
    dstOff += run;
    srcOff += advanceIndex(idx, size, strides, lead);
  }
}

const originals = new Map<string, KernelConfig>();

function fallback(name: string, args: Parameters<KernelFunc>[0]): TensorInfo | TensorInfo[] {
  return originals.get(name)!.kernelFunc(args) as TensorInfo | TensorInfo[];
}

const handles = (backend: unknown, x: TensorInfo) =>
  isWasmBackend(backend) && (x.dtype === 'float32' || x.dtype === 'int32' || x.dtype === 'bool');

/** The slice of `x` at `begin` of `size` (already parsed and valid) as a new wasm tensor. */
function sliceOut(backend: Parameters<KernelFunc>[0]['backend'], x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  if (!isWasmBackend(backend)) throw new Error('Slice (Flux): not a wasm backend');
  const out = backend.makeOutput(size, x.dtype as 'float32' | 'int32' | 'bool');
  const n = util.sizeFromShape(size);
  if (n === 0) return out;
  const buf = heapBuffer(backend);
  sliceInto(
    viewOf(x.dtype, buf, heapOffset(backend, x), util.sizeFromShape(x.shape)),
    x.shape,
    begin,
    size,
    viewOf(x.dtype, buf, heapOffset(backend, out), n),
    simdKernels(backend),
  );
  return out;
}

type SliceParamX = Parameters<typeof slice_util.parseSliceParams>[0];

function sliceWasm(args: Parameters<KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const x = args.inputs.x as TensorInfo;
  if (!handles(args.backend, x)) return fallback('Slice', args);
  const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [b, s] = slice_util.parseSliceParams(x as SliceParamX, begin, size);
  slice_util.assertParamsValid(x as SliceParamX, b, s);
  return sliceOut(args.backend, x, b, s);
}

function splitVWasm(args: Parameters<KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const x = args.inputs.x as TensorInfo;
  if (!handles(args.backend, x)) return fallback('SplitV', args);
  const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  const ax = util.parseAxisParam(axis, x.shape)[0];
  const sizes = backend_util.prepareSplitSize(x as Parameters<typeof backend_util.prepareSplitSize>[0], numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[ax] = s;
    const out = sliceOut(args.backend, x, [...begin], size);
    begin[ax] += s;
    return out;
  });
}

function unpackWasm(args: Parameters<KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const x = args.inputs.value as TensorInfo;
  if (!handles(args.backend, x)) return fallback('Unpack', args);
  let { axis } = args.attrs as unknown as { axis: number };
  if (axis < 0) axis += x.shape.length;
  const outShape = x.shape.filter((_, i) => i !== axis);
  const size = [...x.shape];
  size[axis] = 1;
  const outs: TensorInfo[] = [];
  for (let i = 0; i < x.shape[axis]; i++) {
    const begin = new Array<number>(x.shape.length).fill(0);
    begin[axis] = i;
    const o = sliceOut(args.backend, x, begin, size);
    outs.push({ dataId: o.dataId, dtype: o.dtype, shape: outShape });
  }
  return outs;
}

const OVERRIDES: Record<string, KernelFunc> = {
  Slice: sliceWasm as KernelFunc,
  SplitV: splitVWasm as KernelFunc,
  Unpack: unpackWasm as KernelFunc,
};

/**
 * Replaces the wasm backend's Slice, SplitV and Unpack with the heap-to-heap versions (idempotent; false if
 * tfjs-backend-wasm's kernels are not registered).
 */
export function installWasmSlice(): boolean {
  if (originals.size > 0) return true;
  const found = Object.keys(OVERRIDES).map((name) => getKernel(name, 'wasm'));
  if (found.some((k) => k == null)) return false;
  for (const k of found as KernelConfig[]) {
    originals.set(k.kernelName, k);
    unregisterKernel(k.kernelName, 'wasm');
    registerKernel({ ...k, kernelFunc: OVERRIDES[k.kernelName] });
  }
  return true;
}

/** Restores tfjs's own wasm Slice, SplitV and Unpack. */
export function uninstallWasmSlice(): void {
  for (const [name, k] of originals) {
    unregisterKernel(name, 'wasm');
    registerKernel(k);
  }
  originals.clear();
}
