export * from './core.js';
export { predictorFromSafetensors } from './browser-checkpoint.js';
export { KINETICS_400 } from './kinetics400.js';
