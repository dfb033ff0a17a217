/**
 * The fused-op contract (fused.ts) on backends without Flux kernels — `tensorflow` (tfjs-node, tfjs-node-gpu),
 * webgl, webgpu — as compositions of tfjs ops with hand-written gradients.
 *
 * tfjs's automatic gradients of the composed references (reference.ts) are correct but wasteful there: every
 * intermediate of the forward pass stays alive until the backward pass ends, and the backward pass runs
 * several elementwise ops more than needed. These versions save only what their gradient needs (RMSNorm: the
 * normalised input and the row scale; GELU: its input and Φ; attention: q, k, v and the probabilities, as
 * PyTorch's math path does), free the rest inside the op, and write the backward pass with the fewest full-size
 * ops. At ViT-S 2048 tokens this is what lets a training step run without activation checkpointing
 * (≈ 1.2 GB of saved attention per clip instead of ≈ 15 GB).
 *
 * The functions work on any backend (the tests run them on cpu, wasm and tensorflow against reference.ts).
 */
import * as tf from '@tensorflow/tfjs-core';

type Save = tf.GradSaveFunc;
type Grad = { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };

function custom(f: (...args: Array<tf.Tensor | Save>) => Grad): (...xs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
}

/** Sums `t` over every axis but the last ([..., C] → [C]): the gradient of a per-channel vector. */
function sumRows(t: tf.Tensor): tf.Tensor1D {
  const c = t.shape[t.rank - 1]!;
  return tf.sum(tf.reshape(t, [-1, c]), 0) as tf.Tensor1D;
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** `x @ weight (+ bias)` over the last axis; `weight` [in, out]. */
export function linear(x: tf.Tensor, weight: tf.Tensor2D, bias?: tf.Tensor1D | null): tf.Tensor {
  const inDim = x.shape[x.rank - 1]!;
  const outDim = weight.shape[1];
  const lead = x.shape.slice(0, -1);
  const run = (xx: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null, save: Save): Grad => {
    const x2 = tf.reshape(xx, [-1, inDim]) as tf.Tensor2D;
    const y = tf.tidy(() => {
      const mm = tf.matMul(x2, w as tf.Tensor2D);
      return b ? tf.add(mm, b) : mm;
    });
    save([x2, w]);
    return {
      value: tf.reshape(y, [...lead, outDim]),
      gradFunc: (dy, [xs, ws]) => {
        const dy2 = tf.reshape(dy, [-1, outDim]) as tf.Tensor2D;
        const dx = tf.reshape(tf.matMul(dy2, ws as tf.Tensor2D, false, true), xx.shape);
        const dw = tf.matMul(xs as tf.Tensor2D, dy2, true, false);
        return b ? [dx, dw, tf.sum(dy2, 0)] : [dx, dw];
      },
    };
  };
  if (bias) return custom((xx, w, b, save) => run(xx as tf.Tensor, w as tf.Tensor, b as tf.Tensor, save as Save))(x, weight, bias);
  return custom((xx, w, save) => run(xx as tf.Tensor, w as tf.Tensor, null, save as Save))(x, weight);
}

/** RMSNorm over the last axis: `x / sqrt(mean(x²) + eps) * weight` (weight optional). */
export function rmsNorm(x: tf.Tensor, weight?: tf.Tensor1D | null, eps = 1e-6): tf.Tensor {
  const forward = (xx: tf.Tensor): [tf.Tensor, tf.Tensor] =>
    tf.tidy(() => {
      const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xx), -1, true), eps));
      return [tf.mul(xx, rstd), rstd];
    });
  // dx = rstd · (g − x̂ · mean(g ⊙ x̂)), g = dy ⊙ weight
  const dx = (g: tf.Tensor, xhat: tf.Tensor, rstd: tf.Tensor): tf.Tensor =>
    tf.mul(tf.sub(g, tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))), rstd);
  if (weight) {
    return custom((xx, w, save) => {
      const [xhat, rstd] = forward(xx as tf.Tensor);
      (save as Save)([xhat, rstd, w as tf.Tensor]);
      return {
        value: tf.mul(xhat, w as tf.Tensor),
        gradFunc: (dy, [xh, rs, ws]) => [dx(tf.mul(dy, ws), xh, rs), sumRows(tf.mul(dy, xh))],
      };
    })(x, weight);
  }
  return custom((xx, save) => {
    const [xhat, rstd] = forward(xx as tf.Tensor);
    (save as Save)([xhat, rstd]);
    return { value: xhat, gradFunc: (dy, [xh, rs]) => dx(dy, xh, rs) };
  })(x);
}

/** LayerNorm over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  return custom((xx, w, b, save) => {
    const [xhat, rstd] = tf.tidy(() => {
      const { mean, variance } = tf.moments(xx as tf.Tensor, -1, true);
      const r = tf.rsqrt(tf.add(variance, eps));
      return [tf.mul(tf.sub(xx as tf.Tensor, mean), r), r];
    });
    (save as Save)([xhat, rstd, w as tf.Tensor]);
    return {
      value: tf.add(tf.mul(xhat, w as tf.Tensor), b as tf.Tensor),
      gradFunc: (dy, [xh, rs, ws]) => {
        // dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)), g = dy ⊙ weight
        const g = tf.mul(dy, ws);
        const dx = tf.mul(tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xh, tf.mean(tf.mul(g, xh), -1, true))), rs);
        return [dx, sumRows(tf.mul(dy, xh)), sumRows(dy)];
      },
    };
  })(x, weight, bias);
}

/** GELU on `x (+ bias)`: y = x·Φ(x), dy/dx = Φ(x) + x·φ(x). Saves x and Φ. */
function geluOp(x: tf.Tensor, bias: tf.Tensor1D | null): tf.Tensor {
  const run = (xx: tf.Tensor, b: tf.Tensor | null, save: Save): Grad => {
    const [u, cdf] = tf.tidy(() => {
      const uu = b ? tf.add(xx, b) : xx;
      return [uu, tf.mul(tf.add(tf.erf(tf.mul(uu, SQRT1_2)), 1), 0.5)];
    });
    save([u, cdf]);
    return {
      value: tf.mul(u, cdf),
      gradFunc: (dy, [us, cs]) => {
        const dx = tf.tidy(() => {
          const pdf = tf.mul(tf.exp(tf.mul(tf.square(us), -0.5)), INV_SQRT_2PI);
          return tf.mul(dy, tf.add(cs, tf.mul(us, pdf)));
        });
        return b ? [dx, sumRows(dx)] : dx;
      },
    };
  };
  if (bias) return custom((xx, b, save) => run(xx as tf.Tensor, b as tf.Tensor, save as Save))(x, bias);
  return custom((xx, save) => run(xx as tf.Tensor, null, save as Save))(x);
}

/** Exact (erf) GELU. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return geluOp(x, null);
}

/** `gelu(x + bias)`, bias over the last axis. */
export function biasGelu(x: tf.Tensor, bias: tf.Tensor1D): tf.Tensor {
  return geluOp(x, bias);
}

/** dx of `y = softmax(x · scale)` over the last axis: scale · y ⊙ (dy − Σ dy ⊙ y). */
export function softmaxGrad(dy: tf.Tensor, y: tf.Tensor, scale = 1): tf.Tensor {
  return tf.tidy(() => {
    const dx = tf.mul(tf.sub(dy, tf.sum(tf.mul(dy, y), -1, true)), y);
    return scale === 1 ? dx : tf.mul(dx, scale);
  });
}

/** `softmax(x * scale)` over the last axis. Saves only the output. */
export function scaledSoftmax(x: tf.Tensor, scale = 1): tf.Tensor {
  return custom((xx, save) => {
    const y = tf.tidy(() => tf.softmax(scale === 1 ? (xx as tf.Tensor) : tf.mul(xx as tf.Tensor, scale)));
    (save as Save)([y]);
    return { value: y, gradFunc: (dy, [ys]) => softmaxGrad(dy, ys, scale) };
  })(x);
}

/** How the attention op computes its probabilities and their gradient (fused.ts passes the Flux kernels). */
export interface SoftmaxImpl {
  forward(scores: tf.Tensor, scale: number): tf.Tensor;
  backward(dy: tf.Tensor, y: tf.Tensor, scale: number): tf.Tensor;
}

const composedSoftmax: SoftmaxImpl = {
  forward: (s, scale) => tf.softmax(scale === 1 ? s : tf.mul(s, scale)),
  backward: softmaxGrad,
};

/**
 * Scaled dot-product attention `softmax(q·kᵀ·scale)·v` on [..., N, d] × [..., M, d] × [..., M, dv] (equal
 * leading dims) → [..., N, dv], as one differentiable op that keeps q, k, v, the probabilities [..., N, M]
 * and the output for its gradient and nothing else (the scores are freed inside the op). The scale is applied
 * to q before the product, and to the [..., N, d] / [..., M, d] gradients after it, never to an [N, M] tensor.
 *
 * Backward with the composed softmax: dS = P ⊙ (dO·Vᵀ − D) with D = rowsum(dO ⊙ O) (= rowsum(dP ⊙ P), as
 * flash attention computes it, from [N, dv] tensors), and the subtraction folded into the product as one
 * more inner column — [dO, D]·[V, −1]ᵀ — so the [N, M] gradient costs one product and one multiply.
 */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale: number, softmax: SoftmaxImpl = composedSoftmax): tf.Tensor {
  return custom((qq, kk, vv, save) => {
    const probs = tf.tidy(() => softmax.forward(tf.matMul(scale === 1 ? (qq as tf.Tensor) : tf.mul(qq as tf.Tensor, scale), kk as tf.Tensor, false, true), 1));
    const out = tf.matMul(probs, vv as tf.Tensor);
    (save as Save)([qq as tf.Tensor, kk as tf.Tensor, vv as tf.Tensor, probs, out]);
    return {
      value: out,
      gradFunc: (dy, [qs, ks, vs, ps, os]) => {
        const dv = tf.matMul(ps, dy, true, false);
        const ds = tf.tidy(() => {
          if (softmax !== composedSoftmax) return softmax.backward(tf.matMul(dy, vs, false, true), ps, 1);
          const rowDot = tf.sum(tf.mul(dy, os), -1, true); // [..., N, 1]
          const minusOne = tf.fill([...vs.shape.slice(0, -1), 1], -1);
          return tf.mul(tf.matMul(tf.concat([dy, rowDot], -1), tf.concat([vs, minusOne], -1), false, true), ps);
        });
        const [dq, dk] = tf.tidy(() => {
          const gq = tf.matMul(ds, ks);
          const gk = tf.matMul(ds, qs, true, false);
          return scale === 1 ? [gq, gk] : [tf.mul(gq, scale), tf.mul(gk, scale)];
        });
        ds.dispose();
        return [dq, dk, dv];
      },
    };
  })(q, k, v);
}
