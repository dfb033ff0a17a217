/** Finite-difference gradient checks of a tiny random LlamaModel (float32), through a prefix input too; run per backend. */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import { perturb, tinyLlama } from './helpers.js';

/** [parameter, flat index into the live (tfjs-layout) variable]. */
type Probe = [string, number];

const D = 16;

export function gradientTests(): void {
  it('analytic gradients match central finite differences for weights and for the prefix embeddings', () => {
    const m = tinyLlama({ architecture: 'qwen2', tieWordEmbeddings: false });
    perturb(m, 0.3, 11);
    const prefix = tf.variable(tf.randomNormal([2, 2, D], 0, 1, 'float32', 12) as tf.Tensor3D, true, 'grad-prefix');
    const ids = tf.tensor2d([[3, 17, 9, 30], [22, 5, 5, 1]], [2, 4], 'int32');
    const w = tf.randomNormal([2, 6, 40], 0, 1, 'float32', 13);
    const lossFn = () => tf.tidy(() => tf.sum(tf.mul(m.forward(tf.concat([prefix, m.embed(ids)], 1) as tf.Tensor3D).logits, w)) as tf.Scalar);
    const probes: Probe[] = [
      ['model.embed_tokens.weight', 17 * D + 3], // token 17, once
      ['model.layers.0.input_layernorm.weight', 5],
      ['model.layers.0.self_attn.q_proj.weight', 3 * D + 2], // layout [in, out]
      ['model.layers.0.self_attn.q_proj.bias', 7],
      ['model.layers.1.self_attn.k_proj.weight', 4 * 8 + 6],
      ['model.layers.0.self_attn.v_proj.weight', 9 * 8 + 1],
      ['model.layers.1.self_attn.v_proj.bias', 4],
      ['model.layers.1.self_attn.o_proj.weight', 11 * D + 12],
      ['model.layers.1.post_attention_layernorm.weight', 9],
      ['model.layers.0.mlp.gate_proj.weight', 2 * 24 + 20],
      ['model.layers.1.mlp.up_proj.weight', 7 * 24 + 3],
      ['model.layers.0.mlp.down_proj.weight', 13 * D + 8],
      ['model.norm.weight', 10],
      ['lm_head.weight', 6 * 40 + 33],
      ['grad-prefix', 0 * 2 * D + 1 * D + 4], // row 0, position 1
      ['grad-prefix', 1 * 2 * D + 0 * D + 11], // row 1, position 0
    ];
    const varOf = (n: string) => (n === 'grad-prefix' ? prefix : m.params.get(n)!);
    const names = [...new Set(probes.map(([p]) => p))];
    const vars = names.map(varOf);
    const { grads } = tf.variableGrads(lossFn, vars);
    const gradOf = new Map(names.map((n, i) => [n, grads[vars[i]!.name]!.dataSync() as Float32Array]));
    const h = 1e-2;
    const rows: string[] = [];
    for (const [name, i] of probes) {
      const v = varOf(name);
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
      const numeric = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
      v.assign(tf.tensor(base, v.shape));
      const analytic = gradOf.get(name)![i]!;
      rows.push(`${name}[${i}] analytic ${analytic.toExponential(4)} numeric ${numeric.toExponential(4)}`);
      expect(Math.abs(analytic - numeric), rows.at(-1)).toBeLessThan(5e-3 + 2e-2 * Math.abs(analytic));
    }
    console.log(rows.join('\n'));
    expect(probes.filter(([p, i]) => Math.abs(gradOf.get(p)![i]!) > 1e-3).length).toBeGreaterThan(probes.length - 2);
    tf.dispose([ids, w, prefix, ...Object.values(grads)]);
    m.dispose();
  });
}
