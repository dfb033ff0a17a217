/** flux-eval and flux-main — CLIs over @flux/train's evaluation across token budgets, reports and tuning. */
export { buildEvalCommand, evalOptionsFromCli, main as evalMain } from './cli.js';
export { runMainJob, buildMainCommand, DEFAULT_MAIN_JOB, type MainJobOptions, type MainJobResult } from './main-job.js';
export { buildPredictCommand, choosePlan, predictMain } from './predict-cli.js';
