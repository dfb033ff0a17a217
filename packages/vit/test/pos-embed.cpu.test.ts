import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { cubicResizeMatrix, linearResizeMatrix, resizePosEmbed, sincos3d } from '../src/index.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));

describe('pos-embed', () => {
  it('3D sin-cos: CLS row zero, t in the first C/4 channels, then w, then h', () => {
    const c = 16;
    const t = sincos3d(c, 3, 2, true);
    expect(t.length).toBe((1 + 2 * 9) * c);
    expect(Array.from(t.slice(0, c)).every((v) => v === 0)).toBe(true);
    const row = (tt: number, h: number, w: number) => t.slice((1 + tt * 9 + h * 3 + w) * c, (2 + tt * 9 + h * 3 + w) * c);
    // position 0 → sin 0 = 0, cos 0 = 1
    expect(Array.from(row(0, 0, 0))).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
    expect(row(1, 0, 0)[0]).toBeCloseTo(Math.sin(1), 6); // temporal channel 0
    expect(row(0, 0, 2)[4]).toBeCloseTo(Math.sin(2), 6); // w channel 0
    expect(row(0, 2, 0)[10]).toBeCloseTo(Math.sin(2), 6); // h channel 0
  });

  it('resize matrices: identity at equal size, rows sum to 1 (so gpe_proj commutes with the resize)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), (a, b) => {
        for (const m of [linearResizeMatrix(a, b), cubicResizeMatrix(a, b)]) {
          for (let o = 0; o < b; o++) {
            let s = 0;
            for (let i = 0; i < a; i++) s += m[o * a + i]!;
            expect(s).toBeCloseTo(1, 5);
          }
        }
        if (a === b) {
          const id = cubicResizeMatrix(a, a);
          for (let o = 0; o < a; o++) for (let i = 0; i < a; i++) expect(id[o * a + i]).toBeCloseTo(o === i ? 1 : 0, 6);
        }
      }),
    );
  });

  it('matches PyTorch F.interpolate (align_corners=False) on known vectors', () => {
    // Values printed by torch 1.13: F.interpolate(x, size=..., mode='bicubic' | 'linear', align_corners=False)
    const apply = (m: Float32Array, x: number[], out: number) => Array.from({ length: out }, (_, o) => x.reduce((s, v, i) => s + v * m[o * x.length + i]!, 0));
    const close = (a: number[], b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
    close(apply(cubicResizeMatrix(4, 3), [0, 1, 2, 3], 3), [0.12615734338760376, 1.5000001192092896, 2.87384295463562]);
    close(apply(cubicResizeMatrix(4, 7), [0, 1, 4, 9], 7), [
      -0.09921646118164062, 0.15624868869781494, 0.8042082190513611, 2.125000476837158, 4.424652576446533, 7.480775356292725, 9.496082305908203,
    ]);
    close(apply(linearResizeMatrix(4, 7), [0, 1, 4, 9], 7), [0.0, 0.3571428954601288, 0.9285714626312256, 2.500000476837158, 4.357143402099609, 7.214286804199219, 9.0]);
  });

  it('resizePosEmbed returns [T·H·W, C] and is the identity at the stored grid', () => {
    const pos = tf.randomNormal([2 * 3 * 3, 4]) as tf.Tensor2D;
    const same = resizePosEmbed(pos, { t: 2, h: 3, w: 3 }, { t: 2, h: 3, w: 3 });
    expect(Array.from(same.dataSync())).toEqual(Array.from(pos.dataSync()));
    const r = resizePosEmbed(pos, { t: 2, h: 3, w: 3 }, { t: 5, h: 4, w: 2 });
    expect(r.shape).toEqual([5 * 4 * 2, 4]);
  });
});
