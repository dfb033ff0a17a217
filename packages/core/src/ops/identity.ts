/**
 * A copy-free wasm `Identity`. tfjs-backend-wasm copies the whole tensor for Identity, and tfjs runs
 * Identity for every `tf.clone` — which includes every tensor a `tf.customGrad` op saves for its backward
 * pass. Tensors are immutable, so like the cpu backend (and wasm's own Reshape) the output can share the
 * input's memory with its reference count raised.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';

import { isWasmBackend } from './wasm-heap.js';

let saved: KernelConfig | null = null;

function identityWasm(args: Parameters<KernelFunc>[0]): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  const backend = args.backend as unknown as { incRef?: (dataId: object) => void };
  if (!isWasmBackend(args.backend) || x.dtype === 'string' || typeof backend.incRef !== 'function') {
    return saved!.kernelFunc(args) as TensorInfo;
  }
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Replaces the wasm backend's Identity with the aliasing version (idempotent; false if wasm is not loaded). */
export function installWasmIdentity(): boolean {
  if (saved != null) return true;
  const k = getKernel('Identity', 'wasm');
  if (k == null) return false;
  saved = k;
  unregisterKernel('Identity', 'wasm');
  registerKernel({ ...k, kernelFunc: identityWasm as KernelFunc });
  return true;
}

/** Restores tfjs's own wasm Identity. */
export function uninstallWasmIdentity(): void {
  if (saved == null) return;
  unregisterKernel('Identity', 'wasm');
  registerKernel(saved);
  saved = null;
}
