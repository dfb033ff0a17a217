/**
 * Checkpoint interop with the official PyTorch release: key normalisation (`module.` / `backbone.` /
 * `encoder.` prefixes; `.pth` `model` / `module` nesting is resolved by @flux/core's reader), strict
 * matching that reports every problem in one error, and layout conversion (Linear [out,in] ↔ [in,out],
 * Conv3d patch weights ↔ matmul weights, depthwise Conv3d ↔ per-channel vectors).
 */
import { type StateDict, type TensorRecord, makeRecord, recordToFloat32, shapeSize } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';

import { type ParamSpec, tfToTorch, torchToTf } from './params.js';

/** Prefixes a training wrapper adds to every key; stripped (repeatedly) on load. */
export const STRIP_PREFIXES: readonly string[] = ['module.', 'backbone.', 'encoder.'];

/** Thrown by a strict load: lists every missing, unexpected and mis-shaped tensor. */
export class StateDictMismatchError extends Error {
  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: { name: string; expected: number[]; got: number[] }[],
  ) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`unexpected (${unexpected.length}): ${unexpected.join(', ')}`);
    if (mismatched.length)
      parts.push(
        `shape mismatch (${mismatched.length}): ${mismatched.map((m) => `${m.name} expected [${m.expected.join(',')}] got [${m.got.join(',')}]`).join(', ')}`,
      );
    super(`FluxViT state_dict does not match the model — ${parts.join('; ')}`);
    this.name = 'StateDictMismatchError';
  }
}

/** Strips wrapper prefixes from a key (`module.backbone.blocks.0…` → `blocks.0…`). */
export function normalizeKey(key: string): string {
  let k = key;
  for (;;) {
    const p = STRIP_PREFIXES.find((s) => k.startsWith(s));
    if (!p) return k;
    k = k.slice(p.length);
  }
}

/** Anything that holds named tensors: a core StateDict (PyTorch layout) or tfjs tensors (PyTorch layout). */
export type StateDictLike = StateDict | Map<string, tf.Tensor>;

function isTfTensor(v: unknown): v is tf.Tensor {
  return v instanceof tf.Tensor;
}

interface Entry {
  shape: number[];
  values: () => Float32Array;
}

function entries(sd: StateDictLike): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const [rawKey, v] of sd as Map<string, TensorRecord | tf.Tensor>) {
    const key = normalizeKey(rawKey);
    if (isTfTensor(v)) out.set(key, { shape: v.shape.slice(), values: () => Float32Array.from(v.dataSync() as ArrayLike<number>) });
    else out.set(key, { shape: v.shape.slice(), values: () => recordToFloat32(v) });
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Converts a PyTorch-layout state dict into tfjs-layout Float32Arrays for `specs`, strictly: throws a
 * {@link StateDictMismatchError} naming every missing, unexpected and mis-shaped tensor.
 */
export function convertFromTorch(sd: StateDictLike, specs: readonly ParamSpec[]): Map<string, Float32Array> {
  const src = entries(sd);
  const missing: string[] = [];
  const mismatched: { name: string; expected: number[]; got: number[] }[] = [];
  const known = new Set<string>();
  for (const spec of specs) {
    known.add(spec.name);
    const e = src.get(spec.name);
    if (!e) missing.push(spec.name);
    // A depthwise weight may also come squeezed to [C]; a patch weight as [C, 3, p, p] (Conv2d export).
    else if (!sameShape(e.shape, spec.torchShape) && !(shapeSize(e.shape) === shapeSize(spec.torchShape) && (spec.kind === 'dwconv' || (spec.kind === 'patch' && e.shape.length === 4 && e.shape[0] === spec.torchShape[0] && e.shape[1] === spec.torchShape[1]))))
      mismatched.push({ name: spec.name, expected: spec.torchShape, got: e.shape });
  }
  const unexpected = [...src.keys()].filter((k) => !known.has(k));
  if (missing.length || unexpected.length || mismatched.length) throw new StateDictMismatchError(missing, unexpected, mismatched);
  const out = new Map<string, Float32Array>();
  for (const spec of specs) out.set(spec.name, torchToTf(spec, src.get(spec.name)!.values()));
  return out;
}

/** PyTorch-layout float32 records for tfjs-layout values. */
export function convertToTorch(values: Map<string, Float32Array>, specs: readonly ParamSpec[]): StateDict {
  const out: StateDict = new Map();
  for (const spec of specs) {
    const v = values.get(spec.name);
    if (!v) throw new Error(`convertToTorch: no value for ${spec.name}`);
    out.set(spec.name, makeRecord('float32', spec.torchShape, tfToTorch(spec, v)));
  }
  return out;
}
