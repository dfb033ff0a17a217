export { buildPretrainCommand, main, pretrainLayers, studyFromCli } from './cli.js';
export { DEFAULT_STUDY, runStudy, type StudyOptions, type StudyResult, type ArmResult } from './study.js';
