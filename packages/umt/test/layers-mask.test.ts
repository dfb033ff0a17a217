import { Rng } from '@flux/core';
import { describe, expect, it } from 'vitest';

import { studentLayers, studentMask, teacherLayers } from '../src/index.js';

describe('aligned layers', () => {
  it('reproduces the official choices: UMT CLIP-B and InternVideo2-1B distillation', () => {
    expect(teacherLayers(12, 6)).toEqual([11, 10, 9, 8, 7, 6]);
    expect(teacherLayers(40, 6)).toEqual([39, 36, 33, 29, 26, 23]);
    expect(studentLayers(12, 6)).toEqual([11, 10, 9, 8, 7, 6]);
    expect(teacherLayers(24, 6, 2)).toEqual([23, 21, 19, 17, 15, 13]);
  });
  it('shallow models align as many layers as they have; bad intervals are refused', () => {
    expect(studentLayers(4, 6)).toEqual([3, 2, 1, 0]);
    expect(teacherLayers(3, 6)).toEqual([2, 1, 0]);
    expect(() => teacherLayers(6, 6, 0.5)).toThrow(/picks a block twice/);
    expect(() => teacherLayers(6, 4, 3)).toThrow(/runs past the first block/);
    expect(() => teacherLayers(0, 6)).toThrow(RangeError);
  });
});

describe('student mask', () => {
  const F = 4;
  const L = 8;
  const all = (b: number) => Int32Array.from({ length: b * F * L }, (_, i) => i % (F * L));

  it('keeps s − ⌊ρs⌋ per frame of the teacher tokens, sorted, a subset of them', () => {
    const att = new Float32Array(2 * F * L).fill(1);
    const m = studentMask(all(2), F * L, att, { ratio: 0.8, frames: F, patchesPerFrame: L, segments: 'frame', rng: new Rng(1) });
    expect(m.keep).toBe(F * (L - Math.floor(0.8 * L))); // 4 × 2
    for (let r = 0; r < 2; r++) {
      const idx = [...m.indices.slice(r * m.keep, (r + 1) * m.keep)];
      const perFrame = new Array(F).fill(0);
      for (const i of idx) perFrame[Math.floor(i / L)]++;
      expect(perFrame).toEqual([2, 2, 2, 2]);
      const pos = [...m.positions.slice(r * m.keep, (r + 1) * m.keep)];
      expect(pos).toEqual([...pos].sort((a, b) => a - b));
    }
  });

  it('samples ∝ attention: zero-attention tokens are never drawn while positive ones remain, heavy ones always', () => {
    const att = new Float32Array(F * L);
    for (let t = 0; t < F; t++) {
      att[t * L + 0] = 1000; // heavy
      for (let i = 1; i < 4; i++) att[t * L + i] = 1; // light
      // 4..7: zero
    }
    for (let seed = 1; seed <= 20; seed++) {
      const m = studentMask(all(1), F * L, att, { ratio: 0.75, frames: F, patchesPerFrame: L, segments: 'frame', rng: new Rng(seed) });
      for (const i of m.indices) expect(i % L).toBeLessThan(4);
      for (let t = 0; t < F; t++) expect([...m.indices]).toContain(t * L);
    }
    // Frequencies follow the weights: with weights 3:1 on two tokens of a frame keeping one, ≈ 75 % / 25 %.
    const w = new Float32Array([3, 1]);
    let first = 0;
    const rng = new Rng(5);
    for (let i = 0; i < 4000; i++) if (studentMask(Int32Array.from([0, 1]), 2, w, { ratio: 0.5, frames: 1, patchesPerFrame: 2, segments: 'frame', rng }).indices[0] === 0) first++;
    expect(first / 4000).toBeGreaterThan(0.72);
    expect(first / 4000).toBeLessThan(0.78);
  });

  it('group segments of a selection: every clip keeps the same count; frame segments of a selection are refused', () => {
    // Teacher saw 4 tokens per group of 2 frames (16 frames? no: F = 4, groups of 1 frame each with 'auto' = 4 groups).
    const kt = 8;
    const rows = [
      [0, 1, 9, 10, 17, 18, 30, 31],
      [2, 5, 8, 9, 16, 17, 24, 25],
    ];
    const idx = Int32Array.from(rows.flat());
    const att = new Float32Array(2 * F * L).fill(1);
    const m = studentMask(idx, kt, att, { ratio: 0.5, frames: F, patchesPerFrame: L, segments: 'group', rng: new Rng(2) });
    expect(m.keep).toBe(4);
    for (let r = 0; r < 2; r++) for (const i of m.indices.slice(r * 4, r * 4 + 4)) expect(rows[r]).toContain(i);
    const uneven = Int32Array.from([0, 1, 2, 9, 17, 18, 30, 31, 2, 5, 8, 9, 16, 17, 24, 25]);
    expect(() => studentMask(uneven, kt, att, { ratio: 0.5, frames: F, patchesPerFrame: L, segments: 'frame', rng: new Rng(2) })).toThrow(/clip 1 has frame sizes[\s\S]*use segments 'group'/);
  });

  it('is a pure function of the generator; bad input is refused', () => {
    const att = Float32Array.from({ length: F * L }, (_, i) => 1 + (i % 5));
    const a = studentMask(all(1), F * L, att, { ratio: 0.5, frames: F, patchesPerFrame: L, segments: 'frame', rng: new Rng(9) });
    const b = studentMask(all(1), F * L, att, { ratio: 0.5, frames: F, patchesPerFrame: L, segments: 'frame', rng: new Rng(9) });
    expect([...a.indices]).toEqual([...b.indices]);
    expect(() => studentMask(all(1), F * L, att, { ratio: 1, frames: F, patchesPerFrame: L, segments: 'frame', rng: new Rng(1) })).toThrow(/ratio/);
    expect(() => studentMask(Int32Array.from([0, 99]), 2, att, { ratio: 0.5, frames: F, patchesPerFrame: L, segments: 'clip', rng: new Rng(1) })).toThrow(/out of range/);
    const nan = att.slice();
    nan[3] = NaN;
    expect(() => studentMask(all(1), F * L, nan, { ratio: 0.5, frames: F, patchesPerFrame: L, segments: 'frame', rng: new Rng(1) })).toThrow(/finite/);
  });
});
