/**
 * The parameter table: every tensor of a FluxViT under its official PyTorch name, its tfjs shape, its
 * PyTorch shape, and how one layout maps to the other. Initialisation follows the release
 * (trunc-normal 0.02 linears, zero biases, unit norms, 3D sin-cos pos-embed, identity depthwise PEs,
 * LayerScale gamma, fix_init_weight rescaling of attn.proj / mlp.fc2).
 */
import { Rng } from '@flux/core';

import { type FluxViTConfig, mlpHidden, numProjDecoders } from './config.js';
import { sincos3d } from './pos-embed.js';

/**
 * How a tensor is stored in PyTorch vs here:
 * - `plain`: same shape and order;
 * - `linear`: PyTorch [out, in], tfjs [in, out] (transpose);
 * - `patch`: Conv3d weight [C, 3, 1, p, p] ↔ matmul weight [(p p 3), C] (rows in (kh kw c) order);
 * - `dwconv`: depthwise Conv3d weight [C, 1, 1, 1, 1] ↔ [C].
 */
export type ParamKind = 'plain' | 'linear' | 'patch' | 'dwconv';

export interface ParamSpec {
  name: string;
  /** Shape of the tfjs variable. */
  shape: number[];
  /** Shape of the PyTorch tensor. */
  torchShape: number[];
  kind: ParamKind;
  /** Init recipe. */
  init: { type: 'zeros' | 'ones' | 'const' | 'trunc_normal' | 'pos_embed'; value?: number; std?: number; scale?: number };
}

function linearSpecs(prefix: string, inDim: number, outDim: number, bias: boolean, std = 0.02, scale = 1): ParamSpec[] {
  const out: ParamSpec[] = [
    { name: `${prefix}.weight`, shape: [inDim, outDim], torchShape: [outDim, inDim], kind: 'linear', init: { type: 'trunc_normal', std, scale } },
  ];
  if (bias) out.push({ name: `${prefix}.bias`, shape: [outDim], torchShape: [outDim], kind: 'plain', init: { type: 'zeros' } });
  return out;
}

function vec(name: string, n: number, init: ParamSpec['init']): ParamSpec {
  return { name, shape: [n], torchShape: [n], kind: 'plain', init };
}

function dwconv(prefix: string, c: number): ParamSpec[] {
  return [
    { name: `${prefix}.depthwise_conv.weight`, shape: [c], torchShape: [c, 1, 1, 1, 1], kind: 'dwconv', init: { type: 'ones' } },
    vec(`${prefix}.depthwise_conv.bias`, c, { type: 'zeros' }),
  ];
}

function layerNormSpecs(prefix: string, c: number): ParamSpec[] {
  return [vec(`${prefix}.weight`, c, { type: 'ones' }), vec(`${prefix}.bias`, c, { type: 'zeros' })];
}

/** Every parameter of a model with config `c`, in the release's state_dict order. */
export function paramSpecs(c: FluxViTConfig): ParamSpec[] {
  const C = c.embedDim;
  const p = c.patchSize;
  const pp3 = p * p * 3;
  const specs: ParamSpec[] = [];
  specs.push(...dwconv('gpe_proj', C));
  specs.push({ name: 'patch_embed.proj.weight', shape: [pp3, C], torchShape: [C, 3, 1, p, p], kind: 'patch', init: { type: 'trunc_normal', std: 0.02 } });
  specs.push(vec('patch_embed.proj.bias', C, { type: 'zeros' }));
  specs.push(vec('patch_embed.norm.weight', C, { type: 'ones' }));
  specs.push(vec('patch_embed.norm_before.weight', pp3, { type: 'ones' }));
  specs.push({ name: 'cls_token', shape: [1, 1, C], torchShape: [1, 1, C], kind: 'plain', init: { type: 'trunc_normal', std: 0.02 } });
  const n = 1 + c.maxFrames * c.maxGrid * c.maxGrid;
  specs.push({ name: 'pos_embed', shape: [1, n, C], torchShape: [1, n, C], kind: 'plain', init: { type: 'pos_embed', scale: c.posEmbedInitScale ?? 1 } });
  const hidden = mlpHidden(c);
  for (let i = 0; i < c.depth; i++) {
    const b = `blocks.${i}`;
    const rescale = 1 / Math.sqrt(2 * (i + 1));
    specs.push(vec(`${b}.norm1.weight`, C, { type: 'ones' }));
    specs.push(...linearSpecs(`${b}.attn.qkv`, C, 3 * C, false));
    specs.push(...linearSpecs(`${b}.attn.proj`, C, C, true, 0.02, rescale));
    specs.push(...dwconv(`${b}.attn.lpe`, C));
    specs.push(vec(`${b}.attn.q_norm.weight`, C, { type: 'ones' }));
    specs.push(vec(`${b}.attn.k_norm.weight`, C, { type: 'ones' }));
    if (c.layerScaleInit > 0) specs.push(vec(`${b}.ls1.gamma`, C, { type: 'const', value: c.layerScaleInit }));
    specs.push(vec(`${b}.norm2.weight`, C, { type: 'ones' }));
    specs.push(...linearSpecs(`${b}.mlp.fc1`, C, hidden, true));
    specs.push(...linearSpecs(`${b}.mlp.fc2`, hidden, C, true, 0.02, rescale));
    if (c.layerScaleInit > 0) specs.push(vec(`${b}.ls2.gamma`, C, { type: 'const', value: c.layerScaleInit }));
  }
  const D = c.clipEmbedDim;
  c.headTokenCounts.forEach((_, j) => {
    const h = `clip_projector.${j}`;
    const attn = (c.clipPool ?? 'attention') === 'attention'; // the max pool has no query/key
    if (attn) specs.push(...layerNormSpecs(`${h}.norm1_q`, C));
    if (attn) specs.push(...layerNormSpecs(`${h}.norm1_k`, C));
    specs.push(...layerNormSpecs(`${h}.norm1_v`, C));
    if (attn) specs.push(vec(`${h}.cross_attn.q_bias`, C, { type: 'zeros' }));
    if (attn) specs.push(vec(`${h}.cross_attn.k_bias`, C, { type: 'zeros' }));
    specs.push(vec(`${h}.cross_attn.v_bias`, C, { type: 'zeros' }));
    if (attn) specs.push(...linearSpecs(`${h}.cross_attn.q`, C, C, false));
    if (attn) specs.push(...linearSpecs(`${h}.cross_attn.k`, C, C, false));
    specs.push(...linearSpecs(`${h}.cross_attn.v`, C, C, false));
    specs.push(...linearSpecs(`${h}.cross_attn.proj`, C, D, true));
  });
  c.headTokenCounts.forEach((_, j) => specs.push(...linearSpecs(`head.${j}`, D, c.numClasses, true)));
  specs.push(...layerNormSpecs('fc_norm', D));
  for (let j = 0; j < numProjDecoders(c); j++) {
    const d = `final_clip_decoder_for_projs.${j}`;
    // Linear_Decoder uses xavier_uniform; a truncated normal of the same variance is close enough for init.
    specs.push(...linearSpecs(`${d}.head`, D, D, true, Math.sqrt(1 / D)));
    specs.push(...layerNormSpecs(`${d}.norm`, D));
  }
  return specs;
}

/** A truncated normal (±2 std, as timm's trunc_normal_ with a=-2std, b=2std). */
function truncNormal(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = rng.normal(0, 1);
    while (v < -2 || v > 2);
    out[i] = v * std;
  }
  return out;
}

/** Initial values of one parameter (row-major, tfjs layout). */
export function initValues(spec: ParamSpec, c: FluxViTConfig, rng: Rng): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const init = spec.init;
  switch (init.type) {
    case 'zeros':
      return new Float32Array(size);
    case 'ones':
      return new Float32Array(size).fill(1);
    case 'const':
      return new Float32Array(size).fill(init.value ?? 0);
    case 'trunc_normal': {
      const v = truncNormal(rng, size, init.std ?? 0.02);
      if (init.scale !== undefined && init.scale !== 1) for (let i = 0; i < v.length; i++) v[i] *= init.scale;
      return v;
    }
    case 'pos_embed': {
      const v = sincos3d(c.embedDim, c.maxGrid, c.maxFrames, true);
      const s = init.scale ?? 1;
      if (s !== 1) for (let i = 0; i < v.length; i++) v[i] *= s;
      return v;
    }
  }
}

/** Row-major transpose of a 2-D array [rows, cols] → [cols, rows]. */
export function transpose2d(data: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let k = 0; k < cols; k++) out[k * rows + r] = data[base + k]!;
  }
  return out;
}

/** PyTorch-layout values → tfjs-layout values for a parameter. */
export function torchToTf(spec: ParamSpec, data: Float32Array): Float32Array {
  switch (spec.kind) {
    case 'plain':
    case 'dwconv':
      return data;
    case 'linear': {
      const [out, inn] = spec.torchShape as [number, number];
      return transpose2d(data, out, inn);
    }
    case 'patch': {
      // [C, 3, 1, p, p] (o, c, t, kh, kw) → [(kh kw c), C]
      const [C, ch, , p] = spec.torchShape as [number, number, number, number, number];
      const out = new Float32Array(data.length);
      for (let o = 0; o < C; o++)
        for (let c = 0; c < ch; c++)
          for (let kh = 0; kh < p; kh++)
            for (let kw = 0; kw < p; kw++) out[((kh * p + kw) * ch + c) * C + o] = data[((o * ch + c) * p + kh) * p + kw]!;
      return out;
    }
  }
}

/** tfjs-layout values → PyTorch-layout values for a parameter. */
export function tfToTorch(spec: ParamSpec, data: Float32Array): Float32Array {
  switch (spec.kind) {
    case 'plain':
    case 'dwconv':
      return data;
    case 'linear': {
      const [inn, out] = spec.shape as [number, number];
      return transpose2d(data, inn, out);
    }
    case 'patch': {
      const [C, ch, , p] = spec.torchShape as [number, number, number, number, number];
      const out = new Float32Array(data.length);
      for (let o = 0; o < C; o++)
        for (let c = 0; c < ch; c++)
          for (let kh = 0; kh < p; kh++)
            for (let kw = 0; kw < p; kw++) out[((o * ch + c) * p + kh) * p + kw] = data[((kh * p + kw) * ch + c) * C + o]!;
      return out;
    }
  }
}
