/**
 * Loading the text tower of an OpenCLIP checkpoint (safetensors, OpenCLIP's `CLIP` layout): the text keys
 * are kept (`token_embedding.weight`, `positional_embedding`, `transformer.resblocks.*`, `ln_final.*`,
 * `text_projection`), the image tower (`visual.*`) and the CLIP scalars (`logit_scale`, `logit_bias`,
 * `attn_mask`) are ignored, `module.` prefixes stripped (and a `CustomTextCLIP`'s `text.` prefix). The config
 * comes from the shapes; the head count, which shapes cannot tell, from the options, else the file's
 * `heads` metadata, else width / 64 (OpenCLIP's `head_width` default). The activation comes from the options,
 * else the `activation` metadata, else `gelu` (OpenCLIP's default; OpenAI's weights need `quick_gelu`).
 */
import { parseSafetensors, readSafetensors, readSafetensorsSync, type SafetensorsFile, type StateDict } from '@flux/core';

import { TextEncoderError, TextStateDictMismatchError, type ShapeMismatch } from './errors.js';
import { ClipTextTransformer, stripWrapperPrefixes, type ClipTextConfig, type TextActivation } from './text-encoder.js';

export interface OpenClipTextOptions {
  /** Attention heads (default: the file's `heads` metadata, else width / 64). */
  heads?: number;
  /** MLP activation (default: the file's `activation` metadata, else `gelu`). */
  activation?: TextActivation;
  /** Name used in errors for in-memory bytes (default `<bytes>`). */
  name?: string;
}

/** Keys of a full CLIP checkpoint that are not part of the text tower (after prefix stripping). */
export function isIgnoredClipKey(key: string): boolean {
  return key.startsWith('visual.') || key === 'logit_scale' || key === 'logit_bias' || key === 'attn_mask';
}

/** The text-tower tensors of a CLIP state dict (prefixes stripped, image tower and CLIP scalars dropped). */
export function openClipTextTensors(sd: StateDict): StateDict {
  const stripped: StateDict = new Map();
  for (const [k, r] of sd) stripped.set(stripWrapperPrefixes(k), r);
  const customText = !stripped.has('token_embedding.weight') && stripped.has('text.token_embedding.weight');
  const out: StateDict = new Map();
  for (const [k, r] of stripped) {
    const key = customText && k.startsWith('text.') ? k.slice('text.'.length) : k;
    if (!isIgnoredClipKey(key)) out.set(key, r);
  }
  return out;
}

function positiveInt(v: unknown, what: string, file: string): number {
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new TextEncoderError(`${file}: ${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * The text config of OpenCLIP text-tower tensors, from their shapes. Throws a {@link TextStateDictMismatchError}
 * when a tensor the config is read from is missing or has the wrong rank, and a {@link TextEncoderError} when
 * the head count cannot be inferred.
 */
export function inferOpenClipTextConfig(text: StateDict, opts: Omit<OpenClipTextOptions, 'name'> = {}, metadata: Record<string, string> = {}, file = '<bytes>'): ClipTextConfig {
  const missing: string[] = [];
  const mismatched: ShapeMismatch[] = [];
  const dims = (name: string, rank: number): number[] | null => {
    const r = text.get(name);
    if (!r) {
      missing.push(name);
      return null;
    }
    if (r.shape.length !== rank) {
      mismatched.push({ name, expected: Array.from({ length: rank }, () => -1), got: [...r.shape] });
      return null;
    }
    return r.shape;
  };
  const tok = dims('token_embedding.weight', 2);
  const pos = dims('positional_embedding', 2);
  const proj = dims('text_projection', 2);
  const fc = dims('transformer.resblocks.0.mlp.c_fc.weight', 2);
  if (missing.length || mismatched.length) throw new TextStateDictMismatchError(file, missing, [], mismatched);
  let layers = 0;
  for (const k of text.keys()) {
    const m = /^transformer\.resblocks\.(\d+)\./.exec(k);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  const width = tok![1]!;
  let heads: number;
  if (opts.heads !== undefined) heads = positiveInt(opts.heads, 'heads', file);
  else if (metadata.heads !== undefined) heads = positiveInt(metadata.heads, "the 'heads' metadata", file);
  else if (width % 64 === 0) heads = width / 64;
  else throw new TextEncoderError(`${file}: cannot infer the head count: width ${width} is not a multiple of 64 and the file has no 'heads' metadata; pass { heads }`);
  if (width % heads !== 0) throw new TextEncoderError(`${file}: width ${width} is not divisible by heads ${heads}`);
  const activation = opts.activation ?? (metadata.activation as TextActivation | undefined) ?? 'gelu';
  if (activation !== 'gelu' && activation !== 'quick_gelu') throw new TextEncoderError(`${file}: activation must be 'gelu' or 'quick_gelu', got ${JSON.stringify(activation)}`);
  return {
    vocabSize: tok![0]!,
    contextLength: pos![0]!,
    width,
    layers,
    heads,
    embedDim: proj![1]!,
    mlpWidth: fc![0]!,
    activation,
    eps: 1e-5,
    seed: 0,
  };
}

/** A text tower from a parsed CLIP checkpoint (strict: see {@link ClipTextTransformer.loadStateDict}). */
export function openClipTextFromFile(f: SafetensorsFile, opts: OpenClipTextOptions = {}, file = opts.name ?? '<bytes>'): ClipTextTransformer {
  const text = openClipTextTensors(f.tensors);
  const cfg = inferOpenClipTextConfig(text, opts, f.metadata, file);
  const model = new ClipTextTransformer(cfg);
  try {
    model.loadStateDict(text, file);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Reads the text tower of an OpenCLIP-layout safetensors checkpoint (a path, or the file's bytes) into a
 * {@link ClipTextTransformer}. Missing, unexpected or mis-shaped keys throw a {@link TextStateDictMismatchError}
 * naming the file and every problem; nothing is assigned.
 */
export async function loadOpenClipText(source: string | Uint8Array, opts: OpenClipTextOptions = {}): Promise<ClipTextTransformer> {
  if (typeof source === 'string') return openClipTextFromFile(await readSafetensors(source), opts, source);
  return loadOpenClipTextSync(source, opts);
}

/** Synchronous {@link loadOpenClipText}. */
export function loadOpenClipTextSync(source: string | Uint8Array, opts: OpenClipTextOptions = {}): ClipTextTransformer {
  if (typeof source === 'string') return openClipTextFromFile(readSafetensorsSync(source), opts, source);
  if (!(source instanceof Uint8Array)) throw new TextEncoderError(`loadOpenClipText: expected a path or the file's bytes, got ${typeof source}`);
  const name = opts.name ?? '<bytes>';
  return openClipTextFromFile(parseSafetensors(source, { name }), opts, name);
}
