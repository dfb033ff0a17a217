/**
 * An independent, deliberately naive reference of the group-dynamic selector, written from the official
 * release's `sparse_group_token_selection` (reshape into G contiguous groups, L2/L1 distance of adjacent
 * frames, the group's first frame takes its second frame's distance, keep the top of each group) with
 * nested arrays and a stable sort instead of typed arrays and offsets.
 */
export function referenceGroupDynamic(x: number[][][][], k: number, groups: number, norm: 'l2' | 'l1' = 'l2'): number[][] {
  return x.map((clip) => {
    const f = clip.length;
    const l = clip[0].length;
    const per = f / groups;
    if (!Number.isInteger(per)) throw new Error('reference handles equal groups only');
    const kept: number[] = [];
    for (let g = 0; g < groups; g++) {
      const frames = clip.slice(g * per, (g + 1) * per);
      const dist = (a: number[], b: number[]) => {
        const d = a.map((v, c) => v - b[c]);
        return norm === 'l2' ? Math.sqrt(d.reduce((s, v) => s + v * v, 0)) : d.reduce((s, v) => s + Math.abs(v), 0);
      };
      const importance: { idx: number; s: number }[] = [];
      for (let t = 0; t < per; t++) {
        for (let i = 0; i < l; i++) {
          const tt = t === 0 ? 1 : t;
          importance.push({ idx: (g * per + t) * l + i, s: Math.fround(dist(frames[tt][i], frames[tt - 1][i])) });
        }
      }
      const quota = Math.floor(k / groups) + (g < k % groups ? 1 : 0);
      const sorted = [...importance].sort((a, b) => b.s - a.s || a.idx - b.idx);
      kept.push(...sorted.slice(0, quota).map((e) => e.idx));
    }
    return kept.sort((a, b) => a - b);
  });
}
