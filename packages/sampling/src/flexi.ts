/**
 * Per-batch (F, R) draws under the token threshold, and the fixed grid of the baselines.
 */
import { Rng } from '@flux/core';

import { gridTokens, rangeValues, validateFlexiConfig, type FlexiSamplingConfig, type GridPlan } from './config.js';
import { FLEXI_PRESETS, type FlexiPresetName } from './presets.js';

/** Anything that yields one grid per batch. */
export interface PlanSampler {
  /** The grid of the next batch. */
  draw(): GridPlan;
  /** Every grid `draw` can return. */
  all(): GridPlan[];
}

/**
 * Flexi-sampling (paper §3.1): per batch, F uniform over `frames` and R uniform over `resolution`, redrawn
 * until `tokens.low ≤ F·(R/p)² ≤ tokens.high` — so every valid (F, R) is equally likely. The configuration
 * is checked at construction (see {@link validateFlexiConfig}), which also guarantees a valid plan exists.
 */
export class FlexiSampler implements PlanSampler {
  readonly config: FlexiSamplingConfig;
  private readonly plans: GridPlan[];
  private readonly frameValues: number[];
  private readonly resolutionValues: number[];
  private readonly rng: Rng;

  constructor(config: FlexiSamplingConfig | FlexiPresetName, seed: number | Rng = 0) {
    const cfg = typeof config === 'string' ? FLEXI_PRESETS[config] : config;
    if (cfg === undefined) throw new RangeError(`FlexiSampler: unknown preset ${JSON.stringify(config)} (known: ${Object.keys(FLEXI_PRESETS).join(', ')})`);
    this.plans = validateFlexiConfig(cfg);
    this.config = cfg;
    this.frameValues = rangeValues(cfg.frames);
    this.resolutionValues = rangeValues(cfg.resolution);
    this.rng = seed instanceof Rng ? seed : new Rng(seed);
  }

  draw(): GridPlan {
    const { patch, tokens } = this.config;
    for (;;) {
      const frames = this.rng.choice(this.frameValues);
      const resolution = this.rng.choice(this.resolutionValues);
      const t = gridTokens(frames, resolution, patch);
      if (t >= tokens.low && t <= tokens.high) return { frames, resolution, tokens: t };
    }
  }

  all(): GridPlan[] {
    return this.plans.map((p) => ({ ...p }));
  }
}

/** A fixed F×R grid (the baselines' rigid sampling, and evaluation at one setting). */
export function fixedGrid(frames: number, resolution: number, patch: number): GridPlan {
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`fixedGrid: frames must be an integer ≥ 1, got ${frames}`);
  if (!Number.isInteger(patch) || patch < 1) throw new RangeError(`fixedGrid: patch must be an integer ≥ 1, got ${patch}`);
  if (!Number.isInteger(resolution) || resolution < patch || resolution % patch !== 0) {
    throw new RangeError(`fixedGrid: resolution (${resolution}) must be a positive multiple of the patch size (${patch})`);
  }
  return { frames, resolution, tokens: gridTokens(frames, resolution, patch) };
}

/** A {@link PlanSampler} that always returns one grid (fixed-grid training, or evaluation). */
export class FixedSampler implements PlanSampler {
  readonly plan: GridPlan;
  constructor(frames: number, resolution: number, patch: number) {
    this.plan = fixedGrid(frames, resolution, patch);
  }
  draw(): GridPlan {
    return { ...this.plan };
  }
  all(): GridPlan[] {
    return [{ ...this.plan }];
  }
}
