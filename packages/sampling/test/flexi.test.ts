import { Rng } from '@flux/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FLEXI_PRESETS,
  FixedSampler,
  FlexiSampler,
  MOVING_MNIST,
  PAPER_ABLATION,
  fixedGrid,
  gridTokens,
  validateFlexiConfig,
  type FlexiSamplingConfig,
} from '../src/index.js';

const base: FlexiSamplingConfig = PAPER_ABLATION;
const withChange = (change: Partial<FlexiSamplingConfig>): FlexiSamplingConfig => ({ ...base, ...change });

describe('FlexiSampler configuration', () => {
  it('builds every preset, each with valid plans', () => {
    for (const [name, cfg] of Object.entries(FLEXI_PRESETS)) {
      const s = new FlexiSampler(cfg);
      expect(s.all().length, name).toBeGreaterThan(0);
      expect(new FlexiSampler(name as keyof typeof FLEXI_PRESETS).all()).toEqual(s.all());
    }
  });

  it('paper ablation plans: golden list at R = 224', () => {
    const at224 = new FlexiSampler(PAPER_ABLATION).all().filter((p) => p.resolution === 224);
    // 256 tokens a frame: F·256 in [2048, 4096] → F = 8..16
    expect(at224.map((p) => p.frames)).toEqual([8, 10, 12, 14, 16]);
    expect(gridTokens(8, 224, 14)).toBe(2048);
  });

  it('Moving-MNIST preset spans pools of 128..512 tokens with patch 8', () => {
    const plans = new FlexiSampler(MOVING_MNIST).all();
    expect(Math.min(...plans.map((p) => p.tokens))).toBe(128);
    expect(Math.max(...plans.map((p) => p.tokens))).toBe(512);
    for (const p of plans) expect(p.resolution % 8).toBe(0);
  });

  it.each([
    [{ frames: { min: 8, max: 4, step: 2 } }, /frames is empty: max \(4\) < min \(8\)/],
    [{ frames: { min: 0, max: 4, step: 2 } }, /frames.min must be ≥ 1, got 0/],
    [{ frames: { min: 4, max: 8, step: 0 } }, /frames.step must be ≥ 1, got 0/],
    [{ frames: { min: 4.5, max: 8, step: 2 } }, /frames.min must be an integer, got 4.5/],
    [{ resolution: { min: 170, max: 252, step: 28 } }, /resolution.min \(170\) is not a multiple of the patch size \(14\)/],
    [{ resolution: { min: 168, max: 252, step: 20 } }, /resolution.step \(20\) is not a multiple of the patch size \(14\)/],
    [{ patch: 0 }, /patch must be an integer ≥ 1, got 0/],
    [{ tokens: { low: 5000, high: 4096 } }, /tokens.high \(4096\) must be ≥ tokens.low \(5000\)/],
    [{ tokens: { low: 100000, high: 200000 } }, /threshold \[100000, 200000\] is unreachable: .* between 576 and 7776/],
  ] as const)('rejects %j naming the value', (change, message) => {
    expect(() => new FlexiSampler(withChange(change as Partial<FlexiSamplingConfig>))).toThrow(message);
  });

  it('rejects an unknown preset name', () => {
    expect(() => new FlexiSampler('k400' as 'moving-mnist')).toThrow(/unknown preset "k400"/);
  });
});

describe('FlexiSampler draws', () => {
  const config = fc
    .record({
      fMin: fc.integer({ min: 1, max: 16 }),
      fSpan: fc.integer({ min: 0, max: 20 }),
      fStep: fc.integer({ min: 1, max: 4 }),
      patch: fc.integer({ min: 1, max: 16 }),
      rMinP: fc.integer({ min: 1, max: 8 }),
      rSpanP: fc.integer({ min: 0, max: 8 }),
      rStepP: fc.integer({ min: 1, max: 3 }),
      lowQ: fc.double({ min: 0, max: 1, noNaN: true }),
      widthQ: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map((r): FlexiSamplingConfig => {
      const fMax = r.fMin + r.fSpan;
      const rMin = r.rMinP * r.patch;
      const rMax = rMin + r.rSpanP * r.patch;
      const maxTokens = fMax * (rMax / r.patch) ** 2;
      const low = Math.floor(r.lowQ * maxTokens);
      return {
        frames: { min: r.fMin, max: fMax, step: r.fStep },
        resolution: { min: rMin, max: rMax, step: r.rStepP * r.patch },
        patch: r.patch,
        tokens: { low, high: low + Math.ceil(r.widthQ * maxTokens) },
      };
    });

  it('every draw respects the threshold and the ranges, and is one of all(); invalid configs throw', () => {
    fc.assert(
      fc.property(config, fc.integer(), (cfg, seed) => {
        let plans;
        try {
          plans = validateFlexiConfig(cfg);
        } catch (e) {
          expect(String(e)).toMatch(/unreachable/);
          return;
        }
        const s = new FlexiSampler(cfg, seed);
        const keys = new Set(plans.map((p) => `${p.frames}x${p.resolution}`));
        for (let i = 0; i < 20; i++) {
          const p = s.draw();
          expect(p.tokens).toBe(p.frames * (p.resolution / cfg.patch) ** 2);
          expect(p.tokens).toBeGreaterThanOrEqual(cfg.tokens.low);
          expect(p.tokens).toBeLessThanOrEqual(cfg.tokens.high);
          expect(p.frames).toBeGreaterThanOrEqual(cfg.frames.min);
          expect(p.frames).toBeLessThanOrEqual(cfg.frames.max);
          expect((p.frames - cfg.frames.min) % cfg.frames.step).toBe(0);
          expect(p.resolution).toBeGreaterThanOrEqual(cfg.resolution.min);
          expect(p.resolution).toBeLessThanOrEqual(cfg.resolution.max);
          expect(p.resolution % cfg.patch).toBe(0);
          expect(keys.has(`${p.frames}x${p.resolution}`)).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('is uniform over the valid plans and reproducible with a seed', () => {
    const s = new FlexiSampler(PAPER_ABLATION, 42);
    const plans = s.all();
    const counts = new Map<string, number>();
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const p = s.draw();
      const k = `${p.frames}x${p.resolution}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    expect(counts.size).toBe(plans.length);
    const expected = n / plans.length;
    const chi2 = [...counts.values()].reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(3 * plans.length); // df = plans − 1; a loose bound
    const a = new FlexiSampler(PAPER_ABLATION, 7);
    const b = new FlexiSampler(PAPER_ABLATION, new Rng(7));
    expect(Array.from({ length: 10 }, () => a.draw())).toEqual(Array.from({ length: 10 }, () => b.draw()));
  });

  it('fixed grids', () => {
    expect(fixedGrid(8, 224, 14)).toEqual({ frames: 8, resolution: 224, tokens: 2048 });
    expect(new FixedSampler(4, 64, 8).draw()).toEqual({ frames: 4, resolution: 64, tokens: 256 });
    expect(() => fixedGrid(8, 225, 14)).toThrow(/resolution \(225\) must be a positive multiple of the patch size \(14\)/);
    expect(() => fixedGrid(0, 224, 14)).toThrow(/frames must be an integer ≥ 1, got 0/);
  });
});
