import { Rng } from '@flux/core';

/** The package's process-wide stream, seeded once: unseeded calls get fresh draws, and a run is reproducible. */
const defaultStream = new Rng('flux-selector');

/** The generator a call uses: `rng`, else a new `Rng(seed)`, else the process-wide stream. */
export function rngFor(options: { seed?: number; rng?: Rng }, where: string): Rng {
  if (options.rng) return options.rng;
  if (options.seed !== undefined) {
    if (!Number.isFinite(options.seed)) throw new RangeError(`${where}: seed must be a finite number, got ${options.seed}`);
    return new Rng(options.seed);
  }
  return defaultStream;
}
