/**
 * The only trained part of the chat probe: an MLP between the frozen vision encoder and the frozen language
 * model (the paper's single-hidden-layer MLP, LLaVA's `mlp2x_gelu` shape): Linear(C → H) → GELU → Linear(H → D_lm).
 * State dicts use PyTorch names and layouts (`mm_projector.0.weight` [H, C], `mm_projector.2.weight` [D, H]).
 */
import { Rng, assignTorchLayout, gelu, linear, torchLayoutProblems, torchLayoutRecords, type TensorRecord } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

export class MlpProjector {
  readonly params = new Map<string, tf.Variable>();
  private disposed = false;

  constructor(
    readonly inDim: number,
    readonly hidden: number,
    readonly outDim: number,
    seed: number | string = 0,
  ) {
    for (const [k, v] of [['inDim', inDim], ['hidden', hidden], ['outDim', outDim]] as const) if (!Number.isInteger(v) || v < 1) throw new RangeError(`MlpProjector: ${k} must be a positive integer, got ${v}`);
    const rng = new Rng(`mm-projector/${seed}`);
    const xavier = (a: number, b: number) => {
      const lim = Math.sqrt(6 / (a + b));
      return Float32Array.from({ length: a * b }, () => (rng.next() * 2 - 1) * lim);
    };
    this.add('mm_projector.0.weight', [inDim, hidden], xavier(inDim, hidden));
    this.add('mm_projector.0.bias', [hidden], new Float32Array(hidden));
    this.add('mm_projector.2.weight', [hidden, outDim], xavier(hidden, outDim));
    this.add('mm_projector.2.bias', [outDim], new Float32Array(outDim));
  }

  private add(name: string, shape: number[], v: Float32Array): void {
    const t = tf.tensor(v, shape, 'float32');
    this.params.set(name, tf.variable(t, true, `probe/${name}/${Math.random().toString(36).slice(2)}`));
    t.dispose();
  }

  /** [B, N, C] visual tokens → [B, N, D_lm] LM input embeddings. */
  apply(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const h = gelu(linear(x, this.params.get('mm_projector.0.weight')! as tf.Tensor2D, this.params.get('mm_projector.0.bias')! as tf.Tensor1D));
      return linear(h, this.params.get('mm_projector.2.weight')! as tf.Tensor2D, this.params.get('mm_projector.2.bias')! as tf.Tensor1D) as tf.Tensor3D;
    });
  }

  stateDict(): Map<string, TensorRecord> {
    return torchLayoutRecords(this.params);
  }

  loadStateDict(tensors: Map<string, TensorRecord>, file = 'state dict'): void {
    const problems = torchLayoutProblems(this.params, tensors);
    if (problems.length) throw new Error(`${file}: projector weights do not match: ${problems.join('; ')}`);
    assignTorchLayout(this.params, tensors);
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.params.values()) v.dispose();
    this.disposed = true;
  }
}
