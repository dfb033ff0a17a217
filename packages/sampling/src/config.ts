/**
 * Flexi-sampling configuration: the (F, R) ranges, the patch size and the token threshold, validated once.
 */

/** An inclusive integer range with a stride, like Python's `range(min, max + 1, step)`. */
export interface IntRange {
  min: number;
  max: number;
  step: number;
}

/** Flexible spatiotemporal sampling (paper §3.1). */
export interface FlexiSamplingConfig {
  /** Frame counts F drawn from `min..max` every `step` (paper ablation: 4..24 step 2). */
  frames: IntRange;
  /** Square side R in pixels drawn from `min..max` every `step`; every value a multiple of `patch`. */
  resolution: IntRange;
  /** Patch size p in pixels (FluxViT: 14). */
  patch: number;
  /** Token threshold T_thres: a plan is valid when `low ≤ F·(R/p)² ≤ high`. */
  tokens: { low: number; high: number };
}

/** One sampling grid: F frames at R×R pixels, `tokens = F·(R/p)²` patch tokens before selection. */
export interface GridPlan {
  frames: number;
  resolution: number;
  tokens: number;
}

/** Patch tokens of an F×R×R clip: F·(R/p)². */
export function gridTokens(frames: number, resolution: number, patch: number): number {
  const side = resolution / patch;
  return frames * side * side;
}

/** The values of a range: min, min+step, … ≤ max. */
export function rangeValues(range: IntRange): number[] {
  const out: number[] = [];
  for (let v = range.min; v <= range.max; v += range.step) out.push(v);
  return out;
}

function checkRange(name: string, r: IntRange | undefined, minValue: number): void {
  if (r == null || typeof r !== 'object') throw new RangeError(`${name} must be { min, max, step }, got ${JSON.stringify(r)}`);
  for (const key of ['min', 'max', 'step'] as const) {
    const v = r[key];
    if (!Number.isInteger(v)) throw new RangeError(`${name}.${key} must be an integer, got ${v}`);
  }
  if (r.min < minValue) throw new RangeError(`${name}.min must be ≥ ${minValue}, got ${r.min}`);
  if (r.step < 1) throw new RangeError(`${name}.step must be ≥ 1, got ${r.step}`);
  if (r.max < r.min) throw new RangeError(`${name} is empty: max (${r.max}) < min (${r.min})`);
}

/** Checks ranges, patch and strides (not the threshold). Throws a RangeError naming the wrong value. */
export function validateGridSpace(space: { frames: IntRange; resolution: IntRange; patch: number }, where = 'flexi-sampling'): void {
  if (space == null || typeof space !== 'object') throw new RangeError(`${where}: config must be an object, got ${JSON.stringify(space)}`);
  if (!Number.isInteger(space.patch) || space.patch < 1) throw new RangeError(`${where}: patch must be an integer ≥ 1, got ${space.patch}`);
  checkRange(`${where}: frames`, space.frames, 1);
  checkRange(`${where}: resolution`, space.resolution, 1);
  const { resolution: r, patch } = space;
  if (r.min % patch !== 0) throw new RangeError(`${where}: resolution.min (${r.min}) is not a multiple of the patch size (${patch})`);
  if (r.step % patch !== 0 && r.max > r.min) {
    throw new RangeError(`${where}: resolution.step (${r.step}) is not a multiple of the patch size (${patch}), so ${r.min + r.step} would not be`);
  }
}

/**
 * Validates a {@link FlexiSamplingConfig} and returns its valid plans (F ascending, then R). Throws a
 * RangeError naming the wrong value: empty ranges, non-integers, R not a multiple of the patch, a threshold
 * with low > high, or a threshold no plan reaches (the message gives the reachable token counts).
 */
export function validateFlexiConfig(config: FlexiSamplingConfig): GridPlan[] {
  validateGridSpace(config);
  const t = config.tokens;
  if (t == null || typeof t !== 'object') throw new RangeError(`flexi-sampling: tokens must be { low, high }, got ${JSON.stringify(t)}`);
  if (!(Number.isFinite(t.low) && t.low >= 0)) throw new RangeError(`flexi-sampling: tokens.low must be a finite number ≥ 0, got ${t.low}`);
  if (!(t.high >= t.low)) throw new RangeError(`flexi-sampling: tokens.high (${t.high}) must be ≥ tokens.low (${t.low})`);
  const plans: GridPlan[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const frames of rangeValues(config.frames)) {
    for (const resolution of rangeValues(config.resolution)) {
      const tokens = gridTokens(frames, resolution, config.patch);
      lo = Math.min(lo, tokens);
      hi = Math.max(hi, tokens);
      if (tokens >= t.low && tokens <= t.high) plans.push({ frames, resolution, tokens });
    }
  }
  if (plans.length === 0) {
    throw new RangeError(
      `flexi-sampling: token threshold [${t.low}, ${t.high}] is unreachable: the (F, R) ranges give F·(R/${config.patch})² between ${lo} and ${hi} with no value inside it`,
    );
  }
  return plans;
}
