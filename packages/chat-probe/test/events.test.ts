import { describe, expect, it } from 'vitest';

import { captionEvents, eventScore, meanEventScore } from '../src/index.js';

describe('caption events', () => {
  it('reads digit, direction and speed facts from the embedded captions', () => {
    expect([...captionEvents('the digit 7 moves left quickly')].sort()).toEqual(['7:fast', '7:left', 'digit:7', 'direction:left', 'speed:fast'].sort());
    const e = captionEvents('the digit 3 moves up and to the left slowly');
    expect(e.has('3:up-left')).toBe(true);
    expect(e.has('direction:up')).toBe(false);
    const b = captionEvents('the digit 2 moves right quickly, bounces off the right edge and moves left');
    expect(b.has('2:right')).toBe(true);
    expect(b.has('direction:left')).toBe(true);
    expect(captionEvents('once upon a time there was a cat').size).toBe(0);
  });
  it('scores precision, recall and F1', () => {
    const s = eventScore(captionEvents('the digit 7 moves left slowly'), captionEvents('the digit 7 moves left quickly'));
    expect(s.precision).toBeCloseTo(3 / 5);
    expect(s.recall).toBeCloseTo(3 / 5);
    expect(s.f1).toBeCloseTo(3 / 5);
    expect(eventScore(new Set(), new Set(['a'])).f1).toBe(0);
    const m = meanEventScore([
      { pred: 'the digit 1 moves up quickly', ref: 'the digit 1 moves up quickly' },
      { pred: 'nothing', ref: 'the digit 1 moves up quickly' },
    ]);
    expect(m.f1).toBeCloseTo(0.5);
  });
});
