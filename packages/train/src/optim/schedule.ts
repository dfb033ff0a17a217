/** Learning-rate schedules. */

export interface CosineScheduleOptions {
  /** Peak learning rate (reached at the end of warmup). */
  baseLr: number;
  /** Total optimizer steps. */
  totalSteps: number;
  /** Linear warmup steps from `warmupStartLr` to `baseLr` (default 0). */
  warmupSteps?: number;
  /** Learning rate at step 0 of the warmup (default 0). */
  warmupStartLr?: number;
  /** Final learning rate of the cosine decay (default 0). */
  minLr?: number;
}

/**
 * Linear warmup then half-cosine decay, evaluated for the update that follows `step` completed steps
 * (step 0 is the first update):
 *
 * - `step < warmup`: `warmupStartLr + (baseLr − warmupStartLr) · (step + 1) / warmup`
 * - after: `minLr + ½(baseLr − minLr)(1 + cos(π · (step − warmup) / max(1, total − warmup)))`
 */
export function cosineLr(step: number, options: CosineScheduleOptions): number {
  const { baseLr, totalSteps } = options;
  const warmup = Math.max(0, Math.min(options.warmupSteps ?? 0, totalSteps));
  const start = options.warmupStartLr ?? 0;
  const minLr = options.minLr ?? 0;
  if (step < warmup) return start + ((baseLr - start) * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
  return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * progress));
}
