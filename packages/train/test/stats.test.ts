import { describe, expect, it } from 'vitest';

import { comparePaired, fmtComparison, fmtPct, meanStd } from '../src/stats.js';

describe('seeds and significance', () => {
  it('mean and sample standard deviation (hand-computed)', () => {
    const m = meanStd([0.8, 0.82, 0.86]);
    expect(m.mean).toBeCloseTo(0.8266667, 7);
    expect(m.std).toBeCloseTo(Math.sqrt(((0.8 - 0.8266667) ** 2 + (0.82 - 0.8266667) ** 2 + (0.86 - 0.8266667) ** 2) / 2), 7);
    expect(meanStd([0.5])).toEqual({ mean: 0.5, std: 0, n: 1 });
    expect(fmtPct(m)).toBe('82.7 ± 3.1');
  });

  it('a paired difference is a win only beyond twice its standard error', () => {
    // Differences 0.02, 0.03, 0.025: mean 0.025, sd 0.005, se 0.00289 → 0.025 > 0.0058: a win.
    const win = comparePaired([0.82, 0.83, 0.845], [0.8, 0.8, 0.82]);
    expect(win.mean).toBeCloseTo(0.025, 9);
    expect(win.se).toBeCloseTo(0.005 / Math.sqrt(3), 9);
    expect(win.verdict).toBe('win');
    // Differences +0.05, −0.04, +0.02: mean 0.01 with a large spread — not significant.
    expect(comparePaired([0.85, 0.76, 0.82], [0.8, 0.8, 0.8]).verdict).toBe('no significant difference');
    expect(comparePaired([0.7, 0.71, 0.7], [0.8, 0.8, 0.79]).verdict).toBe('loss');
    // One seed never makes a win.
    expect(comparePaired([0.9], [0.1]).verdict).toBe('no significant difference');
    expect(fmtComparison(win)).toBe('+2.5 ± 0.3 points (win, n = 3)');
    expect(() => comparePaired([1], [1, 2])).toThrow(RangeError);
  });
});
