/** flux-tune — the CLI over @flux/train's supervised tuning (`tune`). The library API lives in @flux/train. */
export { buildTuneCommand, configFromCli, main } from './cli.js';
