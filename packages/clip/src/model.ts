/**
 * The video-text model: a FluxViT vision tower (its pooled feature per token count) → `vision_align`
 * (LayerNorm + Linear, as InternVideo2's), a text encoder behind the {@link TextEncoder} interface, and the learnable
 * VTC temperature. State dicts: the vision tower under official FluxViT names with prefix `vision.`, the text tower
 * under OpenCLIP names with prefix `text.`, `vision_align.*` and `temp`.
 */
import { Rng, assignTorchLayout, layerNorm, linear, torchLayoutProblems, torchLayoutRecords, type TensorRecord } from '@flux/core';
import type { FluxViT } from '@flux/vit';
import * as tf from '@tensorflow/tfjs-core';

import type { TextEncoder } from './text-encoder.js';
import { INIT_TEMPERATURE } from './vtc.js';

const LN_EPS = 1e-5;

export interface VideoEncodeOptions {
  /** Tokens kept by the selector (default all). */
  k?: number;
  /** Vision head (default: nearest to k). */
  head?: number;
  training?: boolean;
  rng?: Rng;
}

export class ClipModel {
  /** `vision_align.norm.*`, `vision_align.linear.*` (weight in tfjs layout [in, out]) and `temp`. */
  readonly extra = new Map<string, tf.Variable>();
  private disposed = false;

  constructor(
    readonly vision: FluxViT,
    readonly text: TextEncoder,
    options: { temperature?: number; seed?: number | string } = {},
  ) {
    const inDim = vision.config.clipEmbedDim;
    const out = text.embedDim;
    const rng = new Rng(`clip-align/${options.seed ?? 0}`);
    const a = Math.sqrt(6 / (inDim + out));
    const w = Float32Array.from({ length: inDim * out }, () => (rng.next() * 2 - 1) * a);
    this.add('vision_align.norm.weight', [inDim], new Float32Array(inDim).fill(1));
    this.add('vision_align.norm.bias', [inDim], new Float32Array(inDim));
    this.add('vision_align.linear.weight', [inDim, out], w);
    this.add('vision_align.linear.bias', [out], new Float32Array(out));
    this.add('temp', [], Float32Array.of(options.temperature ?? INIT_TEMPERATURE));
  }

  private add(name: string, shape: number[], v: Float32Array): void {
    const t = tf.tensor(v, shape, 'float32');
    this.extra.set(name, tf.variable(t, true, `clip/${name}/${Math.random().toString(36).slice(2)}`));
    t.dispose();
  }

  get temperature(): tf.Variable {
    return this.extra.get('temp')!;
  }

  /** Video features [B, D] (not normalised) from normalised clips [B, F, H, W, 3]. */
  encodeVideo(video: tf.Tensor5D, o: VideoEncodeOptions = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const r = this.vision.forward(video, { ...(o.k !== undefined ? { k: o.k } : {}), ...(o.head !== undefined ? { head: o.head } : {}), training: o.training ?? false, ...(o.rng ? { rng: o.rng } : {}) });
      const x = layerNorm(r.pooled, this.extra.get('vision_align.norm.weight')! as tf.Tensor1D, this.extra.get('vision_align.norm.bias')! as tf.Tensor1D, LN_EPS);
      return linear(x, this.extra.get('vision_align.linear.weight')! as tf.Tensor2D, this.extra.get('vision_align.linear.bias')! as tf.Tensor1D) as tf.Tensor2D;
    });
  }

  /** Text features [B, D] (not normalised). */
  encodeText(ids: tf.Tensor2D, eotIndex: Int32Array): tf.Tensor2D {
    return this.text.encode(ids, eotIndex);
  }

  stateDict(): Map<string, TensorRecord> {
    const out = new Map<string, TensorRecord>();
    for (const [k, v] of this.vision.stateDict()) out.set(`vision.${k}`, v);
    for (const [k, v] of this.text.stateDict()) out.set(`text.${k}`, v);
    for (const [k, v] of torchLayoutRecords(this.extra)) out.set(k, v);
    return out;
  }

  /** Loads {@link stateDict} output strictly; `file` names the source in errors. */
  loadStateDict(tensors: Map<string, TensorRecord>, file = 'state dict'): void {
    const part = (prefix: string) => new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    const extra = new Map([...tensors].filter(([k]) => !k.startsWith('vision.') && !k.startsWith('text.')));
    const problems = torchLayoutProblems(this.extra, extra);
    if (problems.length) throw new Error(`${file}: ${problems.join('; ')}`);
    try {
      this.vision.loadStateDict(part('vision.'), { strict: true });
      this.text.loadStateDict(part('text.'));
    } catch (e) {
      if (e instanceof Error && !e.message.includes(file)) e.message = `${file}: ${e.message}`;
      throw e;
    }
    assignTorchLayout(this.extra, extra);
  }

  dispose(): void {
    if (this.disposed) return;
    this.vision.dispose();
    this.text.dispose();
    for (const v of this.extra.values()) v.dispose();
    this.disposed = true;
  }
}
