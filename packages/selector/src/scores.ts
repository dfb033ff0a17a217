/**
 * Token dynamics: how much each spatial token changes from the previous frame, ‖x[t,i] − x[t−1,i]‖ over the
 * channels, arranged per sparse group as the group-dynamic selector ranks them.
 */
import * as tf from '@tensorflow/tfjs-core';

import { groupBounds } from './groups.js';

/** Distance used for token dynamics. */
export type DynamicsNorm = 'l2' | 'l1';

/**
 * Frame-to-frame distance of every spatial token, computed with tfjs ops on the tokens' backend, without
 * gradient: tokens [B,F,L,C] → float32 [B, F−1, L], entry (b, t−1, i) = ‖x[b,t,i] − x[b,t−1,i]‖.
 * For F = 1 (a single image) there is no motion: returns the token magnitudes ‖x[b,0,i]‖, [B,1,L].
 */
export function frameDistances(tokens: tf.Tensor, norm: DynamicsNorm = 'l2'): tf.Tensor3D {
  if (tokens.rank !== 4) throw new RangeError(`frameDistances: tokens must be [B,F,L,C], got shape [${tokens.shape.join(',')}]`);
  checkNorm(norm);
  return tf.tidy(() => {
    // The scores feed a data download and an index choice: no gradient ever flows through them.
    const x = (tokens.dtype === 'float32' ? tokens : tf.cast(tokens, 'float32')) as tf.Tensor4D;
    const [b, f, l, c] = x.shape;
    const d = f === 1 ? x : tf.sub(tf.slice(x, [0, 1, 0, 0], [b, f - 1, l, c]), tf.slice(x, [0, 0, 0, 0], [b, f - 1, l, c]));
    const dist = norm === 'l2' ? tf.sqrt(tf.sum(tf.square(d), -1)) : tf.sum(tf.abs(d), -1);
    return dist as tf.Tensor3D;
  });
}

/**
 * {@link frameDistances} on plain data: `x` is the row-major [B,F,L,C] token data, the result the row-major
 * [B, F−1, L] distances (token magnitudes [B,1,L] for F = 1). Accumulates in double precision.
 */
export function frameDistancesData(x: ArrayLike<number>, b: number, f: number, l: number, c: number, norm: DynamicsNorm = 'l2'): Float32Array {
  checkNorm(norm);
  const frames = f === 1 ? 1 : f - 1;
  const out = new Float32Array(b * frames * l);
  const frame = l * c;
  const l2 = norm === 'l2';
  let w = 0;
  for (let bi = 0; bi < b; bi++) {
    for (let t = 0; t < frames; t++) {
      // f = 1: distance to zero (magnitude); else frame t+1 minus frame t.
      const cur = (bi * f + (f === 1 ? 0 : t + 1)) * frame;
      const prev = (bi * f + t) * frame;
      for (let i = 0; i < l; i++) {
        const a0 = cur + i * c;
        const b0 = prev + i * c;
        let acc = 0;
        if (f === 1) {
          for (let k = 0; k < c; k++) acc += l2 ? x[a0 + k] * x[a0 + k] : Math.abs(x[a0 + k]);
        } else if (l2) {
          for (let k = 0; k < c; k++) {
            const d = x[a0 + k] - x[b0 + k];
            acc += d * d;
          }
        } else {
          for (let k = 0; k < c; k++) acc += Math.abs(x[a0 + k] - x[b0 + k]);
        }
        out[w++] = l2 ? Math.sqrt(acc) : acc;
      }
    }
  }
  return out;
}

/**
 * Per-token scores [B, F, L] (flattened, row-major) from frame distances [B, F−1, L] and G contiguous groups.
 * Inside a group, token (t, i) scores ‖x[t,i] − x[t−1,i]‖; the group's first frame reuses the score of the
 * group's second frame (the official release does the same). A one-frame group (F = G, e.g. F = 4, or uneven
 * groups when G does not divide F) uses the distance to the previous frame, or to the next one for frame 0. For F = 1, `distances`
 * are token magnitudes [B,1,L] and are returned unchanged.
 */
export function groupScores(distances: ArrayLike<number>, b: number, f: number, l: number, groups: number): Float32Array {
  const scores = new Float32Array(b * f * l);
  if (f === 1) {
    for (let i = 0; i < b * l; i++) scores[i] = distances[i];
    return scores;
  }
  const bounds = groupBounds(f, groups);
  const dRow = (f - 1) * l;
  for (let bi = 0; bi < b; bi++) {
    for (let g = 0; g < groups; g++) {
      const first = bounds[g];
      const end = bounds[g + 1];
      for (let t = first; t < end; t++) {
        // distance index (t−1) for frame t; the group's first frame borrows its successor's.
        let src: number;
        if (t > first) src = t - 1;
        else if (end - first > 1) src = t; // = distance of frame t+1
        else src = t > 0 ? t - 1 : t;
        const d0 = bi * dRow + src * l;
        const s0 = (bi * f + t) * l;
        for (let i = 0; i < l; i++) scores[s0 + i] = distances[d0 + i];
      }
    }
  }
  return scores;
}

export function checkNorm(norm: string): asserts norm is DynamicsNorm {
  if (norm !== 'l2' && norm !== 'l1') throw new RangeError(`selector: norm must be 'l2' or 'l1', got ${JSON.stringify(norm)}`);
}
