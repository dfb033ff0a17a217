/**
 * FluxViT: patch embedding with Dual Patch Norm → token selection on the patch features → global PE
 * (3D sin-cos table, `gpe_proj`, resized to the input grid, gathered at the kept indices) → CLS →
 * transformer blocks → attention-pool projector + classifier chosen by token count.
 */
import { type PthOptions, Rng, type StateDict, channelAffine, gatherRows, readPth, readSafetensors, writeSafetensors } from '@flux/core';
import { type SelectorOptions, selectTokens } from '@flux/selector';
import * as tf from '@tensorflow/tfjs-core';

import { boundedHeap } from './attention.js';
import { block, checkpointedBlock } from './block.js';
import { type StateDictLike, convertFromTorch, convertToTorch } from './checkpoint.js';
import { type FluxViTConfig, type FluxViTName, MODEL_REGISTRY, type PretrainedCfg, resolveConfig, validateConfig } from './config.js';
import { attentionPool, classify, maxPool, projDecoder } from './heads.js';
import { type ParamSpec, initValues, paramSpecs } from './params.js';
import { embedPatches, patchify } from './patch-embed.js';
import { resizePosEmbed } from './pos-embed.js';

/** Options of {@link FluxViT.forward}. */
export interface ForwardOptions {
  /** Tokens to keep per clip (CLS excluded). Default: all F·L. */
  k?: number;
  /** Precomputed kept indices int32 [B, K] into F·L (sorted or not); overrides `k` and the selector. */
  indices?: tf.Tensor2D;
  /** Which projector/head pair to use. Default: the one whose token count is nearest to K. */
  head?: number;
  /** Training mode: enables drop-path (stochastic depth). */
  training?: boolean;
  /** Block indices (0-based; negative counts from the end) whose outputs [B, 1+K, C] to return. */
  returnLayers?: number[];
  /** Return the last block's CLS→patch attention (mean over heads) as [B, F, L]. */
  returnAttention?: boolean;
  /**
   * With selection: gather the kept tokens from the pool's patch embedding instead of embedding the kept patches
   * again. Saves one patch embedding of K tokens; for forward passes without a backward one (a frozen teacher,
   * evaluation), where embedding again on the gradient path buys nothing. Default false.
   */
  reuseEmbedding?: boolean;
  /** Generator for drop-path masks (default: the model's own stream). */
  rng?: Rng;
  /** Selector options (method, norm, groups, seed) used when `k` < F·L and no indices are given. */
  selector?: SelectorOptions;
  /**
   * Activation checkpointing for training: each block keeps only its input and is recomputed in the backward
   * pass (~1.3× the compute, a fraction of the memory). Default: on when B·(1+K)² · numHeads exceeds 2²⁴
   * attention scores per block on wasm and cpu (e.g. ViT-S at 2048 tokens), 2²⁵ on native and GPU backends
   * (ViT-S at 2048 tokens: off for one clip, ≈ 6 GB at the peak of its backward pass — tfjs keeps every
   * activation's gradient until the pass ends — and on from two clips); off otherwise. No effect without a
   * gradient tape.
   */
  checkpoint?: boolean;
}

/** Result of {@link FluxViT.forward}. The caller owns every tensor. */
export interface ForwardResult {
  /** Logits of the chosen head [B, numClasses]. */
  logits: tf.Tensor2D;
  /** Projector output before fc_norm/head [B, clipEmbedDim]. */
  pooled: tf.Tensor2D;
  /** Kept token indices int32 [B, K] into F·L. */
  indices: tf.Tensor2D;
  /** Index of the projector/head used. */
  head: number;
  /** Outputs of the requested blocks, [B, 1+K, C] each (CLS first), in request order. */
  layers?: tf.Tensor3D[];
  /**
   * CLS→patch attention of the last block, mean over heads, scattered to [B, F, L] (zeros at tokens
   * that were not kept). Detached use only (for the UMT mask).
   */
  clsAttention?: tf.Tensor3D;
}

/**
 * Whether a training forward of `batch` clips × `tokens` kept tokens checkpoints its blocks by default on the
 * active backend (see {@link ForwardOptions.checkpoint}): B·(1+K)²·heads attention scores per block above
 * 2²⁴ on wasm and cpu, above 2²⁵ elsewhere.
 */
export function checkpointByDefault(config: Pick<FluxViTConfig, 'numHeads'>, batch: number, tokens: number): boolean {
  return batch * (tokens + 1) * (tokens + 1) * config.numHeads > (boundedHeap() ? 2 ** 24 : 2 ** 25);
}

/** Index of the head whose token count is nearest to `k` (first on ties). */
export function nearestHead(counts: readonly number[], k: number): number {
  let best = 0;
  for (let j = 1; j < counts.length; j++) if (Math.abs(counts[j]! - k) < Math.abs(counts[best]! - k)) best = j;
  return best;
}

export class FluxViT {
  readonly config: FluxViTConfig;
  /** Parameters under their official names, tfjs layout (Linear [in, out]). */
  readonly params: Map<string, tf.Variable>;
  /** The registry's pretrained cfg (for a registered variant). */
  readonly pretrainedCfg?: PretrainedCfg;
  readonly specs: readonly ParamSpec[];
  private readonly frozen = new Set<string>();
  private readonly blockParamNames: string[][];
  private rng: Rng;
  private disposed = false;

  constructor(config: FluxViTConfig, seed: number | string = 0, pretrainedCfg?: PretrainedCfg) {
    validateConfig(config);
    this.config = { ...config, headTokenCounts: [...config.headTokenCounts] };
    this.pretrainedCfg = pretrainedCfg;
    this.specs = paramSpecs(this.config);
    const rng = new Rng(seed);
    this.rng = rng.fork('drop-path');
    this.blockParamNames = Array.from({ length: this.config.depth }, (_, i) => this.specs.filter((s) => s.name.startsWith(`blocks.${i}.`)).map((s) => s.name));
    this.params = new Map();
    for (const spec of this.specs) {
      const v = initValues(spec, this.config, rng.fork(spec.name));
      const init = tf.tensor(v, spec.shape, 'float32');
      this.params.set(spec.name, tf.variable(init, true, `fluxvit/${spec.name}/${nextId()}`));
      init.dispose(); // the variable holds its own reference to the data
    }
  }

  /** A parameter by official name. */
  param(name: string): tf.Variable {
    const p = this.params.get(name);
    if (!p) throw new Error(`FluxViT: no parameter '${name}'`);
    return p;
  }

  private readonly P = (name: string): tf.Tensor => this.param(name);

  /** Number of parameters. */
  numParams(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /**
   * Forward pass on normalised video [B, F, H, W, 3] (H, W multiples of the patch size; any F ≥ 1, any B).
   */
  forward(video: tf.Tensor, opts: ForwardOptions & { returnAttention: true }): ForwardResult & { clsAttention: tf.Tensor3D };
  forward(video: tf.Tensor, opts?: ForwardOptions): ForwardResult;
  // `video` is any tf.Tensor (what tf.randomNormal / tf.reshape give a TypeScript user); the rank is checked here.
  forward(videoIn: tf.Tensor, opts: ForwardOptions = {}): ForwardResult {
    this.checkAlive();
    const c = this.config;
    if (videoIn.rank !== 5 || videoIn.shape[4] !== 3) throw new Error(`FluxViT.forward: video must be [B,F,H,W,3], got [${videoIn.shape.join(',')}]`);
    const video = videoIn as tf.Tensor5D;
    const [b, f, h, w] = video.shape;
    const p = c.patchSize;
    if (h % p !== 0 || w % p !== 0) throw new Error(`FluxViT.forward: patch size ${p} does not divide ${h}×${w}`);
    const hp = h / p;
    const wp = w / p;
    const l = hp * wp;
    const n = f * l;
    const returnLayers = (opts.returnLayers ?? []).map((i) => {
      const j = i < 0 ? c.depth + i : i;
      if (!Number.isInteger(j) || j < 0 || j >= c.depth) throw new RangeError(`returnLayers: block ${i} out of range for depth ${c.depth}`);
      return j;
    });

    let lastAttn: tf.Tensor2D | undefined; // kept by the block's tidy; released below
    const result = tf.tidy(() => {
      // Patch embedding. With selection, the whole pool is embedded only to score it (no gradient path: the
      // selector returns fresh indices), and the kept patches are embedded again on the gradient path, so the
      // backward pass costs K tokens, not F·L. With precomputed indices only the kept patches are embedded.
      const patches = patchify(video, p); // [B, F, L, p·p·3]
      const tokens4 = opts.indices === undefined ? embedPatches(patches, this.P, c.normEps) : null; // [B, F, L, C]
      const indices = this.resolveIndices(tokens4, b, n, opts);
      const k = indices.shape[1];
      const all = k === n && opts.indices === undefined;
      let x: tf.Tensor3D = all
        ? (tf.reshape(tokens4!, [b, n, c.embedDim]) as tf.Tensor3D)
        : opts.reuseEmbedding && tokens4
          ? gatherRows(tf.reshape(tokens4, [b, n, c.embedDim]) as tf.Tensor3D, indices)
          : embedPatches(gatherRows(tf.reshape(patches, [b, n, patches.shape[3]]) as tf.Tensor3D, indices), this.P, c.normEps);

      // Global PE: resize the patch rows of pos_embed to the input grid, depthwise projection, gather.
      const pe = this.P('pos_embed');
      const n0 = c.maxFrames * c.maxGrid * c.maxGrid;
      const clsPos = tf.slice(pe, [0, 0, 0], [1, 1, c.embedDim]);
      const patchPos = tf.reshape(tf.slice(pe, [0, 1, 0], [1, n0, c.embedDim]), [n0, c.embedDim]) as tf.Tensor2D;
      const resized = resizePosEmbed(patchPos, { t: c.maxFrames, h: c.maxGrid, w: c.maxGrid }, { t: f, h: hp, w: wp });
      const gpe = channelAffine(resized, this.P('gpe_proj.depthwise_conv.weight') as tf.Tensor1D, this.P('gpe_proj.depthwise_conv.bias') as tf.Tensor1D);
      const pos = all ? tf.reshape(gpe, [1, n, c.embedDim]) : tf.gather(gpe, indices); // [B, K, C]
      x = tf.add(x, pos);
      const cls = tf.broadcastTo(tf.add(this.P('cls_token'), clsPos), [b, 1, c.embedDim]);
      x = tf.concat([cls, x], 1) as tf.Tensor3D;

      const layers: tf.Tensor3D[] = [];
      const layerOut = new Map<number, tf.Tensor3D>();
      let clsAttn: tf.Tensor2D | undefined;
      const training = opts.training === true;
      const checkpoint = opts.checkpoint ?? checkpointByDefault(c, b, k);
      const rng = opts.rng ?? this.rng;
      for (let i = 0; i < c.depth; i++) {
        const rate = c.depth > 1 ? (c.dropPathRate * i) / (c.depth - 1) : c.dropPathRate;
        const dropPath = training && rate > 0 ? ([dropMask(rng, b, rate), dropMask(rng, b, rate)] as [tf.Tensor, tf.Tensor]) : null;
        const last = i === c.depth - 1;
        const bo = {
          numHeads: c.numHeads,
          eps: c.normEps,
          layerScale: c.layerScaleInit > 0,
          mlpActivation: c.mlpActivation ?? 'gelu',
          dropPath,
          returnClsAttention: last && opts.returnAttention === true,
        };
        const r = checkpoint && !bo.returnClsAttention ? { out: checkpointedBlock(x, this.P, i, bo, this.blockParamNames[i]!) } : block(x, this.P, i, bo);
        x = r.out;
        if (r.clsAttention) clsAttn = lastAttn = r.clsAttention;
        if (returnLayers.includes(i)) layerOut.set(i, x);
      }
      for (const i of returnLayers) layers.push(layerOut.get(i)!);

      const head = opts.head ?? nearestHead(c.headTokenCounts, k);
      if (!Number.isInteger(head) || head < 0 || head >= c.headTokenCounts.length) throw new RangeError(`head ${head} out of range (${c.headTokenCounts.length} heads)`);
      const pooled = c.clipPool === 'max' ? maxPool(x, this.P, head) : attentionPool(x, this.P, head, c.clipNumHeads);
      const logits = classify(pooled, this.P, head);

      let clsAttention: tf.Tensor3D | undefined;
      if (clsAttn) {
        const patchAttn = tf.slice(clsAttn, [0, 1], [b, k]);
        clsAttention = tf.reshape(all ? patchAttn : scatterRows(patchAttn, indices, n), [b, f, l]) as tf.Tensor3D;
      }
      return { logits, pooled, indices, head, layers: opts.returnLayers ? layers : undefined, clsAttention };
    });
    lastAttn?.dispose();
    return result as ForwardResult;
  }

  /** The `final_clip_decoder_for_projs.{j}` decoder on a pooled feature (Flux-FT self-distillation). */
  decodeProjection(pooled: tf.Tensor2D, j: number): tf.Tensor2D {
    return projDecoder(pooled, this.P, j);
  }

  private resolveIndices(tokens4: tf.Tensor4D | null, b: number, n: number, opts: ForwardOptions): tf.Tensor2D {
    if (opts.indices) {
      const idx = opts.indices;
      if (idx.rank !== 2 || idx.shape[0] !== b) throw new Error(`FluxViT.forward: indices must be [${b}, K], got [${idx.shape.join(',')}]`);
      const v = idx.dataSync();
      for (let i = 0; i < v.length; i++) {
        if (!Number.isInteger(v[i]) || v[i]! < 0 || v[i]! >= n) throw new RangeError(`FluxViT.forward: index ${v[i]} out of range [0, ${n})`);
      }
      return tf.tensor2d(Int32Array.from(v), idx.shape, 'int32');
    }
    const k = opts.k ?? n;
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`FluxViT.forward: k must be a positive integer, got ${k}`);
    if (k >= n) return tf.tidy(() => tf.tile(tf.reshape(tf.range(0, n, 1, 'int32'), [1, n]), [b, 1]) as tf.Tensor2D);
    // The selector reads its scores back to the CPU and returns a fresh tensor: no gradient flows through it.
    return selectTokens(tokens4!, k, opts.selector ?? {});
  }

  /** Trainable variables (optionally filtered by name), excluding frozen ones. */
  trainableVariables(filter?: (name: string) => boolean): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const [name, v] of this.params) if (!this.frozen.has(name) && (!filter || filter(name))) out.push(v);
    return out;
  }

  /** Names of trainable variables (same order as {@link trainableVariables}). */
  trainableNames(filter?: (name: string) => boolean): string[] {
    return [...this.params.keys()].filter((name) => !this.frozen.has(name) && (!filter || filter(name)));
  }

  /** Freezes every parameter whose name starts with one of `prefixes` (all when empty). */
  freeze(prefixes: string[] = []): void {
    for (const name of this.params.keys()) if (prefixes.length === 0 || prefixes.some((p) => name.startsWith(p))) this.frozen.add(name);
  }

  /** Unfreezes parameters whose name starts with one of `prefixes` (all when empty). */
  unfreeze(prefixes: string[] = []): void {
    for (const name of [...this.frozen]) if (prefixes.length === 0 || prefixes.some((p) => name.startsWith(p))) this.frozen.delete(name);
  }

  /** Whether a parameter is frozen. */
  isFrozen(name: string): boolean {
    return this.frozen.has(name);
  }

  /**
   * Loads PyTorch-named, PyTorch-layout tensors strictly (throws a StateDictMismatchError listing every
   * missing, unexpected and mis-shaped name; nothing is assigned then). Prefixes `module.`, `backbone.`,
   * `encoder.` are stripped.
   */
  loadStateDict(sd: StateDictLike, options: { strict?: true } = {}): void {
    this.checkAlive();
    void options; // loading is always strict
    const values = convertFromTorch(sd, this.specs);
    for (const spec of this.specs) {
      const v = this.param(spec.name);
      tf.tidy(() => v.assign(tf.tensor(values.get(spec.name)!, spec.shape, 'float32')));
    }
  }

  /** The parameters under official names in PyTorch layout (float32 records). */
  stateDict(): StateDict {
    this.checkAlive();
    const values = new Map<string, Float32Array>();
    for (const spec of this.specs) values.set(spec.name, this.param(spec.name).dataSync() as Float32Array);
    return convertToTorch(values, this.specs);
  }

  /** Loads an official `.pth` (model/module nesting resolved) or a `.safetensors` file, strictly. */
  async load(path: string, pthOptions: PthOptions = {}): Promise<void> {
    if (/\.safetensors$/i.test(path)) {
      this.loadStateDict((await readSafetensors(path)).tensors);
    } else {
      this.loadStateDict((await readPth(path, pthOptions)).tensors);
    }
  }

  /** Saves the parameters to `.safetensors` with official names and PyTorch layouts (atomic write). */
  async save(path: string, metadata: Record<string, string> = {}): Promise<void> {
    await writeSafetensors(path, this.stateDict(), { format: 'pt', ...metadata });
  }

  /** Releases every parameter. */
  dispose(): void {
    if (this.disposed) return;
    for (const v of this.params.values()) v.dispose();
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('FluxViT: model was disposed');
  }
}

let idCounter = 0;
function nextId(): number {
  return idCounter++;
}

/** Per-sample drop-path keep mask [B,1,1], scaled by 1/keep (timm's DropPath with scale_by_keep). */
function dropMask(rng: Rng, b: number, rate: number): tf.Tensor {
  const keep = 1 - rate;
  const m = new Float32Array(b);
  for (let i = 0; i < b; i++) m[i] = rng.next() < keep ? 1 / keep : 0;
  return tf.tensor3d(m, [b, 1, 1]);
}

/** Scatters values [B, K] at column indices [B, K] into zeros [B, N] (no gradient needed). */
function scatterRows(values: tf.Tensor2D, indices: tf.Tensor2D, n: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, k] = values.shape;
    const rows = tf.tile(tf.reshape(tf.range(0, b, 1, 'int32'), [b, 1]), [1, k]);
    const coords = tf.reshape(tf.stack([rows, tf.cast(indices, 'int32')], 2), [b * k, 2]);
    return tf.scatterND(coords, tf.reshape(values, [b * k]), [b, n]) as tf.Tensor2D;
  });
}

/**
 * Builds a registered variant: `createModel('fluxvit_small_patch14')`, with optional config overrides and
 * an init seed. The model carries the variant's pretrained cfg (input size, mean/std, head token counts).
 */
export function createModel(name: FluxViTName, overrides: Partial<FluxViTConfig> = {}, seed: number | string = 0): FluxViT {
  const config = resolveConfig(name, overrides);
  const pretrained = { ...MODEL_REGISTRY[name].pretrained, headTokenCounts: [...config.headTokenCounts] };
  return new FluxViT(config, seed, pretrained);
}
