export * from './fused.js';
export * as reference from './reference.js';
export * as composed from './composed.js';
export { installWasmSegmentSum } from './segment-sum.js';
export { installWasmSlice, uninstallWasmSlice, sliceInto } from './slice.js';
export { installWasmIdentity, uninstallWasmIdentity } from './identity.js';
export { installFastKernels } from './install.js';
export { installWasmMatMul, uninstallWasmMatMul, wasmMatMulInstalled, permuteInto, transposeBlock } from './matmul.js';
export { setSimdKernelsEnabled, simdKernels, simdModuleBytes } from './simd.js';
