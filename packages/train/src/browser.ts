/**
 * @flux/train for browsers (the package's "browser" export condition): prediction at a token budget from RGB frames
 * and a fetched checkpoint — plans, classification, cost calibration and Kinetics-400 names. Training, datasets and
 * everything that reads files are in the Node entry.
 */
export * from './predict/index.js';
export { headFor } from './head-for.js';
