/**
 * {@link LlamaModel}: Hugging Face's `LlamaForCausalLM` (and `Qwen2ForCausalLM`, the same network with q/k/v
 * biases) built from @flux/core's fused ops:
 *
 *   embed_tokens → N × [x + o_proj(GQA(rope(q), rope(k), v)) over input_layernorm(x) (causal),
 *                       x + down_proj(silu(gate_proj(h)) · up_proj(h)) over post_attention_layernorm(x)]
 *   → norm → lm_head (or the embedding, tied)
 *
 * RMSNorm `x / √(mean(x²) + eps) · w`; rotary embeddings in HF's `rotate_half` layout (dimension i pairs with
 * i + head_dim/2), which is what HF Llama weights expect; query head h reads key/value head h // (H / KV).
 *
 * Parameters carry HF names. `stateDict()` gives PyTorch layouts (Linear weights [out, in]); the live variables
 * in `params` hold Linear weights in tfjs order [in, out].
 */
import { Rng, gatherRows, linear, makeRecord, recordToFloat32, residual, rmsNorm, scaledSoftmax, type StateDict, type TensorRecord } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { logLikelihood as scoreContinuations, decode } from './decode.js';
import type { ForwardOptions, ForwardResult, GenerateOptions, KVCache, LanguageModel } from './lm.js';
import { LanguageModelError, LlamaConfigError, LlamaStateDictMismatchError, type LlamaShapeMismatch } from './lm-errors.js';

export type LlamaArchitecture = 'llama' | 'qwen2';

export interface LlamaConfig {
  /** `llama` (LlamaForCausalLM) or `qwen2` (Qwen2ForCausalLM: q/k/v biases). */
  architecture: LlamaArchitecture;
  vocabSize: number;
  /** Embedding width D (`hidden_size`). */
  hiddenSize: number;
  /** MLP width (`intermediate_size`). */
  intermediateSize: number;
  /** `num_hidden_layers`. */
  numLayers: number;
  /** Query heads (`num_attention_heads`). */
  numHeads: number;
  /** Key/value heads (`num_key_value_heads`, grouped-query attention; = numHeads for plain MHA). */
  numKvHeads: number;
  /** Width of one head (`head_dim`, default hiddenSize / numHeads; even, for RoPE). */
  headDim: number;
  /** Longest context (`max_position_embeddings`). */
  maxPositions: number;
  /** `rms_norm_eps`. */
  rmsNormEps: number;
  /** `rope_theta`. */
  ropeTheta: number;
  /** The classifier is the embedding (`tie_word_embeddings`, no `lm_head.weight`). */
  tieWordEmbeddings: boolean;
  /** Biases on q_proj, k_proj, v_proj (Qwen2; Llama with `attention_bias`). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama with `attention_bias`). */
  oBias: boolean;
  bosId: number | null;
  /** End ids (`eos_token_id`, a number or a list; generation_config.json's are added by {@link loadLlama}). */
  eosIds: number[];
  /** Init seed (random init only). */
  seed: number | string;
}

export type LlamaConfigInput = Pick<LlamaConfig, 'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads'> & Partial<LlamaConfig>;

const KNOWN_KEYS: (keyof LlamaConfig)[] = ['architecture', 'vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'maxPositions', 'rmsNormEps', 'ropeTheta', 'tieWordEmbeddings', 'qkvBias', 'oBias', 'bosId', 'eosIds', 'seed'];

/** Elements one tfjs tensor may hold here (typed-array and index limits). */
const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/** Fills defaults (HF's) and validates; throws a {@link LlamaConfigError} naming `file` and every problem. */
export function resolveLlamaConfig(input: LlamaConfigInput, file = '<config>'): LlamaConfig {
  if (input === null || typeof input !== 'object') throw new LlamaConfigError(file, [`the config must be an object, got ${String(input)}`]);
  const problems: string[] = [];
  for (const k of Object.keys(input)) if (!KNOWN_KEYS.includes(k as keyof LlamaConfig)) problems.push(`unknown config key '${k}'`);
  const heads = input.numHeads;
  const c: LlamaConfig = {
    architecture: 'llama',
    intermediateSize: Number.isInteger(input.hiddenSize) ? Math.ceil((8 * input.hiddenSize) / 3 / 4) * 4 : 0,
    numKvHeads: heads,
    headDim: Number.isInteger(input.hiddenSize) && Number.isInteger(heads) && heads > 0 ? input.hiddenSize / heads : Number.NaN,
    maxPositions: 2048,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    tieWordEmbeddings: false,
    qkvBias: input.architecture === 'qwen2',
    oBias: false,
    bosId: 1,
    eosIds: [2],
    seed: 0,
    ...(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as LlamaConfigInput),
  } as LlamaConfig;
  if (c.architecture !== 'llama' && c.architecture !== 'qwen2') problems.push(`architecture must be 'llama' or 'qwen2', got ${JSON.stringify(c.architecture)}`);
  for (const k of ['vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'maxPositions'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) problems.push(`${k} must be a positive integer, got ${String(c[k])}`);
  }
  const ok = (n: number) => Number.isInteger(n) && n >= 1;
  if (ok(c.numHeads) && ok(c.numKvHeads) && c.numHeads % c.numKvHeads !== 0) problems.push(`numHeads ${c.numHeads} is not a multiple of numKvHeads ${c.numKvHeads} (grouped-query attention)`);
  if (input.headDim === undefined && ok(c.hiddenSize) && ok(c.numHeads) && c.hiddenSize % c.numHeads !== 0) problems.push(`hiddenSize ${c.hiddenSize} is not divisible by numHeads ${c.numHeads} (and no headDim is given)`);
  if (ok(c.headDim) && c.headDim % 2 !== 0) problems.push(`headDim ${c.headDim} is odd (rotary embeddings rotate pairs)`);
  if (typeof c.rmsNormEps !== 'number' || !(c.rmsNormEps > 0) || !Number.isFinite(c.rmsNormEps)) problems.push(`rmsNormEps must be a positive number, got ${String(c.rmsNormEps)}`);
  if (typeof c.ropeTheta !== 'number' || !(c.ropeTheta > 1) || !Number.isFinite(c.ropeTheta)) problems.push(`ropeTheta must be a number > 1, got ${String(c.ropeTheta)}`);
  for (const k of ['tieWordEmbeddings', 'qkvBias', 'oBias'] as const) if (typeof c[k] !== 'boolean') problems.push(`${k} must be a boolean, got ${String(c[k])}`);
  if (c.bosId !== null && (!Number.isInteger(c.bosId) || c.bosId < 0 || (ok(c.vocabSize) && c.bosId >= c.vocabSize))) problems.push(`bosId ${String(c.bosId)} is not a token id (0…${c.vocabSize - 1}) or null`);
  if (!Array.isArray(c.eosIds)) problems.push(`eosIds must be an array of token ids, got ${String(c.eosIds)}`);
  else for (const e of c.eosIds) if (!Number.isInteger(e) || e < 0 || (ok(c.vocabSize) && e >= c.vocabSize)) problems.push(`eos id ${String(e)} is not a token id (0…${c.vocabSize - 1})`);
  if (typeof c.seed !== 'number' && typeof c.seed !== 'string') problems.push(`seed must be a number or a string, got ${typeof c.seed}`);
  if (!problems.length) {
    const big = (n: number, what: string) => {
      if (n > MAX_TENSOR_ELEMENTS) problems.push(`${what} would hold ${n} elements (more than ${MAX_TENSOR_ELEMENTS})`);
    };
    big(c.vocabSize * c.hiddenSize, 'the embedding');
    big(c.intermediateSize * c.hiddenSize, 'an MLP weight');
    big(c.numHeads * c.headDim * c.hiddenSize, 'q_proj');
  }
  if (problems.length) throw new LlamaConfigError(file, problems);
  return { ...c, eosIds: [...c.eosIds] };
}

/** A Hugging Face config.json (LlamaConfig / Qwen2Config) as a {@link LlamaConfig}; `file` names it in errors. */
export function llamaConfigFromHf(json: unknown, file = 'config.json'): LlamaConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new LlamaConfigError(file, ['not a JSON object']);
  const j = json as Record<string, unknown>;
  const problems: string[] = [];
  const archs = Array.isArray(j.architectures) ? (j.architectures as unknown[]) : [];
  let arch: LlamaArchitecture | null = null;
  if (j.model_type === 'llama' || j.model_type === 'qwen2') arch = j.model_type;
  else if (j.model_type === undefined && archs.includes('LlamaForCausalLM')) arch = 'llama';
  else if (j.model_type === undefined && archs.includes('Qwen2ForCausalLM')) arch = 'qwen2';
  else problems.push(`model_type ${JSON.stringify(j.model_type)} is not supported (llama or qwen2)`);
  const bad = archs.filter((a) => a !== 'LlamaForCausalLM' && a !== 'Qwen2ForCausalLM');
  if (bad.length) problems.push(`architectures ${JSON.stringify(bad)} are not supported (LlamaForCausalLM, Qwen2ForCausalLM)`);
  const required = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads'];
  for (const k of required) if (j[k] === undefined) problems.push(`${k} is missing`);
  if ((j.hidden_act ?? 'silu') !== 'silu') problems.push(`hidden_act ${JSON.stringify(j.hidden_act)} is not supported (silu)`);
  if (j.mlp_bias === true) problems.push('mlp_bias true is not supported');
  const rs = j.rope_scaling as Record<string, unknown> | null | undefined;
  if (rs != null && (rs.rope_type ?? rs.type) !== 'default') problems.push(`rope_scaling ${JSON.stringify(rs)} is not supported (only plain RoPE with rope_theta)`);
  if (j.use_sliding_window === true) problems.push('use_sliding_window true is not supported');
  if (arch === 'qwen2' && j.attention_bias === true) problems.push('attention_bias on qwen2 is not a Qwen2Config field');
  const num = (k: string): number => j[k] as number;
  const eos = j.eos_token_id;
  const eosIds = eos === undefined || eos === null ? [] : Array.isArray(eos) ? (eos as number[]) : [eos as number];
  if (problems.length) throw new LlamaConfigError(file, problems);
  const attentionBias = j.attention_bias === true;
  return resolveLlamaConfig(
    {
      architecture: arch!,
      vocabSize: num('vocab_size'),
      hiddenSize: num('hidden_size'),
      intermediateSize: num('intermediate_size'),
      numLayers: num('num_hidden_layers'),
      numHeads: num('num_attention_heads'),
      numKvHeads: (j.num_key_value_heads ?? j.num_attention_heads) as number,
      ...(j.head_dim != null ? { headDim: num('head_dim') } : {}),
      maxPositions: (j.max_position_embeddings ?? (arch === 'qwen2' ? 32768 : 2048)) as number,
      rmsNormEps: (j.rms_norm_eps ?? 1e-6) as number,
      ropeTheta: (j.rope_theta ?? 10000) as number,
      tieWordEmbeddings: (j.tie_word_embeddings ?? false) as boolean,
      qkvBias: arch === 'qwen2' || attentionBias,
      oBias: arch === 'llama' && attentionBias,
      bosId: (j.bos_token_id ?? null) as number | null,
      eosIds,
    },
    file,
  );
}

/** A {@link LlamaConfig} as a Hugging Face config.json object (what {@link llamaConfigFromHf} reads back). */
export function llamaConfigToHf(c: LlamaConfig): Record<string, unknown> {
  const qwen = c.architecture === 'qwen2';
  if (qwen && (!c.qkvBias || c.oBias)) throw new LlamaConfigError('<config>', ['a qwen2 model has q/k/v biases and no o_proj bias; save it as llama with attention_bias instead']);
  if (!qwen && c.qkvBias !== c.oBias) throw new LlamaConfigError('<config>', ['a llama model has biases on all of q/k/v/o_proj (attention_bias) or on none']);
  return {
    architectures: [qwen ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: c.architecture,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    hidden_act: 'silu',
    ...(qwen ? { use_sliding_window: false } : { attention_bias: c.qkvBias, mlp_bias: false }),
    attention_dropout: 0,
    tie_word_embeddings: c.tieWordEmbeddings,
    bos_token_id: c.bosId,
    eos_token_id: c.eosIds.length === 1 ? c.eosIds[0] : c.eosIds,
    torch_dtype: 'float32',
  };
}

/** A parameter: its HF name, PyTorch shape, and whether it is a Linear weight (stored transposed here). */
export interface LlamaParamSpec {
  name: string;
  torchShape: number[];
  linear: boolean;
}

/** Every parameter in checkpoint order (HF names and PyTorch shapes). */
export function llamaParamSpecs(c: LlamaConfig): LlamaParamSpec[] {
  const D = c.hiddenSize;
  const qd = c.numHeads * c.headDim;
  const kvd = c.numKvHeads * c.headDim;
  const M = c.intermediateSize;
  const s: LlamaParamSpec[] = [{ name: 'model.embed_tokens.weight', torchShape: [c.vocabSize, D], linear: false }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    s.push({ name: `${p}.input_layernorm.weight`, torchShape: [D], linear: false });
    for (const [n, out] of [['q', qd], ['k', kvd], ['v', kvd]] as const) {
      s.push({ name: `${p}.self_attn.${n}_proj.weight`, torchShape: [out, D], linear: true });
      if (c.qkvBias) s.push({ name: `${p}.self_attn.${n}_proj.bias`, torchShape: [out], linear: false });
    }
    s.push({ name: `${p}.self_attn.o_proj.weight`, torchShape: [D, qd], linear: true });
    if (c.oBias) s.push({ name: `${p}.self_attn.o_proj.bias`, torchShape: [D], linear: false });
    s.push(
      { name: `${p}.post_attention_layernorm.weight`, torchShape: [D], linear: false },
      { name: `${p}.mlp.gate_proj.weight`, torchShape: [M, D], linear: true },
      { name: `${p}.mlp.up_proj.weight`, torchShape: [M, D], linear: true },
      { name: `${p}.mlp.down_proj.weight`, torchShape: [D, M], linear: true },
    );
  }
  s.push({ name: 'model.norm.weight', torchShape: [D], linear: false });
  if (!c.tieWordEmbeddings) s.push({ name: 'lm_head.weight', torchShape: [c.vocabSize, D], linear: true });
  return s;
}

/** Keys of HF checkpoints that are buffers, not parameters (older Llama files store the RoPE frequencies). */
export function isIgnoredLlamaKey(key: string): boolean {
  return /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/.test(key);
}

/** Large negative score for masked (future) keys: exp underflows to exactly 0, and no ±∞ reaches any kernel. */
const MASKED = -1e9;

let modelCounter = 0;

function transpose2d(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c]!;
  return out;
}

/** The KV cache of a {@link LlamaModel}: per layer keys and values [B, KV, S, headDim] (RoPE applied to keys). */
export class LlamaKVCache implements KVCache {
  /** @internal */
  k: (tf.Tensor4D | null)[];
  /** @internal */
  v: (tf.Tensor4D | null)[];
  private disposed = false;

  constructor(
    readonly owner: LlamaModel,
    layers: number,
  ) {
    this.k = new Array(layers).fill(null);
    this.v = new Array(layers).fill(null);
  }

  get length(): number {
    return this.k[0]?.shape[2] ?? 0;
  }

  get batchSize(): number {
    return this.k[0]?.shape[0] ?? 0;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal Replaces layer `i`'s tensors (kept outside any tidy) and frees the old ones. */
  set(i: number, k: tf.Tensor4D, v: tf.Tensor4D): void {
    const ok = this.k[i];
    const ov = this.v[i];
    this.k[i] = tf.keep(k);
    this.v[i] = tf.keep(v);
    ok?.dispose();
    ov?.dispose();
  }

  select(rows: ArrayLike<number>): void {
    if (this.disposed) throw new LanguageModelError('KVCache.select: the cache was disposed');
    const b = this.batchSize;
    const idx = Array.from(rows);
    if (idx.length === 0) throw new LanguageModelError('KVCache.select: no rows');
    for (const r of idx) if (!Number.isInteger(r) || r < 0 || r >= b) throw new LanguageModelError(`KVCache.select: row ${r} is outside 0…${b - 1}`);
    for (let i = 0; i < this.k.length; i++) {
      const k = this.k[i];
      const v = this.v[i];
      if (!k || !v) continue;
      const [nk, nv] = tf.tidy(() => {
        const ix = tf.tensor1d(idx, 'int32');
        return [tf.gather(k, ix, 0), tf.gather(v, ix, 0)] as tf.Tensor4D[];
      });
      this.set(i, nk!, nv!);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    for (const t of [...this.k, ...this.v]) t?.dispose();
    this.k.fill(null);
    this.v.fill(null);
    this.disposed = true;
  }
}

export interface LlamaModelOptions {
  /** `random` (HF's init: normal(0, 0.02) weights, zero biases, unit norms; the default) or `zeros` (weights to be loaded). */
  init?: 'random' | 'zeros';
}

/** A Llama-family causal LM (see the module comment). */
export class LlamaModel implements LanguageModel {
  readonly config: LlamaConfig;
  readonly params = new Map<string, tf.Variable>();
  private readonly specs: LlamaParamSpec[];
  private disposed = false;
  private isFrozen = false;

  constructor(config: LlamaConfigInput, options: LlamaModelOptions = {}) {
    this.config = Object.freeze(resolveLlamaConfig(config));
    this.specs = llamaParamSpecs(this.config);
    const id = modelCounter++;
    const init = options.init ?? 'random';
    if (init !== 'random' && init !== 'zeros') throw new LanguageModelError(`LlamaModel: init must be 'random' or 'zeros', got ${JSON.stringify(init)}`);
    const rng = new Rng(`llama/${this.config.seed}`);
    for (const spec of this.specs) {
      const shape = this.tfShape(spec);
      const n = shape.reduce((a, b) => a * b, 1);
      let values: Float32Array | null = null;
      if (init === 'random') {
        values = new Float32Array(n);
        if (spec.name.endsWith('norm.weight')) values.fill(1);
        else if (!spec.name.endsWith('.bias')) {
          for (let i = 0; i < n; i++) values[i] = rng.normal(0, 0.02);
          // Drawn in PyTorch order, stored transposed: one seed, one model in either layout.
          if (spec.linear) values = transpose2d(values, spec.torchShape[0]!, spec.torchShape[1]!);
        }
      }
      const t = values ? tf.tensor(values, shape, 'float32') : tf.zeros(shape, 'float32');
      this.params.set(spec.name, tf.variable(t, true, `llama/${id}/${spec.name}`));
      t.dispose();
    }
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get dim(): number {
    return this.config.hiddenSize;
  }

  get bosId(): number | null {
    return this.config.bosId;
  }

  get eosId(): number | null {
    return this.config.eosIds[0] ?? null;
  }

  get maxPositions(): number {
    return this.config.maxPositions;
  }

  get frozen(): boolean {
    return this.isFrozen;
  }

  private tfShape(spec: LlamaParamSpec): number[] {
    return spec.linear ? [spec.torchShape[1]!, spec.torchShape[0]!] : spec.torchShape;
  }

  private P(name: string): tf.Variable {
    if (this.disposed) throw new LanguageModelError('LlamaModel: used after dispose()');
    const v = this.params.get(name);
    if (!v) throw new Error(`LlamaModel: no parameter '${name}'`);
    return v;
  }

  /** Parameter names in checkpoint order. */
  names(): string[] {
    return this.specs.map((s) => s.name);
  }

  trainableVariables(): tf.Variable[] {
    if (this.disposed) throw new LanguageModelError('LlamaModel: used after dispose()');
    return this.isFrozen ? [] : this.specs.map((s) => this.P(s.name));
  }

  freeze(): void {
    for (const v of this.params.values()) v.trainable = false;
    this.isFrozen = true;
  }

  /** Undoes {@link freeze}. */
  unfreeze(): void {
    for (const v of this.params.values()) v.trainable = true;
    this.isFrozen = false;
  }

  /** A fresh, empty KV cache for this model. */
  createCache(): LlamaKVCache {
    return new LlamaKVCache(this, this.config.numLayers);
  }

  embed(ids: tf.Tensor2D): tf.Tensor3D {
    if (!(ids instanceof tf.Tensor) || ids.rank !== 2 || ids.dtype !== 'int32') throw new LanguageModelError(`LlamaModel.embed: ids must be an int32 tf.Tensor2D [B, T]${ids instanceof tf.Tensor ? `, got ${ids.dtype} [${ids.shape.join(', ')}]` : ''}`);
    const data = ids.dataSync();
    const V = this.config.vocabSize;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < 0 || v >= V) throw new LanguageModelError(`LlamaModel.embed: token id ${v} at [${Math.floor(i / ids.shape[1])}, ${i % ids.shape[1]}] is outside the vocabulary 0…${V - 1}`);
    }
    // @flux/core's row gather: its backward pass is a scatter kernel (tfjs-cpu's UnsortedSegmentSum is far slower).
    const [B, T] = ids.shape;
    return tf.tidy(() => {
      const table = tf.reshape(this.P('model.embed_tokens.weight'), [1, V, this.config.hiddenSize]) as tf.Tensor3D;
      return tf.reshape(gatherRows(table, tf.reshape(ids, [1, B * T]) as tf.Tensor2D), [B, T, this.config.hiddenSize]) as tf.Tensor3D;
    });
  }

  /** cos and sin [T, headDim] for positions start…start+T−1 (HF: inv_freq and angles in float32, halves repeated). */
  private rope(start: number, T: number): [tf.Tensor2D, tf.Tensor2D] {
    const d = this.config.headDim;
    const half = d / 2;
    const cos = new Float32Array(T * d);
    const sin = new Float32Array(T * d);
    for (let i = 0; i < half; i++) {
      const invFreq = Math.fround(1 / Math.fround(this.config.ropeTheta ** ((2 * i) / d)));
      for (let t = 0; t < T; t++) {
        const a = Math.fround((start + t) * invFreq);
        const c = Math.cos(a);
        const s = Math.sin(a);
        cos[t * d + i] = c;
        cos[t * d + i + half] = c;
        sin[t * d + i] = s;
        sin[t * d + i + half] = s;
      }
    }
    return [tf.tensor2d(cos, [T, d]), tf.tensor2d(sin, [T, d])];
  }

  forward(inputs: tf.Tensor3D, options: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    if (this.disposed) throw new LanguageModelError('LlamaModel: used after dispose()');
    if (!(inputs instanceof tf.Tensor) || inputs.rank !== 3 || inputs.dtype !== 'float32') throw new LanguageModelError(`LlamaModel.forward: inputs must be float32 embeddings [B, T, D]${inputs instanceof tf.Tensor ? `, got ${inputs.dtype} [${inputs.shape.join(', ')}]` : ''}`);
    const [B, T, D] = inputs.shape;
    if (D !== c.hiddenSize) throw new LanguageModelError(`LlamaModel.forward: inputs width ${D} is not hidden_size ${c.hiddenSize}`);
    if (B < 1 || T < 1) throw new LanguageModelError(`LlamaModel.forward: empty inputs [${inputs.shape.join(', ')}]`);
    let cache: LlamaKVCache | null = null;
    if (options.cache !== undefined) {
      if (!(options.cache instanceof LlamaKVCache) || options.cache.owner !== this) throw new LanguageModelError('LlamaModel.forward: the cache was not made by this model');
      if (options.cache.isDisposed) throw new LanguageModelError('LlamaModel.forward: the cache was disposed');
      cache = options.cache;
      if (cache.length > 0 && cache.batchSize !== B) throw new LanguageModelError(`LlamaModel.forward: the cache holds ${cache.batchSize} rows, the inputs ${B}`);
    } else if (options.useCache) cache = this.createCache();
    const past = cache?.length ?? 0;
    const start = options.startPos ?? past;
    if (!Number.isInteger(start) || start < 0) throw new LanguageModelError(`LlamaModel.forward: startPos must be an integer ≥ 0, got ${String(options.startPos)}`);
    if (cache && start !== past) throw new LanguageModelError(`LlamaModel.forward: startPos ${start} with a cache of ${past} positions (they must be equal)`);
    if (start + T > c.maxPositions) throw new LanguageModelError(`LlamaModel.forward: positions ${start}…${start + T - 1} go past max_position_embeddings ${c.maxPositions}`);

    const H = c.numHeads;
    const KV = c.numKvHeads;
    const G = H / KV;
    const hd = c.headDim;
    const S = past + T; // keys attended to
    const keyStart = cache ? 0 : start;
    const logits = tf.tidy(() => {
      const [cos, sin] = this.rope(start, T);
      const applyRope = (u: tf.Tensor4D): tf.Tensor4D => {
        const [b, h] = u.shape;
        const x1 = tf.slice(u, [0, 0, 0, 0], [b, h, T, hd / 2]);
        const x2 = tf.slice(u, [0, 0, 0, hd / 2], [b, h, T, hd / 2]);
        return tf.add(tf.mul(u, cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), sin)) as tf.Tensor4D;
      };
      // Causal mask [T, S]: query t (position start + t) sees key j (position keyStart + j) iff keyStart + j ≤ start + t.
      let mask: tf.Tensor2D | null = null;
      if (keyStart + S - 1 > start) {
        const m = new Float32Array(T * S);
        for (let t = 0; t < T; t++) for (let j = Math.max(0, start + t - keyStart + 1); j < S; j++) m[t * S + j] = MASKED;
        mask = tf.tensor2d(m, [T, S]);
      }
      const split = (u: tf.Tensor, heads: number) => tf.transpose(tf.reshape(u, [B, T, heads, hd]), [0, 2, 1, 3]) as tf.Tensor4D;
      const bias = (n: string) => (this.params.get(n) as tf.Tensor1D | undefined) ?? null;
      let x: tf.Tensor = inputs;
      for (let i = 0; i < c.numLayers; i++) {
        const p = `model.layers.${i}`;
        const y = tf.tidy(() => {
          const h = rmsNorm(x, this.P(`${p}.input_layernorm.weight`) as tf.Tensor1D, c.rmsNormEps);
          const q = applyRope(split(linear(h, this.P(`${p}.self_attn.q_proj.weight`) as tf.Tensor2D, bias(`${p}.self_attn.q_proj.bias`)), H));
          let k = applyRope(split(linear(h, this.P(`${p}.self_attn.k_proj.weight`) as tf.Tensor2D, bias(`${p}.self_attn.k_proj.bias`)), KV));
          let v = split(linear(h, this.P(`${p}.self_attn.v_proj.weight`) as tf.Tensor2D, bias(`${p}.self_attn.v_proj.bias`)), KV);
          if (cache) {
            const pk = cache.k[i];
            const pv = cache.v[i];
            if (pk && pv) {
              k = tf.concat([pk, k], 2) as tf.Tensor4D;
              v = tf.concat([pv, v], 2) as tf.Tensor4D;
            }
            cache.set(i, k, v);
          }
          // Grouped-query attention without repeating k/v: the G query heads of a kv head share its keys.
          const qg = tf.reshape(q, [B, KV, G * T, hd]);
          let scores: tf.Tensor = tf.matMul(qg, k, false, true);
          if (mask) scores = tf.reshape(tf.add(tf.reshape(scores, [B, KV, G, T, S]), mask), [B, KV, G * T, S]);
          const probs = scaledSoftmax(scores, hd ** -0.5);
          const ctx = tf.reshape(tf.transpose(tf.reshape(tf.matMul(probs, v), [B, H, T, hd]), [0, 2, 1, 3]), [B, T, H * hd]);
          return linear(ctx, this.P(`${p}.self_attn.o_proj.weight`) as tf.Tensor2D, bias(`${p}.self_attn.o_proj.bias`));
        });
        x = residual(x, y);
        const m = tf.tidy(() => {
          const h = rmsNorm(x, this.P(`${p}.post_attention_layernorm.weight`) as tf.Tensor1D, c.rmsNormEps);
          const g = linear(h, this.P(`${p}.mlp.gate_proj.weight`) as tf.Tensor2D);
          const u = linear(h, this.P(`${p}.mlp.up_proj.weight`) as tf.Tensor2D);
          return linear(tf.mul(tf.mul(g, tf.sigmoid(g)), u), this.P(`${p}.mlp.down_proj.weight`) as tf.Tensor2D);
        });
        x = residual(x, m);
      }
      const hN = rmsNorm(x, this.P('model.norm.weight') as tf.Tensor1D, c.rmsNormEps);
      if (c.tieWordEmbeddings) {
        const flat = tf.matMul(tf.reshape(hN, [B * T, D]) as tf.Tensor2D, this.P('model.embed_tokens.weight') as tf.Tensor2D, false, true);
        return tf.reshape(flat, [B, T, c.vocabSize]) as tf.Tensor3D;
      }
      return linear(hN, this.P('lm_head.weight') as tf.Tensor2D) as tf.Tensor3D;
    });
    return cache ? { logits, cache } : { logits };
  }

  logLikelihood(prefix: tf.Tensor3D | null, continuation: ArrayLike<number>[]): Float32Array {
    return scoreContinuations(this, prefix, continuation);
  }

  generate(prefix: tf.Tensor3D | null, options: GenerateOptions): Int32Array[] {
    return decode(this, prefix, { ...options, stopIds: options?.stopIds ?? this.config.eosIds }).ids;
  }

  /** PyTorch-layout float32 tensors under HF names. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const spec of this.specs) {
      const v = Float32Array.from(this.P(spec.name).dataSync() as Float32Array);
      out.set(spec.name, makeRecord('float32', spec.torchShape, spec.linear ? transpose2d(v, spec.torchShape[1]!, spec.torchShape[0]!) : v));
    }
    return out;
  }

  /**
   * Loads HF-layout tensors strictly: every parameter present with its shape and nothing else (RoPE `inv_freq`
   * buffers are ignored, and so is an `lm_head.weight` of a tied model when it equals the embedding). Otherwise
   * throws a {@link LlamaStateDictMismatchError} naming `file` and every problem, and assigns nothing.
   */
  loadStateDict(tensors: StateDict, file = 'state dict'): void {
    const missing: string[] = [];
    const mismatched: LlamaShapeMismatch[] = [];
    const known = new Set<string>();
    const same = (s: number[], t: readonly number[]) => s.length === t.length && s.every((d, i) => d === t[i]);
    for (const spec of this.specs) {
      known.add(spec.name);
      const r = tensors.get(spec.name);
      if (!r) missing.push(spec.name);
      else if (!same(spec.torchShape, r.shape)) mismatched.push({ name: spec.name, expected: spec.torchShape, got: [...r.shape] });
    }
    const unexpected: string[] = [];
    for (const k of tensors.keys()) {
      if (known.has(k) || isIgnoredLlamaKey(k)) continue;
      if (k === 'lm_head.weight' && this.config.tieWordEmbeddings) {
        const head = tensors.get(k)!;
        const emb = tensors.get('model.embed_tokens.weight');
        if (emb && same(head.shape, emb.shape)) {
          const a = recordToFloat32(head);
          const b = recordToFloat32(emb);
          if (a.every((x, i) => Object.is(x, b[i]))) continue;
        }
        unexpected.push('lm_head.weight (tie_word_embeddings is true and it differs from model.embed_tokens.weight)');
        continue;
      }
      unexpected.push(k);
    }
    if (missing.length || unexpected.length || mismatched.length) throw new LlamaStateDictMismatchError(file, missing, unexpected, mismatched);
    const values = this.specs.map((spec) => {
      const v = recordToFloat32(tensors.get(spec.name) as TensorRecord);
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
