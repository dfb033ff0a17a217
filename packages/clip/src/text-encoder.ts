/**
 * Text encoders: the {@link TextEncoder} interface (what video-text training needs from a text tower, so a
 * bigger one can be plugged in) and {@link ClipTextTransformer}, OpenCLIP's text tower built from @flux/core's
 * fused ops:
 *
 *   token_embedding + positional_embedding
 *   → N × pre-LN residual block: x + out_proj(causal MHA(ln_1(x))), then x + c_proj(act(c_fc(ln_2(x))))
 *   → ln_final at the end-of-text position (EOT pooling) → @ text_projection
 *
 * Parameters carry OpenCLIP's names. `stateDict()` gives PyTorch layouts (`in_proj_weight` [3W, W], Linear
 * weights [out, in], `text_projection` [W, D] used as `x @ text_projection`); the live variables in `params`
 * hold Linear weights in tfjs order [in, out].
 */
import { Rng, biasGelu, gatherRows, layerNorm, linear, makeRecord, recordToFloat32, residual, scaledSoftmax, type StateDict, type TensorRecord } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { TextEncoderError, TextStateDictMismatchError, type ShapeMismatch } from './errors.js';

export type TextActivation = 'gelu' | 'quick_gelu';

export interface TextEncodeOptions {
  /** L2-normalise the output rows (OpenCLIP's `encode_text(normalize=True)`). Default false. */
  normalize?: boolean;
}

/**
 * A text tower for video-text training: token ids [B, T] and each row's end-of-text position in, one
 * embedding per row out. Implementations own their variables (`dispose()` frees them).
 */
export interface TextEncoder {
  /** Width of the output embedding. */
  readonly embedDim: number;
  /** Longest sequence `encode` accepts. */
  readonly contextLength: number;
  /**
   * `ids` int32 [B, T] (T ≤ contextLength), `eotIndex` [B] (the end-of-text position of each row) →
   * float32 [B, embedDim]. Differentiable with respect to the encoder's variables.
   */
  encode(ids: tf.Tensor2D, eotIndex: Int32Array | tf.Tensor1D, opts?: TextEncodeOptions): tf.Tensor2D;
  /** The variables an optimizer updates. */
  trainableVariables(): tf.Variable[];
  /** Every variable, by its checkpoint name. */
  readonly params: Map<string, tf.Variable>;
  /** Checkpoint tensors (PyTorch layouts, float32). */
  stateDict(): StateDict;
  /** Strict load of {@link stateDict}-shaped tensors; `file` names the source in errors. */
  loadStateDict(tensors: StateDict, file?: string): void;
  dispose(): void;
}

export interface ClipTextConfig {
  /** Rows of `token_embedding` (a {@link ClipTokenizer}'s `vocabSize`). */
  vocabSize: number;
  /** Rows of `positional_embedding`: the longest sequence (CLIP 77, InternVideo2 32). */
  contextLength: number;
  /** Transformer width W. */
  width: number;
  layers: number;
  heads: number;
  /** Output width D (`text_projection` [W, D]). */
  embedDim: number;
  /** MLP hidden width (default 4·W). */
  mlpWidth: number;
  /** MLP activation: exact GELU (OpenCLIP's default) or QuickGELU `x·σ(1.702x)` (OpenAI CLIP). */
  activation: TextActivation;
  /** LayerNorm epsilon (1e-5, PyTorch's). */
  eps: number;
  /** Init seed. */
  seed: number | string;
}

export type ClipTextConfigInput = Pick<ClipTextConfig, 'vocabSize'> & Partial<ClipTextConfig>;

/** OpenCLIP's text tower defaults at InternVideo2's text length, scaled down for CPU training. */
export const DEFAULT_TEXT_CONFIG: Omit<ClipTextConfig, 'vocabSize'> = Object.freeze({
  contextLength: 32,
  width: 256,
  layers: 4,
  heads: 4,
  embedDim: 256,
  mlpWidth: 1024,
  activation: 'gelu',
  eps: 1e-5,
  seed: 0,
});

/** Resolves and validates a config (typed {@link TextEncoderError} naming every bad field). */
export function resolveTextConfig(input: ClipTextConfigInput): ClipTextConfig {
  if (input === null || typeof input !== 'object') throw new TextEncoderError(`ClipTextTransformer: config must be an object, got ${String(input)}`);
  const width = input.width ?? DEFAULT_TEXT_CONFIG.width;
  const c: ClipTextConfig = {
    ...DEFAULT_TEXT_CONFIG,
    mlpWidth: Number.isInteger(width) ? 4 * width : DEFAULT_TEXT_CONFIG.mlpWidth,
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
  } as ClipTextConfig;
  const problems: string[] = [];
  for (const k of ['vocabSize', 'contextLength', 'width', 'layers', 'heads', 'embedDim', 'mlpWidth'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) problems.push(`${k} must be a positive integer, got ${String(c[k])}`);
  }
  if (Number.isInteger(c.width) && Number.isInteger(c.heads) && c.heads >= 1 && c.width % c.heads !== 0) problems.push(`width ${c.width} is not divisible by heads ${c.heads}`);
  if (c.activation !== 'gelu' && c.activation !== 'quick_gelu') problems.push(`activation must be 'gelu' or 'quick_gelu', got ${JSON.stringify(c.activation)}`);
  if (typeof c.eps !== 'number' || !(c.eps > 0)) problems.push(`eps must be a positive number, got ${String(c.eps)}`);
  if (typeof c.seed !== 'number' && typeof c.seed !== 'string') problems.push(`seed must be a number or a string, got ${typeof c.seed}`);
  const known = new Set(['vocabSize', ...Object.keys(DEFAULT_TEXT_CONFIG)]);
  for (const k of Object.keys(input)) if (!known.has(k)) problems.push(`unknown config key '${k}'`);
  if (problems.length) throw new TextEncoderError(`ClipTextTransformer: bad config: ${problems.join('; ')}`);
  return c;
}

/** A parameter: its checkpoint name, PyTorch shape, and whether it is a Linear weight (stored transposed). */
export interface TextParamSpec {
  name: string;
  torchShape: number[];
  linear: boolean;
}

/** Every parameter of the text tower in checkpoint order (OpenCLIP names and PyTorch shapes). */
export function textParamSpecs(c: Pick<ClipTextConfig, 'vocabSize' | 'contextLength' | 'width' | 'layers' | 'embedDim' | 'mlpWidth'>): TextParamSpec[] {
  const W = c.width;
  const M = c.mlpWidth;
  const s: TextParamSpec[] = [
    { name: 'token_embedding.weight', torchShape: [c.vocabSize, W], linear: false },
    { name: 'positional_embedding', torchShape: [c.contextLength, W], linear: false },
  ];
  for (let i = 0; i < c.layers; i++) {
    const p = `transformer.resblocks.${i}`;
    s.push(
      { name: `${p}.ln_1.weight`, torchShape: [W], linear: false },
      { name: `${p}.ln_1.bias`, torchShape: [W], linear: false },
      { name: `${p}.attn.in_proj_weight`, torchShape: [3 * W, W], linear: true },
      { name: `${p}.attn.in_proj_bias`, torchShape: [3 * W], linear: false },
      { name: `${p}.attn.out_proj.weight`, torchShape: [W, W], linear: true },
      { name: `${p}.attn.out_proj.bias`, torchShape: [W], linear: false },
      { name: `${p}.ln_2.weight`, torchShape: [W], linear: false },
      { name: `${p}.ln_2.bias`, torchShape: [W], linear: false },
      { name: `${p}.mlp.c_fc.weight`, torchShape: [M, W], linear: true },
      { name: `${p}.mlp.c_fc.bias`, torchShape: [M], linear: false },
      { name: `${p}.mlp.c_proj.weight`, torchShape: [W, M], linear: true },
      { name: `${p}.mlp.c_proj.bias`, torchShape: [W], linear: false },
    );
  }
  s.push(
    { name: 'ln_final.weight', torchShape: [W], linear: false },
    { name: 'ln_final.bias', torchShape: [W], linear: false },
    { name: 'text_projection', torchShape: [W, c.embedDim], linear: false },
  );
  return s;
}

/** Large negative score for masked (future) keys: exp underflows to exactly 0, and no ±∞ reaches any kernel. */
const MASKED = -1e9;

let variableCounter = 0;

/** Prefixes a training wrapper adds to every key; stripped (repeatedly) on load. */
const WRAPPER_PREFIXES = ['module.'];

export function stripWrapperPrefixes(key: string): string {
  let k = key;
  for (let p = WRAPPER_PREFIXES.find((s) => k.startsWith(s)); p; p = WRAPPER_PREFIXES.find((s) => k.startsWith(s))) k = k.slice(p.length);
  return k;
}

function transpose2d(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c]!;
  return out;
}

/** QuickGELU `x·σ(1.702·x)` (OpenAI CLIP's activation). */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}

/** A CLIP-style causal text transformer (OpenCLIP's `TextTransformer` with the default EOT pooling). */
export class ClipTextTransformer implements TextEncoder {
  readonly config: ClipTextConfig;
  readonly params = new Map<string, tf.Variable>();
  private readonly specs: TextParamSpec[];
  private disposed = false;

  constructor(config: ClipTextConfigInput) {
    this.config = Object.freeze(resolveTextConfig(config));
    this.specs = textParamSpecs(this.config);
    const values = this.initValues();
    const id = variableCounter++;
    for (const spec of this.specs) {
      const t = tf.tensor(values.get(spec.name)!, this.tfShape(spec), 'float32');
      this.params.set(spec.name, tf.variable(t, true, `clip-text/${id}/${spec.name}`));
      t.dispose();
    }
  }

  get embedDim(): number {
    return this.config.embedDim;
  }

  get contextLength(): number {
    return this.config.contextLength;
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /** OpenCLIP's `TextTransformer.init_parameters` (+ PyTorch's Linear and MultiheadAttention bias inits). */
  private initValues(): Map<string, Float32Array> {
    const c = this.config;
    const rng = new Rng(`clip-text/${c.seed}`);
    const normal = (n: number, std: number) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = rng.normal(0, std);
      return out;
    };
    const uniform = (n: number, bound: number) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = rng.uniform(-bound, bound);
      return out;
    };
    const W = c.width;
    const projStd = W ** -0.5 * (2 * c.layers) ** -0.5;
    const attnStd = W ** -0.5;
    const fcStd = (2 * W) ** -0.5;
    const v = new Map<string, Float32Array>();
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    for (const spec of this.specs) {
      const n = size(spec.torchShape);
      const leaf = spec.name.slice(spec.name.lastIndexOf('.') + 1);
      let x: Float32Array;
      if (spec.name === 'token_embedding.weight') x = normal(n, 0.02);
      else if (spec.name === 'positional_embedding') x = normal(n, 0.01);
      else if (spec.name === 'text_projection') x = normal(n, W ** -0.5);
      else if (spec.name.endsWith('attn.in_proj_weight')) x = normal(n, attnStd);
      else if (spec.name.endsWith('attn.out_proj.weight') || spec.name.endsWith('mlp.c_proj.weight')) x = normal(n, projStd);
      else if (spec.name.endsWith('mlp.c_fc.weight')) x = normal(n, fcStd);
      else if (spec.name.endsWith('mlp.c_fc.bias')) x = uniform(n, W ** -0.5);
      else if (spec.name.endsWith('mlp.c_proj.bias')) x = uniform(n, c.mlpWidth ** -0.5);
      else if (/ln_(1|2|final)\.weight$/.test(spec.name)) x = new Float32Array(n).fill(1);
      else if (leaf === 'bias' || leaf === 'in_proj_bias') x = new Float32Array(n);
      else throw new Error(`ClipTextTransformer: no init for ${spec.name}`);
      // Linear weights are drawn in PyTorch order and stored transposed, so a seed gives the same model in
      // either layout.
      v.set(spec.name, spec.linear ? transpose2d(x, spec.torchShape[0]!, spec.torchShape[1]!) : x);
    }
    return v;
  }

  private tfShape(spec: TextParamSpec): number[] {
    return spec.linear ? [spec.torchShape[1]!, spec.torchShape[0]!] : spec.torchShape;
  }

  private P(name: string): tf.Variable {
    if (this.disposed) throw new TextEncoderError('ClipTextTransformer: used after dispose()');
    const v = this.params.get(name);
    if (!v) throw new Error(`ClipTextTransformer: no parameter '${name}'`);
    return v;
  }

  /** Parameter names in checkpoint order. */
  names(): string[] {
    return this.specs.map((s) => s.name);
  }

  trainableVariables(): tf.Variable[] {
    return this.specs.map((s) => this.P(s.name));
  }

  /** Validates ids: int32 [B ≥ 1, 1 ≤ T ≤ contextLength], every id in the vocabulary. */
  private checkIds(ids: tf.Tensor2D): void {
    const c = this.config;
    if (!(ids instanceof tf.Tensor)) throw new TextEncoderError('ClipTextTransformer.encode: ids must be a tf.Tensor2D (int32 [B, T])');
    if (ids.rank !== 2 || ids.dtype !== 'int32') throw new TextEncoderError(`ClipTextTransformer.encode: ids must be int32 [B, T], got ${ids.dtype} [${ids.shape.join(', ')}]`);
    const [b, t] = ids.shape;
    if (b < 1) throw new TextEncoderError('ClipTextTransformer.encode: empty batch (B = 0)');
    if (t < 1 || t > c.contextLength) throw new TextEncoderError(`ClipTextTransformer.encode: sequence length ${t} is outside 1…${c.contextLength} (contextLength)`);
    const data = ids.dataSync();
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < 0 || v >= c.vocabSize) throw new TextEncoderError(`ClipTextTransformer.encode: token id ${v} at [${Math.floor(i / t)}, ${i % t}] is outside the vocabulary 0…${c.vocabSize - 1}`);
    }
  }

  /** Validates ids and eotIndex [B]; returns the EOT positions. */
  private checkInputs(ids: tf.Tensor2D, eotIndex: Int32Array | tf.Tensor1D): Int32Array {
    this.checkIds(ids);
    const [b, t] = ids.shape;
    let eot: Int32Array;
    if (eotIndex instanceof tf.Tensor) {
      if (eotIndex.rank !== 1) throw new TextEncoderError(`ClipTextTransformer.encode: eotIndex must be [B], got [${eotIndex.shape.join(', ')}]`);
      const raw = Array.from(eotIndex.dataSync() as ArrayLike<number>);
      const bad = raw.findIndex((e) => !Number.isInteger(e));
      if (bad >= 0) throw new TextEncoderError(`ClipTextTransformer.encode: eotIndex[${bad}] = ${raw[bad]} is not an integer`);
      eot = Int32Array.from(raw);
    } else if (eotIndex instanceof Int32Array) eot = eotIndex;
    else throw new TextEncoderError(`ClipTextTransformer.encode: eotIndex must be an Int32Array or a tf.Tensor1D, got ${typeof eotIndex}`);
    if (eot.length !== b) throw new TextEncoderError(`ClipTextTransformer.encode: eotIndex has ${eot.length} entries for a batch of ${b}`);
    eot.forEach((e, i) => {
      if (e < 0 || e >= t) throw new TextEncoderError(`ClipTextTransformer.encode: eotIndex[${i}] = ${e} is outside 0…${t - 1}`);
    });
    return eot;
  }

  /** Token and positional embeddings through every block: the hidden states [B, T, W] before ln_final. */
  hidden(ids: tf.Tensor2D): tf.Tensor3D {
    this.checkIds(ids);
    return this.forwardHidden(ids);
  }

  private forwardHidden(ids: tf.Tensor2D): tf.Tensor3D {
    const c = this.config;
    const [b, t] = ids.shape;
    const W = c.width;
    const H = c.heads;
    const d = W / H;
    return tf.tidy(() => {
      const pos = tf.slice(this.P('positional_embedding'), [0, 0], [t, W]);
      let x = tf.add(tf.gather(this.P('token_embedding.weight'), ids), pos) as tf.Tensor3D;
      const maskData = new Float32Array(t * t);
      for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) maskData[i * t + j] = MASKED;
      const mask = tf.tensor2d(maskData, [t, t]);
      const heads = (u: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(u, [b, t, H, d]), [0, 2, 1, 3]), [b * H, t, d]);
      for (let i = 0; i < c.layers; i++) {
        const p = `transformer.resblocks.${i}`;
        const y = tf.tidy(() => {
          const h = layerNorm(x, this.P(`${p}.ln_1.weight`) as tf.Tensor1D, this.P(`${p}.ln_1.bias`) as tf.Tensor1D, c.eps);
          const qkv = linear(h, this.P(`${p}.attn.in_proj_weight`) as tf.Tensor2D, this.P(`${p}.attn.in_proj_bias`) as tf.Tensor1D);
          const q = heads(tf.mul(tf.slice(qkv, [0, 0, 0], [b, t, W]), d ** -0.5));
          const k = heads(tf.slice(qkv, [0, 0, W], [b, t, W]));
          const v = heads(tf.slice(qkv, [0, 0, 2 * W], [b, t, W]));
          // PyTorch's MultiheadAttention: softmax(q·d^-½·kᵀ + attn_mask)·v, the mask −∞ above the diagonal.
          const probs = scaledSoftmax(tf.add(tf.matMul(q, k, false, true), mask), 1);
          const ctx = tf.reshape(tf.transpose(tf.reshape(tf.matMul(probs, v), [b, H, t, d]), [0, 2, 1, 3]), [b, t, W]);
          return linear(ctx, this.P(`${p}.attn.out_proj.weight`) as tf.Tensor2D, this.P(`${p}.attn.out_proj.bias`) as tf.Tensor1D);
        });
        x = residual(x, y) as tf.Tensor3D;
        const m = tf.tidy(() => {
          const h = layerNorm(x, this.P(`${p}.ln_2.weight`) as tf.Tensor1D, this.P(`${p}.ln_2.bias`) as tf.Tensor1D, c.eps);
          const fc = linear(h, this.P(`${p}.mlp.c_fc.weight`) as tf.Tensor2D);
          const bias = this.P(`${p}.mlp.c_fc.bias`) as tf.Tensor1D;
          const a = c.activation === 'gelu' ? biasGelu(fc, bias) : quickGelu(tf.add(fc, bias));
          return linear(a, this.P(`${p}.mlp.c_proj.weight`) as tf.Tensor2D, this.P(`${p}.mlp.c_proj.bias`) as tf.Tensor1D);
        });
        x = residual(x, m) as tf.Tensor3D;
      }
      return x;
    });
  }

  encode(ids: tf.Tensor2D, eotIndex: Int32Array | tf.Tensor1D, opts: TextEncodeOptions = {}): tf.Tensor2D {
    const eot = this.checkInputs(ids, eotIndex);
    const c = this.config;
    const b = ids.shape[0];
    return tf.tidy(() => {
      const x = this.forwardHidden(ids);
      // EOT pooling, then ln_final (per token, so pooling first gives OpenCLIP's ln_final-then-pool result).
      const pooled = tf.reshape(gatherRows(x, tf.tensor2d(eot, [b, 1], 'int32')), [b, c.width]);
      const n = layerNorm(pooled, this.P('ln_final.weight') as tf.Tensor1D, this.P('ln_final.bias') as tf.Tensor1D, c.eps);
      const out = tf.matMul(n as tf.Tensor2D, this.P('text_projection') as tf.Tensor2D);
      return opts.normalize ? tf.div(out, tf.add(tf.norm(out, 'euclidean', -1, true), 1e-12)) : out;
    }) as tf.Tensor2D;
  }

  /** PyTorch-layout float32 tensors under OpenCLIP's names. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const spec of this.specs) {
      const v = Float32Array.from(this.P(spec.name).dataSync() as Float32Array);
      out.set(spec.name, makeRecord('float32', spec.torchShape, spec.linear ? transpose2d(v, spec.torchShape[1]!, spec.torchShape[0]!) : v));
    }
    return out;
  }

  /**
   * Loads PyTorch-layout tensors strictly: every name present with its shape and nothing else (`module.`
   * prefixes stripped). Otherwise throws a {@link TextStateDictMismatchError} naming `file` and every problem,
   * and assigns nothing.
   */
  loadStateDict(tensors: StateDict, file = 'state dict'): void {
    const src = new Map<string, TensorRecord>();
    const duplicates: string[] = [];
    for (const [k, r] of tensors) {
      const key = stripWrapperPrefixes(k);
      if (src.has(key)) duplicates.push(key);
      src.set(key, r);
    }
    const missing: string[] = [];
    const mismatched: ShapeMismatch[] = [];
    const known = new Set<string>();
    for (const spec of this.specs) {
      known.add(spec.name);
      const r = src.get(spec.name);
      if (!r) missing.push(spec.name);
      else if (r.shape.length !== spec.torchShape.length || r.shape.some((d, i) => d !== spec.torchShape[i])) mismatched.push({ name: spec.name, expected: spec.torchShape, got: [...r.shape] });
    }
    const unexpected = [...src.keys()].filter((k) => !known.has(k)).concat(duplicates.map((k) => `${k} (twice)`));
    if (missing.length || unexpected.length || mismatched.length) throw new TextStateDictMismatchError(file, missing, unexpected, mismatched);
    const values = this.specs.map((spec) => {
      const v = recordToFloat32(src.get(spec.name)!);
      return spec.linear ? transpose2d(v, spec.torchShape[0]!, spec.torchShape[1]!) : v;
    });
    this.specs.forEach((spec, i) => {
      const v = this.P(spec.name);
      tf.tidy(() => v.assign(tf.tensor(values[i]!, v.shape, 'float32')));
    });
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.params.values()) v.dispose();
    this.disposed = true;
  }
}
