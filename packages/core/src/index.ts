export { Rng, type RngState } from './run/rng.js';
