import { Rng } from '@flux/core';

/** The package's process-wide stream for calls without an `rng`: seeded once, so runs are reproducible. */
export const defaultRng = new Rng('flux-sampling');
