import './gradients.js';

export { gradientsRegistered } from './gradients.js';
export {
  initBackend,
  backendReport,
  requestedBackend,
  BACKEND_ORDER,
  type BackendKind,
  type BackendReport,
  type InitBackendOptions,
  type SkippedBackend,
} from './backend.js';
export { loadedCopies, duplicateCopiesMessage, type LoadedCopies } from './copies.js';
export * from './run/index.js';
export * from './io/index.js';
export * from './ops/index.js';
