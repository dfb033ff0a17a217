/** Shared body of the ClipTextTransformer tests (run per backend): shapes, EOT pooling, the causal mask, state dicts, leaks. */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import { ClipTextTransformer, ClipTokenizer, TextEncoderError, TextStateDictMismatchError, type TextEncoder } from '../src/index.js';
import { maxAbsDiff, perturb, tinyText } from './helpers.js';

/** Deterministic ids in 4…vocab−1 with sot first. */
function randomIds(b: number, t: number, vocab: number, seed: number): number[][] {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648), s);
  return Array.from({ length: b }, () => Array.from({ length: t }, (_, j) => (j === 0 ? 1 : 4 + (next() % (vocab - 4)))));
}

export function textEncoderTests(): void {
  it('encodes any batch size (1 included) and any EOT positions to [B, embedDim]', () => {
    const m = tinyText();
    const enc: TextEncoder = m; // the interface a bigger encoder plugs into
    expect([enc.embedDim, enc.contextLength]).toEqual([12, 10]);
    for (const [b, t] of [[1, 10], [3, 10], [2, 4], [5, 1]] as const) {
      const ids = tf.tensor2d(randomIds(b, t, 40, b * 7 + t), [b, t], 'int32');
      const eot = Int32Array.from({ length: b }, (_, i) => (i * 3) % t);
      const y = enc.encode(ids, eot);
      expect(y.shape).toEqual([b, 12]);
      expect(y.dtype).toBe('float32');
      expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
      const viaTensor = enc.encode(ids, tf.tensor1d(eot, 'int32'));
      expect(maxAbsDiff(y, viaTensor)).toBe(0);
      tf.dispose([ids, y, viaTensor]);
    }
    m.dispose();
  });

  it('rows are independent: a row encodes the same alone and in a batch; EOT pooling picks the row and position', () => {
    const m = tinyText();
    perturb(m);
    const rows = randomIds(3, 8, 40, 5);
    const eot = Int32Array.from([7, 2, 5]);
    const all = m.encode(tf.tensor2d(rows, [3, 8], 'int32'), eot);
    const h = m.hidden(tf.tensor2d(rows, [3, 8], 'int32'));
    expect(h.shape).toEqual([3, 8, 16]);
    for (let i = 0; i < 3; i++) {
      const one = m.encode(tf.tensor2d([rows[i]!], [1, 8], 'int32'), Int32Array.from([eot[i]!]));
      expect(maxAbsDiff(tf.slice(all, [i, 0], [1, 12]), one)).toBeLessThan(1e-5);
    }
    // a different EOT position gives a different embedding
    const moved = m.encode(tf.tensor2d(rows, [3, 8], 'int32'), Int32Array.from([6, 2, 5]));
    expect(maxAbsDiff(tf.slice(all, [0, 0], [1, 12]), tf.slice(moved, [0, 0], [1, 12]))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(tf.slice(all, [1, 0], [2, 12]), tf.slice(moved, [1, 0], [2, 12]))).toBeLessThan(1e-6);
    m.dispose();
  });

  it('is causal: changing tokens after position t changes nothing at t (pooled at an earlier EOT)', () => {
    const m = tinyText({ activation: 'gelu' });
    perturb(m);
    const a = randomIds(1, 10, 40, 11)[0]!;
    for (const t of [0, 3, 8]) {
      const b = a.slice();
      for (let j = t + 1; j < 10; j++) b[j] = 4 + ((a[j]! + 7) % 36); // every later token differs
      const ids = tf.tensor2d([a, b], [2, 10], 'int32');
      const early = m.encode(ids, Int32Array.from([t, t]));
      expect(maxAbsDiff(tf.slice(early, [0, 0], [1, 12]), tf.slice(early, [1, 0], [1, 12])), `EOT at ${t}`).toBeLessThan(1e-5);
      // the hidden states agree at every position ≤ t and differ right after it
      const h = m.hidden(ids);
      expect(maxAbsDiff(tf.slice(h, [0, 0, 0], [1, t + 1, 16]), tf.slice(h, [1, 0, 0], [1, t + 1, 16]))).toBeLessThan(1e-5);
      expect(maxAbsDiff(tf.slice(h, [0, t + 1, 0], [1, 1, 16]), tf.slice(h, [1, t + 1, 0], [1, 1, 16]))).toBeGreaterThan(1e-3);
      // pooled at a later position the change shows (so the check above can fail)
      const late = m.encode(ids, Int32Array.from([9, 9]));
      expect(maxAbsDiff(tf.slice(late, [0, 0], [1, 12]), tf.slice(late, [1, 0], [1, 12]))).toBeGreaterThan(1e-3);
    }
    m.dispose();
  });

  it('works end to end with the tokenizer; normalize gives unit rows; the activation matters', () => {
    const tok = ClipTokenizer.fromCorpus(['a man is cooking', 'a dog runs in the park', 'two people dance']);
    const m = tinyText({ vocabSize: tok.vocabSize, activation: 'quick_gelu' });
    perturb(m);
    const { ids, eotIndex, shape } = tok.encodeBatch(['a dog is cooking', 'two people dance in the park'], 10);
    const x = tf.tensor2d(ids, shape, 'int32');
    const y = m.encode(x, eotIndex, { normalize: true });
    const norms = tf.norm(y, 'euclidean', -1).dataSync();
    for (const n of norms) expect(n).toBeCloseTo(1, 5);
    const g = tinyText({ vocabSize: tok.vocabSize, activation: 'gelu' });
    g.loadStateDict(m.stateDict());
    expect(maxAbsDiff(g.encode(x, eotIndex), m.encode(x, eotIndex))).toBeGreaterThan(1e-4);
    m.dispose();
    g.dispose();
  });

  it('throws typed errors on bad input and bad config', () => {
    const m = tinyText();
    const ok = tf.tensor2d([[1, 5, 2, 0]], [1, 4], 'int32');
    const bad = (f: () => unknown, re: RegExp) => {
      expect(f).toThrow(TextEncoderError);
      expect(f).toThrow(re);
    };
    bad(() => m.encode(tf.tensor2d([[1, 5]], [1, 2], 'float32'), Int32Array.from([1])), /ids must be int32 \[B, T\], got float32/);
    bad(() => m.encode(tf.tensor1d([1, 5], 'int32') as unknown as tf.Tensor2D, Int32Array.from([1])), /ids must be int32 \[B, T\]/);
    bad(() => m.encode(tf.zeros([1, 11], 'int32') as tf.Tensor2D, Int32Array.from([1])), /sequence length 11 is outside 1…10/);
    bad(() => m.encode(tf.zeros([0, 4], 'int32') as tf.Tensor2D, Int32Array.from([])), /empty batch/);
    bad(() => m.encode(tf.tensor2d([[1, 40, 2]], [1, 3], 'int32'), Int32Array.from([2])), /token id 40 at \[0, 1\] is outside the vocabulary 0…39/);
    bad(() => m.encode(tf.tensor2d([[1, -1, 2]], [1, 3], 'int32'), Int32Array.from([2])), /token id -1/);
    bad(() => m.encode(ok, Int32Array.from([4])), /eotIndex\[0\] = 4 is outside 0…3/);
    bad(() => m.encode(ok, Int32Array.from([1, 2])), /eotIndex has 2 entries for a batch of 1/);
    bad(() => m.encode(ok, [2] as unknown as Int32Array), /eotIndex must be an Int32Array or a tf.Tensor1D/);
    bad(() => m.encode(ok, tf.tensor1d([1.5], 'float32')), /eotIndex\[0\] = 1.5 is not an integer/);
    bad(() => new ClipTextTransformer({ vocabSize: 10, width: 30, heads: 4 }), /width 30 is not divisible by heads 4/);
    bad(() => new ClipTextTransformer({ vocabSize: 0, layers: 1.5 }), /vocabSize must be a positive integer, got 0; layers must be a positive integer, got 1.5/);
    bad(() => new ClipTextTransformer({ vocabSize: 10, activation: 'relu' as never }), /activation must be 'gelu' or 'quick_gelu', got "relu"/);
    bad(() => new ClipTextTransformer({ vocabSize: 10, widht: 8 } as never), /unknown config key 'widht'/);
    m.dispose();
    bad(() => m.encode(ok, Int32Array.from([2])), /used after dispose/);
  });

  it('stateDict uses OpenCLIP names and PyTorch layouts, round-trips, and a failed strict load assigns nothing', () => {
    const m = tinyText({ mlpWidth: 24 });
    perturb(m);
    const sd = m.stateDict();
    const W = 16;
    expect(sd.get('token_embedding.weight')!.shape).toEqual([40, W]);
    expect(sd.get('positional_embedding')!.shape).toEqual([10, W]);
    expect(sd.get('transformer.resblocks.1.attn.in_proj_weight')!.shape).toEqual([3 * W, W]);
    expect(sd.get('transformer.resblocks.1.attn.in_proj_bias')!.shape).toEqual([3 * W]);
    expect(sd.get('transformer.resblocks.0.attn.out_proj.weight')!.shape).toEqual([W, W]);
    expect(sd.get('transformer.resblocks.0.mlp.c_fc.weight')!.shape).toEqual([24, W]);
    expect(sd.get('transformer.resblocks.0.mlp.c_proj.weight')!.shape).toEqual([W, 24]);
    expect(sd.get('text_projection')!.shape).toEqual([W, 12]); // x @ text_projection, not a Linear [out, in]
    expect(sd.size).toBe(2 + 2 * 12 + 3);
    // PyTorch [out, in] is the transpose of the live [in, out] variable
    const live = m.params.get('transformer.resblocks.0.mlp.c_fc.weight')!;
    expect(live.shape).toEqual([W, 24]);
    expect(sd.get('transformer.resblocks.0.mlp.c_fc.weight')!.data[1 * W + 3]).toBe(live.dataSync()[3 * 24 + 1]);
    const other = tinyText({ mlpWidth: 24, seed: 99 });
    const ids = tf.tensor2d(randomIds(2, 10, 40, 3), [2, 10], 'int32');
    const eot = Int32Array.from([9, 4]);
    expect(maxAbsDiff(other.encode(ids, eot), m.encode(ids, eot))).toBeGreaterThan(1e-3);
    const prefixed = new Map([...sd].map(([k, v]) => [`module.${k}`, v]));
    other.loadStateDict(prefixed);
    expect(maxAbsDiff(other.encode(ids, eot), m.encode(ids, eot))).toBe(0);
    const before = other.stateDict();
    const broken = new Map(sd);
    broken.delete('ln_final.bias');
    broken.set('transformer.resblocks.0.ln_2.weight', { dtype: 'float32', shape: [W + 1], data: new Float32Array(W + 1) });
    broken.set('transformer.resblocks.0.attn.bogus', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
    broken.set('token_embedding.weight', { dtype: 'float32', shape: [40, W], data: new Float32Array(40 * W) }); // valid, but must not be assigned
    let err: unknown;
    try {
      other.loadStateDict(broken, 'broken.safetensors');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TextStateDictMismatchError);
    const e = err as TextStateDictMismatchError;
    expect(e.file).toBe('broken.safetensors');
    expect(e.missing).toEqual(['ln_final.bias']);
    expect(e.unexpected).toEqual(['transformer.resblocks.0.attn.bogus']);
    expect(e.mismatched).toEqual([{ name: 'transformer.resblocks.0.ln_2.weight', expected: [W], got: [W + 1] }]);
    expect(e.message).toMatch(/^broken\.safetensors: .*missing \(1\): ln_final\.bias; unexpected \(1\): transformer\.resblocks\.0\.attn\.bogus; shape mismatch \(1\): transformer\.resblocks\.0\.ln_2\.weight expected \[16\] got \[17\]/);
    const after = other.stateDict();
    for (const [k, r] of before) expect(Array.from(after.get(k)!.data as Float32Array), k).toEqual(Array.from(r.data as Float32Array));
    m.dispose();
    other.dispose();
  });

  it('initialises like OpenCLIP (std 0.02 token, 0.01 positional, width^-0.5 projection; unit LayerNorms), deterministically per seed', () => {
    const m = new ClipTextTransformer({ vocabSize: 500, contextLength: 32, width: 64, layers: 2, heads: 4, embedDim: 64, seed: 'a' });
    const std = (name: string) => {
      const d = m.params.get(name)!.dataSync();
      let s = 0;
      for (const v of d) s += v * v;
      return Math.sqrt(s / d.length);
    };
    expect(std('token_embedding.weight')).toBeCloseTo(0.02, 3);
    expect(std('positional_embedding')).toBeCloseTo(0.01, 3);
    expect(std('text_projection') / 64 ** -0.5).toBeCloseTo(1, 1);
    expect(std('transformer.resblocks.0.attn.in_proj_weight') / 64 ** -0.5).toBeCloseTo(1, 1);
    expect(std('transformer.resblocks.1.attn.out_proj.weight') / (64 ** -0.5 * 4 ** -0.5)).toBeCloseTo(1, 1);
    expect(std('transformer.resblocks.1.mlp.c_fc.weight') / 128 ** -0.5).toBeCloseTo(1, 1);
    expect(Array.from(m.params.get('ln_final.weight')!.dataSync()).every((v) => v === 1)).toBe(true);
    expect(Array.from(m.params.get('transformer.resblocks.0.attn.in_proj_bias')!.dataSync()).every((v) => v === 0)).toBe(true);
    const same = new ClipTextTransformer({ vocabSize: 500, contextLength: 32, width: 64, layers: 2, heads: 4, embedDim: 64, seed: 'a' });
    const diff = new ClipTextTransformer({ vocabSize: 500, contextLength: 32, width: 64, layers: 2, heads: 4, embedDim: 64, seed: 'b' });
    expect(maxAbsDiff(same.params.get('text_projection')!, m.params.get('text_projection')!)).toBe(0);
    expect(maxAbsDiff(diff.params.get('text_projection')!, m.params.get('text_projection')!)).toBeGreaterThan(0);
    for (const x of [m, same, diff]) x.dispose();
  });

  it('leaks no tensors: numTensors unchanged over 10 train steps (variableGrads + SGD update), and the loss falls', () => {
    const m = tinyText();
    const ids = tf.tensor2d(randomIds(4, 10, 40, 21), [4, 10], 'int32');
    const eot = Int32Array.from([9, 3, 6, 1]);
    const target = tf.randomNormal([4, 12], 0, 1, 'float32', 5);
    const vars = m.trainableVariables();
    expect(vars.length).toBe(m.params.size);
    const step = (): number => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(m.encode(ids, eot), target))) as tf.Scalar, vars);
      for (const v of vars) tf.tidy(() => v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.5))));
      const loss = value.dataSync()[0]!;
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    };
    const first = step(); // warm-up (kernel setup)
    const baseline = tf.memory().numTensors;
    const counts: number[] = [];
    let last = first;
    for (let i = 0; i < 10; i++) {
      last = step();
      counts.push(tf.memory().numTensors);
    }
    expect(counts).toEqual(new Array(10).fill(baseline));
    expect(last).toBeLessThan(first);
    // encode alone (no tape) leaks nothing either
    const y = m.encode(ids, eot);
    y.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
    tf.dispose([ids, target]);
    m.dispose();
    expect(tf.memory().numTensors).toBe(baseline - 2 - vars.length);
  });
}
