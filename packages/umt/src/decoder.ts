/**
 * The alignment heads of masked distillation: one MLP decoder per aligned student layer and one for the final
 * pooled feature, each the `MLP_Decoder` shape of InternVideo2's distillation (Linear → GELU → Linear →
 * LayerNorm, then L2 normalisation), mapping the student's width to the teacher's. Checkpoints store them with
 * PyTorch names and layouts (`clip_decoder.{i}.head.0.weight` [out, in], …, `final_clip_decoder.norm.bias`).
 */
import { Rng, assignTorchLayout, gelu, layerNorm, linear, torchLayoutProblems, torchLayoutRecords, type TensorRecord } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

const LN_EPS = 1e-5;

interface DecoderShape {
  prefix: string;
  inDim: number;
  outDim: number;
}

export interface AlignmentHeadsOptions {
  /** Aligned layers (one decoder each). */
  layers: number;
  /** Student block width → teacher block width. */
  studentDim: number;
  teacherDim: number;
  /** Student pooled width → teacher pooled width (the final decoder). */
  studentPooledDim: number;
  teacherPooledDim: number;
  /** Init seed (xavier-uniform weights, zero biases, unit LayerNorm). */
  seed?: number | string;
}

export class AlignmentHeads {
  /** Variables under their PyTorch names (weights in tfjs layout [in, out]). */
  readonly params = new Map<string, tf.Variable>();
  readonly layers: number;
  private readonly shapes: DecoderShape[];
  private disposed = false;

  constructor(o: AlignmentHeadsOptions) {
    for (const k of ['layers', 'studentDim', 'teacherDim', 'studentPooledDim', 'teacherPooledDim'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`AlignmentHeads: ${k} must be a positive integer, got ${o[k]}`);
    }
    this.layers = o.layers;
    this.shapes = [
      ...Array.from({ length: o.layers }, (_, i) => ({ prefix: `clip_decoder.${i}`, inDim: o.studentDim, outDim: o.teacherDim })),
      { prefix: 'final_clip_decoder', inDim: o.studentPooledDim, outDim: o.teacherPooledDim },
    ];
    const rng = new Rng(`umt-decoders/${o.seed ?? 0}`);
    for (const s of this.shapes) {
      this.add(`${s.prefix}.head.0.weight`, [s.inDim, s.outDim], xavier(rng, s.inDim, s.outDim));
      this.add(`${s.prefix}.head.0.bias`, [s.outDim], new Float32Array(s.outDim));
      this.add(`${s.prefix}.head.2.weight`, [s.outDim, s.outDim], xavier(rng, s.outDim, s.outDim));
      this.add(`${s.prefix}.head.2.bias`, [s.outDim], new Float32Array(s.outDim));
      this.add(`${s.prefix}.norm.weight`, [s.outDim], new Float32Array(s.outDim).fill(1));
      this.add(`${s.prefix}.norm.bias`, [s.outDim], new Float32Array(s.outDim));
    }
  }

  private add(name: string, shape: number[], values: Float32Array): void {
    const t = tf.tensor(values, shape, 'float32');
    this.params.set(name, tf.variable(t, true, `umt/${name}/${nextId()}`));
    t.dispose();
  }

  private P(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`AlignmentHeads: no parameter '${name}'`);
    return v;
  }

  private decode(prefix: string, x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = gelu(linear(x, this.P(`${prefix}.head.0.weight`) as tf.Tensor2D, this.P(`${prefix}.head.0.bias`) as tf.Tensor1D));
      const y = linear(h, this.P(`${prefix}.head.2.weight`) as tf.Tensor2D, this.P(`${prefix}.head.2.bias`) as tf.Tensor1D);
      const n = layerNorm(y, this.P(`${prefix}.norm.weight`) as tf.Tensor1D, this.P(`${prefix}.norm.bias`) as tf.Tensor1D, LN_EPS);
      return tf.div(n, tf.add(tf.norm(n, 'euclidean', -1, true), 1e-12));
    });
  }

  /** Decoder `i` on student tokens [B, N, studentDim] → L2-normalised [B, N, teacherDim]. */
  decodeLayer(i: number, x: tf.Tensor3D): tf.Tensor3D {
    if (!Number.isInteger(i) || i < 0 || i >= this.layers) throw new RangeError(`AlignmentHeads: layer decoder ${i} out of range (${this.layers})`);
    return this.decode(`clip_decoder.${i}`, x) as tf.Tensor3D;
  }

  /** The final decoder on the student's pooled feature [B, D_s] → L2-normalised [B, D_t]. */
  decodePooled(x: tf.Tensor2D): tf.Tensor2D {
    return this.decode('final_clip_decoder', x) as tf.Tensor2D;
  }

  names(): string[] {
    return [...this.params.keys()];
  }

  /** PyTorch names and layouts (Linear weights [out, in]). */
  stateDict(): Map<string, TensorRecord> {
    return torchLayoutRecords(this.params);
  }

  /** Loads {@link stateDict} output strictly (every name, every shape); `file` names the source in errors. */
  loadStateDict(tensors: Map<string, TensorRecord>, file = 'state dict'): void {
    const problems = torchLayoutProblems(this.params, tensors);
    if (problems.length) throw new Error(`${file}: alignment heads do not match: ${problems.join('; ')}`);
    assignTorchLayout(this.params, tensors);
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.params.values()) v.dispose();
    this.disposed = true;
  }
}

let idCounter = 0;
function nextId(): number {
  return idCounter++;
}

function xavier(rng: Rng, fanIn: number, fanOut: number): Float32Array {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < out.length; i++) out[i] = (rng.next() * 2 - 1) * a;
  return out;
}

/**
 * The alignment loss of UMT / InternVideo2 distillation: 2 − 2·cos(s, t), with both sides L2-normalised,
 * averaged over every token (and the batch). `s` and `t` are [..., D] of equal shape.
 */
export function cosineAlignmentLoss(s: tf.Tensor, t: tf.Tensor): tf.Scalar {
  if (s.shape.join(',') !== t.shape.join(',')) throw new RangeError(`cosineAlignmentLoss: shapes [${s.shape.join(',')}] and [${t.shape.join(',')}] differ`);
  return tf.tidy(() => {
    const sn = tf.div(s, tf.add(tf.norm(s, 'euclidean', -1, true), 1e-12));
    const tn = tf.div(t, tf.add(tf.norm(t, 'euclidean', -1, true), 1e-12));
    return tf.mean(tf.sub(2, tf.mul(2, tf.sum(tf.mul(sn, tn), -1)))) as tf.Scalar;
  });
}
