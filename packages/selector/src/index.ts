export {
  selectTokens,
  selectTokenIndices,
  selectFromScores,
  randomIndices,
  tubeIndices,
  keptCount,
  SELECTOR_METHODS,
  type SelectorMethod,
  type SelectorOptions,
  type SelectedIndices,
} from './select.js';
export { gatherTokens, selectAndGather } from './gather.js';
export { umtMask, umtMaskIndices, umtKeepCount, weightedSampleWithoutReplacement, type UmtMaskOptions } from './umt.js';
export { autoGroups, resolveGroups, groupBounds, groupQuotas } from './groups.js';
export { frameDistances, frameDistancesData, groupScores, type DynamicsNorm } from './scores.js';
export { topKInto } from './topk.js';
