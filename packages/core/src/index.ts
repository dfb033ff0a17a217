import './gradients.js';

export { gradientsRegistered } from './gradients.js';
export { Rng, type RngState } from './run/rng.js';
export * from './io/index.js';
export * from './ops/index.js';
