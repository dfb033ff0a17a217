import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  bfloat16BitsToFloat32,
  decodeBFloat16,
  decodeFloat16,
  encodeBFloat16,
  encodeFloat16,
  float16BitsToFloat32,
  float32ToBFloat16Bits,
  float32ToFloat16Bits,
  makeRecord,
  recordToFloat32,
  recordToInt32,
  shapeSize,
} from '../src/io/index.js';

/** True when bit pattern `h` (value `toF(h)`) is a nearest 16-bit value to `x`, ties to an even pattern. */
function isNearest(x: number, h: number, toF: (b: number) => number, maxMag: number): boolean {
  const v = toF(h);
  const mag = h & 0x7fff;
  const sign = h & 0x8000;
  for (const m of [mag - 1, mag + 1]) {
    if (m < 0 || m > maxMag) continue;
    const n = toF(sign | m);
    if (Math.abs(x - n) < Math.abs(x - v)) return false;
    if (Math.abs(x - n) === Math.abs(x - v) && (mag & 1) === 1) return false;
  }
  return true;
}

describe('float16', () => {
  it('decodes then re-encodes all 65536 bit patterns exactly (NaN stays NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const f = float16BitsToFloat32(h);
      if (Number.isNaN(f)) {
        expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(f)))).toBe(true);
        continue;
      }
      expect(float32ToFloat16Bits(f)).toBe(h);
    }
  });

  it('knows its landmarks', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // rounds to +Inf
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000); // tie → even (0)
    expect(float32ToFloat16Bits(2 ** -25 * 1.5)).toBe(0x0001);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float16BitsToFloat32(0x7c00)).toBe(Infinity);
  });

  it('rounds every float32 to the nearest float16 (ties to even)', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, min: -70000, max: 70000 }), (x) => {
        const h = float32ToFloat16Bits(x);
        if (!Number.isFinite(float16BitsToFloat32(h))) return Math.abs(x) >= 65520;
        return isNearest(x, h, float16BitsToFloat32, 0x7bff);
      }),
      { numRuns: 3000 },
    );
  });

  it('encodes and decodes arrays', () => {
    const xs = [0, 1, -1.5, 0.1, 1000];
    expect(Array.from(decodeFloat16(encodeFloat16(xs)))).toEqual(xs.map((x) => float16BitsToFloat32(float32ToFloat16Bits(x))));
  });
});

describe('bfloat16', () => {
  it('is exact on its own values and rounds to nearest-even', () => {
    for (let h = 0; h < 65536; h += 7) {
      const f = bfloat16BitsToFloat32(h);
      if (!Number.isNaN(f)) expect(float32ToBFloat16Bits(f)).toBe(h);
    }
    expect(float32ToBFloat16Bits(1)).toBe(0x3f80);
    // 1 + 2^-8 is exactly between 1 (0x3f80) and 1 + 2^-7 (0x3f81): tie → even.
    expect(float32ToBFloat16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(float32ToBFloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(bfloat16BitsToFloat32(float32ToBFloat16Bits(NaN)))).toBe(true);
    expect(bfloat16BitsToFloat32(float32ToBFloat16Bits(3.4e38))).toBe(Infinity);
  });

  it('rounds every float32 to the nearest bfloat16', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e30), max: Math.fround(1e30) }), (x) =>
        isNearest(x, float32ToBFloat16Bits(x), bfloat16BitsToFloat32, 0x7f7f),
      ),
      { numRuns: 3000 },
    );
    expect(Array.from(decodeBFloat16(encodeBFloat16([1, 2, -3])))).toEqual([1, 2, -3]);
  });
});

describe('records', () => {
  it('builds checked records from typed or plain arrays', () => {
    expect(shapeSize([])).toBe(1);
    expect(shapeSize([2, 0, 3])).toBe(0);
    const f16 = makeRecord('float16', [2], [1, -2]);
    expect(Array.from(f16.data as Uint16Array)).toEqual([0x3c00, 0xc000]);
    expect(Array.from(recordToFloat32(f16))).toEqual([1, -2]);
    const i64 = makeRecord('int64', [3], [1, -5, 2 ** 40]);
    expect(i64.data).toBeInstanceOf(BigInt64Array);
    expect(makeRecord('float32', [2, 2]).data).toEqual(new Float32Array(4));
    expect(() => makeRecord('float32', [3], new Float32Array(2))).toThrow(/2 elements for shape \[3\]/);
    expect(() => makeRecord('float32', [-1])).toThrow(/invalid shape/);
    expect(() => makeRecord('complex64' as never, [1])).toThrow(/unknown dtype/);
  });

  it('converts int64 to int32 with a range check naming the tensor', () => {
    expect(Array.from(recordToInt32(makeRecord('int64', [2], [-(2 ** 31), 2 ** 31 - 1])))).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    expect(() => recordToInt32(makeRecord('int64', [2], [0, 2 ** 31]), 'pos_ids')).toThrow(/'pos_ids'.*2147483648 at index 1/);
  });
});
