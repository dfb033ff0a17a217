/** The model of a tuning run: @flux/vit's registry, sized by the run config, and strict weight loading. */
import { parseSafetensors } from '@flux/core';
import { createModel, type FluxViT, type FluxViTConfig, type FluxViTName } from '@flux/vit';

import { headCountsOf, type TuneConfig } from './config.js';

/** Builds the model of a run (default: {@link createFluxModel}). */
export type ModelFactory = (cfg: TuneConfig, numClasses: number) => FluxViT | Promise<FluxViT>;

/** The FluxViT overrides a run config implies (what flux-eval needs to rebuild the model). */
export function modelOverridesOf(cfg: TuneConfig, numClasses: number): Partial<FluxViTConfig> {
  return {
    ...(cfg.modelOverrides as Partial<FluxViTConfig>),
    numClasses,
    headTokenCounts: headCountsOf(cfg),
    dropPathRate: cfg.dropPath,
  };
}

/** The run's FluxViT, initialised from the run's seed. */
export function createFluxModel(cfg: TuneConfig, numClasses: number): FluxViT {
  return createModel(cfg.model as FluxViTName, modelOverridesOf(cfg, numClasses), cfg.seed);
}

/** Loads a model state dict from safetensors bytes into the model (strict); `name` names the file in errors. */
export function loadModelBytes(model: FluxViT, bytes: Uint8Array, name = 'model.safetensors'): void {
  const { tensors } = parseSafetensors(bytes, { name });
  try {
    model.loadStateDict(tensors, { strict: true });
  } catch (e) {
    // The commonest mismatch: official weights (attention-pool projectors) into the CPU-scale default (max pool).
    const pool = model.config.clipPool ?? 'attention';
    const hasQuery = [...tensors.keys()].some((k) => /clip_projector\.\d+\.cross_attn\.q\.weight$/.test(k));
    if (e instanceof Error && hasQuery !== (pool === 'attention')) {
      e.message += `\n(${name} has ${hasQuery ? 'attention' : 'max'}-pool projectors but the model is built with clipPool '${pool}': pass --pool ${hasQuery ? 'attention' : 'max'})`;
    }
    if (e instanceof Error && !e.message.includes(name)) e.message = `${name}: ${e.message}`;
    throw e;
  }
}
