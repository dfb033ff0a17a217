/**
 * Installs Flux's kernel overrides for the active backend. Fused elementwise kernels register themselves
 * for `wasm` and `cpu` when @flux/core is imported; the wasm matmul/transpose overrides replace tfjs's own
 * kernels and so are installed explicitly (and can be removed again for comparisons).
 */
import { installWasmIdentity } from './identity.js';
import { installWasmMatMul } from './matmul.js';
import { installWasmSegmentSum } from './segment-sum.js';
import { installWasmSlice } from './slice.js';

/** Installs the overrides that apply to `backendName`; returns whether Flux's fast path is active there. */
export function installFastKernels(backendName: string): boolean {
  if (backendName === 'wasm') return installWasmSegmentSum() && installWasmSlice() && installWasmIdentity() && installWasmMatMul();
  return backendName === 'cpu';
}
