import { gatherRows } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { selectTokens, type SelectorOptions } from './select.js';

/**
 * Gathers the selected tokens: `x` [B,N,C] (e.g. tokens reshaped to [B, F·L, C]), `indices` int32 [B,K] →
 * [B,K,C]. Differentiable w.r.t. `x` on every backend (delegates to `gatherRows` of @flux/core).
 */
export function gatherTokens(x: tf.Tensor, indices: tf.Tensor): tf.Tensor3D {
  if (x.rank !== 3) throw new RangeError(`gatherTokens: x must be [B,N,C], got shape [${x.shape.join(',')}]`);
  if (indices.rank !== 2 || indices.shape[0] !== x.shape[0]) {
    throw new RangeError(`gatherTokens: indices must be [B,K] with B = ${x.shape[0]}, got shape [${indices.shape.join(',')}]`);
  }
  return gatherRows(x as tf.Tensor3D, indices as tf.Tensor2D);
}

/**
 * Select and gather in one call: tokens [B,F,L,C] → the kept tokens [B,K,C] (gradient flows to `tokens`)
 * and their int32 indices [B,K] (for gathering positional embeddings at the same places).
 */
export function selectAndGather(
  tokens: tf.Tensor,
  k: number,
  options: SelectorOptions = {},
): { tokens: tf.Tensor3D; indices: tf.Tensor2D } {
  const indices = selectTokens(tokens, k, options); // checks the rank first
  const [b, f, l, c] = tokens.shape as [number, number, number, number];
  const kept = tf.tidy(() => gatherTokens(tf.reshape(tokens, [b, f * l, c]) as tf.Tensor3D, indices));
  return { tokens: kept, indices };
}
