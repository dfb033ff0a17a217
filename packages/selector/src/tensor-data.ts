/**
 * Reading a float32 tensor's data for a JS loop without copying it when the backend allows: the cpu
 * backend's `dataSync` already returns its own array; on the wasm backend `dataSync` copies out of the heap
 * (8 MB for a [16,16,64,128] clip, tens of ms when the copy lands on fresh pages), so we view the heap
 * directly. The view is valid only until the next tfjs allocation — use it at once, never keep it.
 */
import * as tf from '@tensorflow/tfjs-core';

interface WasmLike {
  wasm: { HEAPU8: Uint8Array; wasmMemory?: WebAssembly.Memory };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

function isWasm(b: unknown): b is WasmLike {
  const w = b as Partial<WasmLike> | null;
  return w != null && typeof w === 'object' && w.wasm?.HEAPU8 != null && typeof w.dataIdMap?.get === 'function';
}

/** The float32 data of `t` (row-major), a zero-copy view on wasm when possible, else `dataSync()`. */
export function readFloat32(t: tf.Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new TypeError(`readFloat32: expected float32, got ${t.dtype}`);
  if (tf.getBackend() === 'wasm') {
    const backend = tf.backend();
    if (isWasm(backend)) {
      const entry = backend.dataIdMap.get(t.dataId as object);
      if (entry != null) {
        const buffer = backend.wasm.wasmMemory?.buffer ?? backend.wasm.HEAPU8.buffer;
        return new Float32Array(buffer, entry.memoryOffset, t.size);
      }
    }
  }
  return t.dataSync() as Float32Array;
}
