/**
 * One FluxViT transformer block: RMSNorm pre-norm, attention (qk-norm, LPE), LayerScale, MLP with GELU,
 * stochastic depth (drop-path) in training.
 */
import { biasGelu, linear, residual, rmsNorm } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { attention, getAttentionChunk } from './attention.js';
import type { ParamGetter } from './types.js';

export interface BlockOptions {
  numHeads: number;
  eps: number;
  /** Whether `ls1.gamma` / `ls2.gamma` exist. */
  layerScale: boolean;
  mlpActivation: 'gelu' | 'gelu_tanh';
  /** Per-sample keep masks [B,1,1] (already divided by the keep probability) for the two branches. */
  dropPath?: [tf.Tensor, tf.Tensor] | null;
  returnClsAttention?: boolean;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (flash-attn's FusedMLP `gelu_approx`). */
function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** MLP `fc2(act(fc1(x)))` of block `prefix` (`blocks.i.mlp`). */
export function mlp(x: tf.Tensor3D, P: ParamGetter, prefix: string, activation: 'gelu' | 'gelu_tanh' = 'gelu'): tf.Tensor3D {
  return tf.tidy(() => {
    const h = linear(x, P(`${prefix}.fc1.weight`) as tf.Tensor2D);
    const b1 = P(`${prefix}.fc1.bias`) as tf.Tensor1D;
    const a = activation === 'gelu' ? biasGelu(h, b1) : geluTanh(tf.add(h, b1));
    return linear(a, P(`${prefix}.fc2.weight`) as tf.Tensor2D, P(`${prefix}.fc2.bias`) as tf.Tensor1D) as tf.Tensor3D;
  });
}

/** Block `blocks.{index}` on x [B, N, C]. */
export function block(x: tf.Tensor3D, P: ParamGetter, index: number, o: BlockOptions): { out: tf.Tensor3D; clsAttention?: tf.Tensor2D } {
  const pre = `blocks.${index}`;
  let cls: tf.Tensor2D | undefined;
  const out = tf.tidy(() => {
    const g1 = o.layerScale ? (P(`${pre}.ls1.gamma`) as tf.Tensor1D) : null;
    const g2 = o.layerScale ? (P(`${pre}.ls2.gamma`) as tf.Tensor1D) : null;
    const a = attention(rmsNorm(x, P(`${pre}.norm1.weight`) as tf.Tensor1D, o.eps) as tf.Tensor3D, P, `${pre}.attn`, o.numHeads, o.eps, o.returnClsAttention);
    if (a.clsAttention) cls = tf.keep(a.clsAttention);
    const y1 = o.dropPath ? tf.mul(a.out, o.dropPath[0]) : a.out;
    const h = residual(x, y1, g1) as tf.Tensor3D;
    const m = mlp(rmsNorm(h, P(`${pre}.norm2.weight`) as tf.Tensor1D, o.eps) as tf.Tensor3D, P, `${pre}.mlp`, o.mlpActivation);
    const y2 = o.dropPath ? tf.mul(m, o.dropPath[1]) : m;
    return residual(h, y2, g2) as tf.Tensor3D;
  });
  return { out, clsAttention: cls };
}


/**
 * {@link block} with activation checkpointing: the forward keeps only the block's input; the backward
 * recomputes the block and differentiates it (`tf.customGrad` + a nested `tf.grads`). Training memory then
 * holds one block's activations instead of all of them — at 2048 tokens a ViT-S block's attention
 * probabilities alone are ~100 MB per clip, beyond the wasm heap for 12 blocks. `names` are the block's
 * parameter names; `P` resolves them.
 */
export function checkpointedBlock(x: tf.Tensor3D, P: ParamGetter, index: number, o: BlockOptions, names: readonly string[]): tf.Tensor3D {
  // Drop-path masks are re-created from their values in each run: the recompute happens after the forward
  // scope that made the original mask tensors has released them.
  const masks = o.dropPath?.map((t) => ({ values: t.dataSync().slice() as Float32Array, shape: t.shape }));
  // `clip` ≥ 0: xin is that one clip of the batch (per-clip backward), so it takes that clip's masks.
  const run = (xin: tf.Tensor, ps: tf.Tensor[], clip = -1): tf.Tensor3D =>
    tf.tidy(() => {
      const local = new Map(names.map((n, i) => [n, ps[i]!]));
      const get: ParamGetter = (n) => local.get(n) ?? P(n);
      const dropPath = masks
        ? (masks.map((m) => (clip < 0 ? tf.tensor(m.values, m.shape) : tf.tensor3d([m.values[clip]!], [1, 1, 1]))) as [tf.Tensor, tf.Tensor])
        : null;
      return block(xin as tf.Tensor3D, get, index, { ...o, dropPath, returnClsAttention: false }).out;
    });
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const inputs = args as tf.Tensor[];
    save(inputs);
    const value = run(inputs[0]!, inputs.slice(1));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      // A nested gradient computation inside a backward pass: tfjs's engine replaces and then nulls its
      // active tape when the inner one finishes, which breaks the outer pass (it disposes the saved tensors
      // of its own tape afterwards). Keep the outer tape and put it back.
      const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
      const nested = (xs: tf.Tensor[], dyPart: tf.Tensor, clip: number): tf.Tensor[] => {
        const outer = state.activeTape;
        try {
          return tf.grads((...a: tf.Tensor[]) => run(a[0]!, a.slice(1), clip))(xs, dyPart);
        } finally {
          state.activeTape = outer;
        }
      };
      const [xs, ...ps] = saved as [tf.Tensor3D, ...tf.Tensor[]];
      const [b, n] = xs.shape;
      // Large batches are differentiated one clip at a time (the block is independent per clip): the
      // backward then holds one clip's attention maps, not the batch's.
      if (b === 1 || b * n * n * o.numHeads <= 2 * getAttentionChunk()) return nested(saved, dy, -1);
      const gx: tf.Tensor[] = [];
      let gp: tf.Tensor[] | null = null;
      for (let i = 0; i < b; i++) {
        const xi = tf.slice(xs, [i, 0, 0], [1, n, xs.shape[2]]);
        const dyi = tf.slice(dy, [i, 0, 0], [1, n, xs.shape[2]]);
        const g = nested([xi, ...ps], dyi, i);
        tf.dispose([xi, dyi]);
        gx.push(g[0]!);
        if (!gp) gp = g.slice(1);
        else {
          const next: tf.Tensor[] = gp.map((t, j) => tf.add(t, g[j + 1]!));
          tf.dispose([...gp, ...g.slice(1)]);
          gp = next;
        }
      }
      const gxAll = tf.concat(gx, 0);
      tf.dispose(gx);
      return [gxAll, ...gp!];
    };
    return { value, gradFunc };
  });
  return f(x, ...names.map((n) => P(n))) as tf.Tensor3D;
}
