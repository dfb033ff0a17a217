/**
 * Direct access to the tfjs wasm backend's heap, for kernels written as plain JS loops and for calling
 * the backend's C++ kernels on memory we lay out ourselves.
 *
 * The wasm backend keeps every tensor in one linear memory; `dataIdMap` maps a tfjs dataId to its byte
 * offset there. With the threaded build the memory is a SharedArrayBuffer that can grow: a grown shared
 * memory hands out a *new* buffer object, so views are always taken from `wasmMemory.buffer` after the
 * last allocation of a kernel, never cached across allocations.
 */
import type { DataId, TensorInfo } from '@tensorflow/tfjs-core';

/** The subset of tfjs-backend-wasm's `BackendWasm` the Flux kernels use. */
export interface WasmBackendLike {
  wasm: {
    HEAPU8: Uint8Array;
    wasmMemory?: WebAssembly.Memory;
    _malloc(bytes: number): number;
    _free(ptr: number): void;
    cwrap(name: string, ret: string | null, args: string[]): (...args: unknown[]) => unknown;
    tfjs: {
      registerTensor(id: number, size: number, offset: number): void;
      disposeData(id: number): void;
    };
  };
  dataIdMap: { get(dataId: DataId): { id: number; memoryOffset: number } | undefined };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: 'float32' | 'int32' | 'bool', memoryOffset?: number): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
}

/** True when `backend` looks like tfjs-backend-wasm's backend (heap + dataIdMap). */
export function isWasmBackend(backend: unknown): backend is WasmBackendLike {
  const b = backend as Partial<WasmBackendLike> | null;
  return b != null && typeof b === 'object' && b.wasm != null && typeof b.wasm._malloc === 'function' && b.dataIdMap != null;
}

/** The current heap buffer (re-read after any allocation: memory growth replaces it). */
export function heapBuffer(backend: WasmBackendLike): ArrayBufferLike {
  const mem = backend.wasm.wasmMemory;
  return mem != null ? mem.buffer : backend.wasm.HEAPU8.buffer;
}

/**
 * Byte offset of a tensor's data in the heap. Emscripten's malloc returns a signed 32-bit pointer, so
 * allocations past 2 GiB come back negative: read it as unsigned.
 */
export function heapOffset(backend: WasmBackendLike, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (d == null) throw new Error('wasm heap: tensor data is not on the wasm backend (disposed or from another backend)');
  return d.memoryOffset >>> 0;
}

/** A Float32Array view of `size` floats at byte `offset`. */
export function f32At(backend: WasmBackendLike, offset: number, size: number): Float32Array {
  return new Float32Array(heapBuffer(backend), offset, size);
}

/** The C++-side tensor id of a tfjs tensor on the wasm backend. */
export function tensorId(backend: WasmBackendLike, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (d == null) throw new Error('wasm heap: tensor is not on the wasm backend');
  return d.id;
}

/**
 * Registers `size` floats at byte `offset` as a C++-side tensor (an alias: no memory is owned). Release
 * it with {@link releaseAlias}, which drops the bookkeeping (and any cached XNNPACK operator) but never
 * frees the memory.
 */
export function registerAlias(backend: WasmBackendLike, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

export function releaseAlias(backend: WasmBackendLike, id: number): void {
  backend.wasm.tfjs.disposeData(id);
}

/**
 * Advances the multi-index `idx` by one over dims [0, lead) of `shape` (last dim fastest, wrapping) and
 * returns how far a source offset with per-dim `strides` moves.
 */
export function advanceIndex(idx: number[], shape: readonly number[], strides: readonly number[], lead: number): number {
  let delta = 0;
  for (let d = lead - 1; d >= 0; d--) {
    idx[d]++;
    delta += strides[d]!;
    if (idx[d]! < shape[d]!) break;
    delta -= strides[d]! * shape[d]!;
    idx[d] = 0;
  }
  return delta;
}
