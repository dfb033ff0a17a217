/**
 * The model contract the trainer and evaluator rely on (satisfied by @flux/vit's FluxViT), and helpers that
 * normalise its parameter and state-dict shapes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { makeRecord, type TensorRecord } from '@flux/core';
import type { Rng } from '@flux/core';

export interface ForwardOptions {
  /** Tokens kept by the selector (all when omitted or ≥ the grid's tokens). */
  k?: number;
  /** Which projector + head (index into headTokenCounts). */
  head?: number;
  training?: boolean;
  rng?: Rng;
}

export interface ForwardOutput {
  logits: tf.Tensor;
  pooled: tf.Tensor;
  indices?: unknown;
}

export interface TunableModel {
  readonly config: { headTokenCounts: number[]; patchSize: number; numClasses: number; [k: string]: unknown };
  forward(video: tf.Tensor, options?: ForwardOptions): ForwardOutput;
  trainableVariables(): unknown;
  stateDict(): unknown;
  loadStateDict(sd: unknown, options?: { strict?: boolean }): unknown;
  dispose(): void;
  /** Flux-FT self-distillation decoder j (FluxViT's `final_clip_decoder_for_projs.{j}`), when the model has one. */
  decodeProjection?(pooled: tf.Tensor2D, j: number): tf.Tensor;
  /** Official names of {@link trainableVariables}, same order (FluxViT). */
  trainableNames?(): string[];
}

/** The model's trainable variables as (name, variable) pairs, in a stable order. */
export function namedVariables(model: TunableModel): { name: string; variable: tf.Variable }[] {
  const tv = model.trainableVariables() as unknown;
  if (Array.isArray(tv) && model.trainableNames) {
    const names = model.trainableNames();
    return (tv as tf.Variable[]).map((variable, i) => ({ name: names[i]!, variable }));
  }
  let pairs: [string, tf.Variable][];
  if (tv instanceof Map) pairs = [...(tv as Map<string, tf.Variable>)];
  else if (Array.isArray(tv)) {
    pairs = (tv as unknown[]).map((v) => {
      if (v instanceof tf.Variable) return [v.name, v];
      const o = v as { name: string; variable?: tf.Variable; value?: tf.Variable };
      return [o.name, (o.variable ?? o.value)!];
    });
  } else pairs = Object.entries(tv as Record<string, tf.Variable>);
  return pairs.map(([name, variable]) => ({ name, variable }));
}

/** The model's state dict as safetensors records (float32 copies). */
export function stateDictRecords(model: TunableModel): Record<string, TensorRecord> {
  const sd = model.stateDict() as unknown;
  const entries: [string, unknown][] = sd instanceof Map ? [...(sd as Map<string, unknown>)] : Object.entries(sd as Record<string, unknown>);
  const out: Record<string, TensorRecord> = {};
  for (const [name, t] of entries) {
    if (t instanceof tf.Tensor) out[name] = makeRecord('float32', t.shape, Float32Array.from(t.dataSync() as Float32Array));
    else out[name] = t as TensorRecord;
  }
  return out;
}
