/** @flux/eval — evaluation across token budgets, Token Optimization, SVG plots, Markdown report, the main job. */
export { svgLineChart, svgHeatmap, escapeXml, type LineChartOptions, type LineSeries, type HeatmapOptions } from './plots.js';
export { searchTokenPlan, type TokenPlan, type TokenPlanSearch, type TokenPlanTrace } from './token-opt.js';
export { loadRun, evaluateRun, bestAtBudget, DEFAULT_EVAL_OPTIONS, type LoadedRun, type EvalCell, type BudgetResult, type ModelEvaluation, type EvalOptions } from './evaluate.js';
export { writeReport, table1, budgetTable, accuracyChart, heatmapChart, lossChart, type ReportInput } from './report.js';
export { buildEvalCommand, evalOptionsFromCli } from './cli.js';
export { runMainJob, buildMainCommand, DEFAULT_MAIN_JOB, type MainJobOptions, type MainJobResult } from './main-job.js';
