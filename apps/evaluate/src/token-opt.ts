/**
 * Token Optimization (DESIGN.md "Token Optimization at evaluation"): for a budget K, search the input grid
 * (F, R) on a small train subset — start at the minimal grid, raise F while accuracy improves, then lower R
 * while raising F while it improves — a linear number of evaluations. The model always keeps
 * min(K, F·(R/p)²) tokens chosen by the selector.
 */

export interface TokenPlan {
  frames: number;
  size: number;
  /** Tokens kept (≤ budget). */
  k: number;
  /** Tokens of the grid before selection. */
  gridTokens: number;
}

export interface TokenPlanTrace {
  plan: TokenPlan;
  score: number;
  phase: 'start' | 'raise-frames' | 'trade-resolution';
}

export interface TokenPlanSearch {
  best: TokenPlan;
  bestScore: number;
  trace: TokenPlanTrace[];
}

/**
 * Searches plans for `budget` over frame counts `frames` and sides `sizes` (patch `patch`), scoring each with
 * `evaluate` (higher is better; e.g. top-1 on a train subset). Scores are cached per plan.
 */
export async function searchTokenPlan(
  budget: number,
  space: { frames: number[]; sizes: number[]; patch: number },
  evaluate: (plan: TokenPlan) => number | Promise<number>,
): Promise<TokenPlanSearch> {
  const frames = [...new Set(space.frames)].sort((a, b) => a - b);
  const sizes = [...new Set(space.sizes)].sort((a, b) => a - b);
  if (!frames.length || !sizes.length) throw new Error('searchTokenPlan: empty search space');
  const plan = (f: number, r: number): TokenPlan => {
    const g = f * Math.floor(r / space.patch) ** 2;
    return { frames: f, size: r, k: Math.min(budget, g), gridTokens: g };
  };
  const trace: TokenPlanTrace[] = [];
  const cache = new Map<string, number>();
  const score = async (p: TokenPlan, phase: TokenPlanTrace['phase']): Promise<number> => {
    const key = `${p.frames}x${p.size}`;
    let s = cache.get(key);
    if (s === undefined) {
      s = await evaluate(p);
      cache.set(key, s);
      trace.push({ plan: p, score: s, phase });
    }
    return s;
  };
  // Minimal grid: the largest side, and the fewest frames whose grid fills the budget (else the most frames).
  const rMax = sizes[sizes.length - 1]!;
  let fi = frames.findIndex((f) => plan(f, rMax).gridTokens >= budget);
  if (fi < 0) fi = frames.length - 1;
  let ri = sizes.length - 1;
  let best = plan(frames[fi]!, sizes[ri]!);
  let bestScore = await score(best, 'start');
  // Phase 1: raise F while it improves.
  while (fi + 1 < frames.length) {
    const cand = plan(frames[fi + 1]!, sizes[ri]!);
    const s = await score(cand, 'raise-frames');
    if (s > bestScore) {
      best = cand;
      bestScore = s;
      fi++;
    } else break;
  }
  // Phase 2: lower R, raising F to the fewest frames that fill the budget at the lower side (at least F+1).
  while (ri > 0) {
    const r = sizes[ri - 1]!;
    let nf = frames.findIndex((f, i) => i > fi && plan(f, r).gridTokens >= budget);
    if (nf < 0) nf = fi + 1 < frames.length ? fi + 1 : fi;
    const cand = plan(frames[nf]!, r);
    const s = await score(cand, 'trade-resolution');
    if (s > bestScore) {
      best = cand;
      bestScore = s;
      fi = nf;
      ri--;
    } else break;
  }
  return { best, bestScore, trace };
}
