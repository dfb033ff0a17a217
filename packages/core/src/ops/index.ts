export * from './fused.js';
export { installFastKernels } from './install.js';
export { installWasmMatMul, uninstallWasmMatMul, wasmMatMulInstalled, permuteInto, transposeBlock } from './matmul.js';
