export { buildPretrainCommand, clipStudyFromCli, main, pretrainLayers, studyFromCli } from './cli.js';
export { DEFAULT_CLIP_STUDY, runClipStudy, type ClipStudyOptions, type ClipStudyResult } from './clip-study.js';
export { DEFAULT_STUDY, runStudy, type StudyOptions, type StudyResult, type ArmResult } from './study.js';
