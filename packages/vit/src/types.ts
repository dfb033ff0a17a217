import type * as tf from '@tensorflow/tfjs-core';

/** Looks a parameter up by its official name (throws on an unknown name). */
export type ParamGetter = (name: string) => tf.Tensor;
