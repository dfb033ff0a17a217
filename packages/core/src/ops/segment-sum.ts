/**
 * `UnsortedSegmentSum` for the wasm backend, which lacks it (tfjs 4.22). It is the gradient of
 * `tf.gather`, so without it no model that gathers (positional embeddings at kept tokens, embeddings)
 * can train on wasm. TF semantics: `out[s, ...] = Σ_{i: ids[i] = s} x[i, ...]` where `ids` indexes the
 * leading `ids.rank` axes of `x`; ids outside [0, numSegments) are dropped.
 */
import { getKernel, registerKernel, util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';

import { heapBuffer, heapOffset, isWasmBackend } from './wasm-heap.js';

function unsortedSegmentSumWasm({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo {
  const x = inputs.x as TensorInfo;
  const ids = inputs.segmentIds as TensorInfo;
  const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
  if (!isWasmBackend(backend)) throw new Error('UnsortedSegmentSum (Flux): not a wasm backend');
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum: x must be float32 or int32, got ${x.dtype}`);
  }
  const nIds = util.sizeFromShape(ids.shape);
  const inner = ids.shape.length === 0 ? util.sizeFromShape(x.shape) : util.sizeFromShape(x.shape.slice(ids.shape.length));
  const outShape = [numSegments, ...x.shape.slice(ids.shape.length)];
  const out = backend.makeOutput(outShape, x.dtype);
  const outSize = numSegments * inner;
  if (outSize === 0) return out;
  const buf = heapBuffer(backend);
  const view = (off: number, n: number) => (x.dtype === 'int32' ? new Int32Array(buf, off, n) : new Float32Array(buf, off, n));
  const dst = view(heapOffset(backend, out), outSize);
  dst.fill(0);
  if (nIds === 0 || inner === 0) return out;
  const src = view(heapOffset(backend, x), nIds * inner);
  const idv =
    ids.dtype === 'int32'
      ? new Int32Array(buf, heapOffset(backend, ids), nIds)
      : new Float32Array(buf, heapOffset(backend, ids), nIds);
  for (let i = 0; i < nIds; i++) {
    const s = Math.trunc(idv[i]);
    if (!(s >= 0 && s < numSegments)) continue;
    const d = s * inner;
    const o = i * inner;
    for (let c = 0; c < inner; c++) dst[d + c] += src[o + c];
  }
  return out;
}

/** Registers the wasm `UnsortedSegmentSum` unless one is already registered. Returns whether ours is active. */
export function installWasmSegmentSum(): boolean {
  const existing = getKernel('UnsortedSegmentSum', 'wasm');
  if (existing != null) return existing.kernelFunc === (unsortedSegmentSumWasm as KernelFunc);
  registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSumWasm as KernelFunc });
  return true;
}
