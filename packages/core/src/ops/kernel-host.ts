/**
 * One kernel body, two backends: a Flux kernel is written once as a plain JS loop over typed arrays and
 * registered for `cpu` (arrays from `backend.data`) and `wasm` (views of the wasm heap, outputs allocated
 * with `backend.makeOutput`, views taken after the last allocation because a grown heap replaces its
 * buffer).
 */
import {
  getKernel,
  registerKernel,
  util,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { simdAllowed, simdKernels, type SimdKernels } from './simd.js';
import { heapBuffer, heapOffset, isWasmBackend, type WasmBackendLike } from './wasm-heap.js';

export type Arr = Float32Array | Int32Array;

/** Shape (and dtype, default float32) of one kernel output. */
export interface OutSpec {
  shape: number[];
  dtype?: 'float32' | 'int32';
}

export interface FluxKernelSpec {
  /** Kernel name as passed to `runKernel` (e.g. `FluxRmsNorm`). */
  name: string;
  /** Input names in order; an input absent from the call is `undefined` in `outputs` and `run`. */
  inputs: readonly string[];
  /** Output shapes from the inputs' infos. */
  outputs(ins: Array<TensorInfo | undefined>, attrs: NamedAttrMap): OutSpec[];
  /** Fills `outs` (uninitialised memory on wasm: write every element) from `ins`. */
  run(ins: Array<Arr | undefined>, outs: Arr[], infos: Array<TensorInfo | undefined>, attrs: NamedAttrMap): void;
  /**
   * Optional wasm-SIMD version (views are heap views; `k` works on their byte offsets). Returns false
   * when it does not cover these shapes, and `run` is used instead.
   */
  runSimd?(
    ins: Array<Arr | undefined>,
    outs: Arr[],
    infos: Array<TensorInfo | undefined>,
    attrs: NamedAttrMap,
    k: SimdKernels,
    backend: WasmBackendLike,
  ): boolean;
}

interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: string, values: Arr): TensorInfo;
}

function isCpuBackend(b: unknown): b is CpuBackendLike {
  const c = b as Partial<CpuBackendLike> | null;
  return c != null && typeof c.makeTensorInfo === 'function' && c.data != null && typeof c.data.get === 'function';
}

function cpuArray(backend: CpuBackendLike, t: TensorInfo): Arr {
  const values = backend.data.get(t.dataId)?.values;
  if (!(values instanceof Float32Array || values instanceof Int32Array)) {
    throw new Error(`Flux kernel: cpu tensor of dtype ${t.dtype} has no float32/int32 values`);
  }
  return values;
}

function makeArr(dtype: string, buf: ArrayBufferLike, off: number, size: number): Arr {
  return dtype === 'int32' ? new Int32Array(buf, off, size) : new Float32Array(buf, off, size);
}

function kernelFuncFor(spec: FluxKernelSpec, backendName: 'cpu' | 'wasm'): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const infos = spec.inputs.map((n) => inputs[n] as TensorInfo | undefined);
    const outSpecs = spec.outputs(infos, attrs ?? {});
    const a = attrs ?? {};
    if (backendName === 'cpu') {
      if (!isCpuBackend(backend)) throw new Error(`${spec.name}: not a cpu backend`);
      const ins = infos.map((t) => (t == null ? undefined : cpuArray(backend, t)));
      const outs = outSpecs.map((o) => {
        const n = util.sizeFromShape(o.shape);
        return o.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
      });
      spec.run(ins, outs, infos, a);
      return outSpecs.map((o, i) => backend.makeTensorInfo(o.shape, o.dtype ?? 'float32', outs[i]));
    }
    if (!isWasmBackend(backend)) throw new Error(`${spec.name}: not a wasm backend`);
    const outInfos = outSpecs.map((o) => backend.makeOutput(o.shape, o.dtype ?? 'float32'));
    // Views only after the last allocation (heap growth replaces the buffer).
    const buf = heapBuffer(backend);
    const ins = infos.map((t) => (t == null ? undefined : makeArr(t.dtype, buf, heapOffset(backend, t), util.sizeFromShape(t.shape))));
    const outs = outInfos.map((t) => makeArr(t.dtype, buf, heapOffset(backend, t), util.sizeFromShape(t.shape)));
    try {
      const k = spec.runSimd && simdAllowed(spec.name) ? simdKernels(backend) : null;
      if (k == null || !spec.runSimd!(ins, outs, infos, a, k, backend)) spec.run(ins, outs, infos, a);
    } catch (e) {
      for (const t of outInfos) backend.disposeData(t.dataId, true);
      throw e;
    }
    return outInfos;
  };
}

/** Registers `spec` for the cpu and wasm backends (skipping a backend that already has the name). */
export function registerFluxKernel(spec: FluxKernelSpec): void {
  for (const backendName of ['cpu', 'wasm'] as const) {
    if (getKernel(spec.name, backendName) != null) continue;
    registerKernel({ kernelName: spec.name, backendName, kernelFunc: kernelFuncFor(spec, backendName) });
  }
}

// ---- small helpers shared by the kernel specs ----

/** Last-axis size of a shape (1 for a scalar). */
export function lastDim(shape: number[]): number {
  return shape.length === 0 ? 1 : shape[shape.length - 1];
}

/** Number of rows when the last axis is the channel axis. */
export function rowsOf(shape: number[]): number {
  const c = lastDim(shape);
  return c === 0 ? 0 : util.sizeFromShape(shape) / c;
}

/**
 * Runs `f` with `n` zeroed float64 accumulators of `cols` doubles each on the wasm heap (byte offsets), then
 * stores them, rounded to float32, into `outs` (heap views taken before the allocation stay valid: the
 * threaded build's memory is shared and never detached).
 */
export function withF64Accumulators(backend: WasmBackendLike, cols: number, outs: Arr[], f: (acc: number[]) => void): void {
  const bytes = cols * 8;
  const base = backend.wasm._malloc(outs.length * bytes + 16);
  try {
    const at = (base + 15) & ~15;
    const acc = outs.map((_, i) => at + i * bytes);
    new Float64Array(heapBuffer(backend), at, cols * outs.length).fill(0);
    f(acc);
    const view = new Float64Array(heapBuffer(backend), at, cols * outs.length);
    outs.forEach((o, i) => {
      for (let c = 0; c < cols; c++) o[c] = view[i * cols + c]!;
    });
  } finally {
    backend.wasm._free(base);
  }
}
