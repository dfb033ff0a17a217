/**
 * Gradient registrations. tfjs-core's Node bundle registers no gradient functions, and its ESM
 * `register_all_gradients.js` cannot be imported under Node as published (extension-less relative imports).
 * The build bundles that module into @flux/core's dist (see tsup.config.ts; tfjs-layers does the same), so
 * importing @flux/core registers every core gradient into tfjs's shared (global) registry and `tf.grad`,
 * `tf.variableGrads` and optimizers work on every backend, without a dependency on tfjs-layers.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {
  BatchMatMul,
  type BatchMatMulAttrs,
  type NamedAttrMap,
  type Tensor,
  getGradient,
  matMul,
  registerGradient,
  reshape,
  sum,
} from '@tensorflow/tfjs-core';

/** True when tfjs gradient functions are registered (they are once @flux/core is imported). */
export function gradientsRegistered(): boolean {
  return getGradient('BatchMatMul') != null && getGradient('GatherV2') != null;
}

/**
 * Sums a gradient computed at the broadcast shape back to the input's shape (leading axes added by
 * broadcasting, and size-1 axes that were broadcast).
 */
function reduceToShape(grad: Tensor, shape: number[]): Tensor {
  if (grad.shape.length === shape.length && grad.shape.every((d, i) => d === shape[i])) return grad;
  const lead = grad.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  return reshape(sum(grad, axes), shape);
}

// tfjs's BatchMatMul gradient returns the broadcast shape for a broadcast operand ([B,m,k]·[k,n] gives a
// [B,k,n] gradient for the [k,n] weight, which the engine rejects). This one reduces it, and otherwise
// computes the same products.
registerGradient({
  kernelName: BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const g = dy as Tensor;
    const [a, b] = saved as [Tensor, Tensor];
    const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
    let da: () => Tensor;
    let db: () => Tensor;
    if (!transposeA && !transposeB) {
      da = () => matMul(g, b, false, true);
      db = () => matMul(a, g, true, false);
    } else if (!transposeA && transposeB) {
      da = () => matMul(g, b, false, false);
      db = () => matMul(g, a, true, false);
    } else if (transposeA && !transposeB) {
      da = () => matMul(b, g, false, true);
      db = () => matMul(a, g, false, false);
    } else {
      da = () => matMul(b, g, true, true);
      db = () => matMul(g, a, true, true);
    }
    return { a: () => reduceToShape(da(), a.shape), b: () => reduceToShape(db(), b.shape) };
  },
});
