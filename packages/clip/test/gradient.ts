/** Shared body of the finite-difference gradient checks of the text tower (float32), run per backend. */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import type { TextActivation } from '../src/index.js';
import { perturb, tinyText } from './helpers.js';

/** [parameter, flat index into the live (tfjs-layout) variable]. */
type Probe = [string, number];

const W = 16; // tinyText width
const M = 4 * W;

function gradientCheck(activation: TextActivation, probes: Probe[]): void {
  const m = tinyText({ activation });
  perturb(m, 0.3, 3);
  // EOT rows at the end, in the middle and at 0: the causal mask decides which positions carry gradient.
  const ids = tf.tensor2d([[1, 5, 9, 13, 7, 22, 30, 2, 0, 0], [1, 17, 4, 2, 0, 0, 0, 0, 0, 0], [1, 33, 8, 19, 25, 11, 6, 39, 14, 2]], [3, 10], 'int32');
  const eot = Int32Array.from([7, 3, 9]);
  const w = tf.randomNormal([3, 12], 0, 1, 'float32', 99);
  const lossFn = () => tf.tidy(() => tf.sum(tf.mul(m.encode(ids, eot), w)) as tf.Scalar);
  const names = [...new Set(probes.map(([p]) => p))];
  const vars = names.map((n) => m.params.get(n)!);
  const { grads } = tf.variableGrads(lossFn, vars);
  const gradOf = new Map(names.map((n, i) => [n, grads[vars[i]!.name]!.dataSync() as Float32Array]));
  const h = 1e-2;
  const rows: string[] = [];
  for (const [name, i] of probes) {
    const v = m.params.get(name)!;
    const base = v.dataSync().slice() as Float32Array;
    expect(i, `${name}[${i}] out of range`).toBeLessThan(base.length);
    const at = (delta: number) => {
      const x = base.slice();
      x[i] += delta;
      v.assign(tf.tensor(x, v.shape));
      const l = lossFn();
      const out = l.dataSync()[0]!;
      l.dispose();
      return out;
    };
    // 4th-order central difference (less truncation error at a float32-friendly step)
    const numeric = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
    v.assign(tf.tensor(base, v.shape));
    const analytic = gradOf.get(name)![i]!;
    rows.push(`${name}[${i}] analytic ${analytic.toExponential(4)} numeric ${numeric.toExponential(4)}`);
    expect(Math.abs(analytic - numeric), rows.at(-1)).toBeLessThan(2e-3 + 2e-2 * Math.abs(analytic));
  }
  console.log(rows.join('\n'));
  // Not everything is trivially zero.
  expect(probes.filter(([p, i]) => Math.abs(gradOf.get(p)![i]!) > 1e-3).length).toBeGreaterThan(probes.length - 2);
  tf.dispose([ids, w, ...Object.values(grads)]);
  m.dispose();
}

export function gradientTests(): void {
  it('analytic gradients match central finite differences across the text tower (QuickGELU)', () => {
    gradientCheck('quick_gelu', [
      ['token_embedding.weight', 13 * W + 3], // token 13, used once (row 0)
      ['token_embedding.weight', 1 * W + 7], // sot, in every row
      ['positional_embedding', 2 * W + 5],
      ['transformer.resblocks.0.ln_1.weight', 4],
      ['transformer.resblocks.0.ln_1.bias', 9],
      ['transformer.resblocks.0.attn.in_proj_weight', 3 * (3 * W) + 2], // a q column (layout [W, 3W])
      ['transformer.resblocks.0.attn.in_proj_weight', 5 * (3 * W) + W + 6], // a k column
      ['transformer.resblocks.1.attn.in_proj_weight', 7 * (3 * W) + 2 * W + 1], // a v column
      ['transformer.resblocks.1.attn.in_proj_bias', 3], // q bias (k bias has no gradient: softmax ignores it)
      ['transformer.resblocks.1.attn.in_proj_bias', 2 * W + 10], // v bias
      ['transformer.resblocks.0.attn.out_proj.weight', 37],
      ['transformer.resblocks.0.attn.out_proj.bias', 11],
      ['transformer.resblocks.1.ln_2.weight', 2],
      ['transformer.resblocks.1.mlp.c_fc.weight', 5 * M + 40],
      ['transformer.resblocks.1.mlp.c_fc.bias', 17],
      ['transformer.resblocks.0.mlp.c_proj.weight', 20 * W + 8],
      ['transformer.resblocks.0.mlp.c_proj.bias', 14],
      ['ln_final.weight', 6],
      ['ln_final.bias', 12],
      ['text_projection', 5 * 12 + 7],
      ['text_projection', 15 * 12],
    ]);
  });

  it('with exact GELU too', () => {
    gradientCheck('gelu', [
      ['token_embedding.weight', 33 * W + 1],
      ['transformer.resblocks.0.attn.in_proj_weight', 2 * (3 * W) + W + 3],
      ['transformer.resblocks.0.mlp.c_fc.weight', 3 * M + 9],
      ['transformer.resblocks.0.mlp.c_fc.bias', 30],
      ['transformer.resblocks.1.mlp.c_proj.weight', 50 * W + 2],
      ['text_projection', 9 * 12 + 4],
    ]);
  });
}
