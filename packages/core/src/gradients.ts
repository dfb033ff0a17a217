/**
 * Gradient registrations. tfjs-core's Node bundle registers no gradient functions, and importing its ESM
 * `register_all_gradients.js` fails under Node (extension-less relative imports). tfjs-layers' CommonJS
 * bundle registers every core gradient into the shared (global) kernel registry, so importing it once makes
 * `tf.grad`, `tf.variableGrads` and optimizers work on every backend.
 */
import '@tensorflow/tfjs-layers';
import { getGradient } from '@tensorflow/tfjs-core';

/** True when tfjs gradient functions are registered (they are once @flux/core is imported). */
export function gradientsRegistered(): boolean {
  return getGradient('BatchMatMul') != null && getGradient('GatherV2') != null;
}
