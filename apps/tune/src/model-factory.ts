/** The default model factory: @flux/vit's registry, sized by the run config. */
import { createModel, type FluxViTConfig, type FluxViTName } from '@flux/vit';

import { headCountsOf, type TuneConfig } from './config.js';
import type { TunableModel } from './model.js';

/** The FluxViT overrides a run config implies (what flux-eval needs to rebuild the model). */
export function modelOverridesOf(cfg: TuneConfig, numClasses: number): Partial<FluxViTConfig> {
  return {
    ...(cfg.modelOverrides as Partial<FluxViTConfig>),
    numClasses,
    headTokenCounts: headCountsOf(cfg),
    dropPathRate: cfg.dropPath,
  };
}

export function createFluxModel(cfg: TuneConfig, numClasses: number): TunableModel {
  return createModel(cfg.model as FluxViTName, modelOverridesOf(cfg, numClasses), cfg.seed) as unknown as TunableModel;
}
