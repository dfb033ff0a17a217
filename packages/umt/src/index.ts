export { teacherLayers, studentLayers } from './layers.js';
export { fluxViTTeacher, type Teacher, type TeacherOutput, type TeacherForwardOptions } from './teacher.js';
export { studentMask, studentKeepCount, type MaskSegments, type StudentMask, type StudentMaskOptions } from './mask.js';
export { AlignmentHeads, cosineAlignmentLoss, type AlignmentHeadsOptions } from './decoder.js';
export {
  DEFAULT_PRETRAIN_CONFIG,
  FLUX_MASK_RATIOS,
  UMT_MASK_RATIO,
  resolvePretrainConfig,
  validatePretrainConfig,
  maskRatiosOf,
  teacherTokensOf,
  studentPatchSize,
  type PretrainConfig,
  type PretrainMode,
} from './config.js';
export { UmtObjective, pretrainSampling, pretrainedParamFilter, type UmtBatch, type StudentView } from './objective.js';
export { pretrain, loadTeacher, createStudent, pretrainResumeKeys, type PretrainOptions, type PretrainResult } from './pretrain.js';
