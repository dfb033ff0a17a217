/**
 * Token Optimization at evaluation (paper appendix): for a budget of K tokens, find the sampling grid (F, R)
 * whose K selected tokens score best, with a linear number of evaluations.
 */
import { gridTokens, rangeValues, validateGridSpace, type IntRange } from './config.js';

/** The grids a search may visit: ranges, or explicit lists of values (any order; duplicates ignored). */
export interface TokenSearchSpace {
  frames: IntRange | readonly number[];
  resolution: IntRange | readonly number[];
  patch: number;
  /** Where to start; default: R = resolution.max and the smallest F whose pool holds the budget. */
  start?: { frames?: number; resolution?: number };
  /** Skip grids whose pool F·(R/p)² exceeds this (memory/time cap). Default: no cap. */
  maxTokens?: number;
}

/** A grid evaluated at a budget: `tokens` is the pool F·(R/p)², `budget` the K kept from it. */
export interface TokenPlan {
  frames: number;
  resolution: number;
  tokens: number;
  budget: number;
}

/** One evaluation of the search. */
export interface TokenSearchStep extends TokenPlan {
  score: number;
  /** `'start'`, `'frames'` (raising F at fixed R) or `'trade'` (lowering R while raising F). */
  phase: 'start' | 'frames' | 'trade';
  /** Whether it became the new best. */
  accepted: boolean;
}

/** Options of {@link searchTokenPlan}. */
export interface TokenSearchOptions {
  /** A step must beat the best score by more than this to count as an improvement. Default 0. */
  minGain?: number;
}

/**
 * The paper's linear heuristic. Start at the minimal grid (R = start resolution, the smallest F whose pool
 * holds the budget); phase 1 raises F one step at a time while the score improves; phase 2, from the best
 * grid, lowers R one step and raises F to the smallest grid value (≥ one step more) whose pool is at least
 * the previous one — moving along the token-threshold anti-diagonal — while the score improves. Each grid
 * is evaluated once. `evaluate` gets the plan (use `plan.budget` as the selector's K) and returns a score
 * to maximise (e.g. top-1 on a small train subset).
 */
export async function searchTokenPlan(
  budget: number,
  space: TokenSearchSpace,
  evaluate: (plan: TokenPlan) => Promise<number> | number,
  options: TokenSearchOptions = {},
): Promise<{ best: TokenPlan & { score: number }; trace: TokenSearchStep[] }> {
  if (!Number.isInteger(budget) || budget < 1) throw new RangeError(`searchTokenPlan: budget must be an integer ≥ 1, got ${budget}`);
  const { patch } = space;
  const asList = (v: IntRange | readonly number[], what: string): number[] => {
    if (!Array.isArray(v)) return [];
    const list = [...new Set(v as readonly number[])].sort((a, b) => a - b);
    if (!list.length) throw new RangeError(`searchTokenPlan: ${what} is an empty list`);
    for (const x of list) if (!Number.isInteger(x) || x < 1) throw new RangeError(`searchTokenPlan: ${what} values must be integers ≥ 1, got ${x}`);
    return list;
  };
  const fList = asList(space.frames, 'frames');
  const rList = asList(space.resolution, 'resolution');
  // Ranges are checked as a grid space; lists by their values (with a stand-in range for what is a list).
  validateGridSpace(
    {
      patch,
      frames: Array.isArray(space.frames) ? { min: fList[0]!, max: fList[0]!, step: 1 } : (space.frames as IntRange),
      resolution: Array.isArray(space.resolution) ? { min: patch, max: patch, step: 1 } : (space.resolution as IntRange),
    },
    'searchTokenPlan',
  );
  for (const r of rList) if (r % patch !== 0) throw new RangeError(`searchTokenPlan: resolution ${r} is not a multiple of the patch size (${patch})`);
  const minGain = options.minGain ?? 0;
  if (!(minGain >= 0)) throw new RangeError(`searchTokenPlan: minGain must be ≥ 0, got ${minGain}`);
  const maxTokens = space.maxTokens ?? Infinity;
  const fs = Array.isArray(space.frames) ? fList : rangeValues(space.frames as IntRange);
  const rs = Array.isArray(space.resolution) ? rList : rangeValues(space.resolution as IntRange);
  const r0 = space.start?.resolution ?? rs[rs.length - 1];
  if (!rs.includes(r0)) throw new RangeError(`searchTokenPlan: start.resolution (${r0}) is not in the resolution range ${rs.join(', ')}`);
  const f0 = space.start?.frames ?? fs.find((f) => gridTokens(f, r0, patch) >= budget) ?? fs[fs.length - 1];
  if (!fs.includes(f0)) throw new RangeError(`searchTokenPlan: start.frames (${f0}) is not in the frame range ${fs.join(', ')}`);
  if (gridTokens(f0, r0, patch) > maxTokens) {
    throw new RangeError(`searchTokenPlan: the start grid ${f0}×${r0}² has ${gridTokens(f0, r0, patch)} tokens, above maxTokens (${maxTokens})`);
  }

  const trace: TokenSearchStep[] = [];
  const plan = (frames: number, resolution: number): TokenPlan => ({ frames, resolution, tokens: gridTokens(frames, resolution, patch), budget });
  const run = async (p: TokenPlan, phase: TokenSearchStep['phase'], best: number): Promise<number> => {
    const score = await evaluate({ ...p });
    if (typeof score !== 'number' || Number.isNaN(score)) throw new TypeError(`searchTokenPlan: evaluate returned ${score} for ${p.frames}×${p.resolution}²`);
    const accepted = phase === 'start' || score > best + minGain;
    trace.push({ ...p, score, phase, accepted });
    return score;
  };

  let best = plan(f0, r0);
  let bestScore = await run(best, 'start', -Infinity);

  // Phase 1: more frames at the start resolution.
  for (let i = fs.indexOf(f0) + 1; i < fs.length; i++) {
    const p = plan(fs[i], r0);
    if (p.tokens > maxTokens) break;
    const s = await run(p, 'frames', bestScore);
    if (!(s > bestScore + minGain)) break;
    best = p;
    bestScore = s;
  }

  // Phase 2: trade resolution for frames, keeping at least the pool.
  for (;;) {
    const ri = rs.indexOf(best.resolution);
    if (ri <= 0) break;
    const r = rs[ri - 1];
    const f = fs.find((v) => v > best.frames && gridTokens(v, r, patch) >= best.tokens);
    if (f === undefined) break;
    const p = plan(f, r);
    if (p.tokens > maxTokens) break;
    const s = await run(p, 'trade', bestScore);
    if (!(s > bestScore + minGain)) break;
    best = p;
    bestScore = s;
  }
  return { best: { ...best, score: bestScore }, trace };
}
