/** KV-cache decoding, log-likelihoods and beam search (shared by backends). */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import { beamSearch, greedyDecode, loadLlama, logLikelihood, type LlamaModel } from '../src/index.js';
import { STORIES, maxAbsDiff, perturb, reference, tinyLlama } from './helpers.js';

function randomModel(over = {}): LlamaModel {
  const m = tinyLlama({ architecture: 'qwen2', ...over });
  perturb(m, 0.3, 7);
  return m;
}

export function decodingTests(): void {
  it('incremental decoding with the KV cache gives the logits of one full forward (within 1e-4), GQA with q/k/v biases, 2 rows', () => {
    for (const over of [{}, { architecture: 'llama' as const, tieWordEmbeddings: true }, { numKvHeads: 4 }, { numKvHeads: 1 }]) {
      const m = randomModel(over);
      const x = tf.randomNormal([2, 9, 16], 0, 1, 'float32', 3) as tf.Tensor3D;
      const full = m.forward(x).logits;
      const first = m.forward(tf.slice(x, [0, 0, 0], [2, 4, 16]), { useCache: true });
      const cache = first.cache!;
      expect(cache.length).toBe(4);
      const parts: tf.Tensor3D[] = [first.logits];
      parts.push(m.forward(tf.slice(x, [0, 4, 0], [2, 2, 16]), { cache }).logits); // a chunk of 2
      for (let t = 6; t < 9; t++) parts.push(m.forward(tf.slice(x, [0, t, 0], [2, 1, 16]), { cache }).logits);
      expect(cache.length).toBe(9);
      const inc = tf.concat(parts, 1);
      const d = maxAbsDiff(full, inc);
      expect(d, JSON.stringify(over)).toBeLessThan(1e-4);
      // A non-trivial comparison: the logits differ across positions and rows.
      expect(maxAbsDiff(tf.slice(full, [0, 0, 0], [1, 9, 40]), tf.slice(full, [1, 0, 0], [1, 9, 40]))).toBeGreaterThan(1e-2);
      // Causality: the first 4 logits do not depend on later inputs.
      expect(maxAbsDiff(tf.slice(full, [0, 0, 0], [2, 4, 40]), first.logits)).toBeLessThan(1e-5);
      cache.dispose();
      tf.dispose([x, full, inc, ...parts]);
      m.dispose();
    }
  });

  it('the cache refuses misuse: a wrong startPos, another model’s cache, a disposed cache', () => {
    const m = randomModel();
    const other = randomModel();
    const x = tf.randomNormal([1, 3, 16], 0, 1, 'float32', 4) as tf.Tensor3D;
    const { cache, logits } = m.forward(x, { useCache: true });
    expect(() => m.forward(x, { cache: cache!, startPos: 0 })).toThrow(/startPos 0 with a cache of 3 positions/);
    expect(() => other.forward(x, { cache: cache! })).toThrow(/not made by this model/);
    cache!.dispose();
    expect(() => m.forward(x, { cache: cache! })).toThrow(/disposed/);
    expect(() => m.forward(x, { startPos: 62 })).toThrow(/past max_position_embeddings 64/);
    tf.dispose([x, logits]);
    m.dispose();
    other.dispose();
  });

  it('logLikelihood equals the sum of log-softmax picked from one full forward, respects the prefix, pads rows of unequal length', () => {
    const m = randomModel();
    const prefix = tf.randomNormal([3, 2, 16], 0, 1, 'float32', 5) as tf.Tensor3D;
    const cont = [Int32Array.from([5, 9, 13, 7]), Int32Array.from([22]), Int32Array.from([])];
    const got = m.logLikelihood(prefix, cont);
    // By hand, row by row, without padding.
    for (let b = 0; b < 2; b++) {
      const c = Array.from(cont[b]!);
      const want = tf.tidy(() => {
        const p = tf.slice(prefix, [b, 0, 0], [1, 2, 16]);
        const inputs = c.length > 1 ? tf.concat([p, m.embed(tf.tensor2d([c.slice(0, -1)], [1, c.length - 1], 'int32'))], 1) : p;
        const lp = tf.logSoftmax(m.forward(inputs as tf.Tensor3D).logits).arraySync() as number[][][];
        return c.reduce((s, id, i) => s + lp[0]![1 + i]![id]!, 0);
      });
      expect(Math.abs(got[b]! - want), `row ${b}`).toBeLessThan(1e-4);
    }
    expect(got[2]).toBe(0);
    // The prefix matters.
    const other = tf.randomNormal([3, 2, 16], 0, 1, 'float32', 6) as tf.Tensor3D;
    const moved = m.logLikelihood(other, cont);
    expect(Math.abs(moved[0]! - got[0]!)).toBeGreaterThan(1e-3);
    // A null prefix is [BOS].
    const bos = tf.tidy(() => m.embed(tf.tensor2d([[1], [1], [1]], [3, 1], 'int32')));
    expect(Array.from(m.logLikelihood(null, cont))).toEqual(Array.from(m.logLikelihood(bos, cont)));
    expect(logLikelihood(m, bos, cont)).toEqual(m.logLikelihood(bos, cont));
    expect(() => m.logLikelihood(prefix, cont.slice(0, 2))).toThrow(/2 continuation rows for a prefix batch of 3/);
    expect(() => m.logLikelihood(prefix, [[1], [40], []])).toThrow(/continuation\[1\]\[0\] = 40 is not a token id/);
    tf.dispose([prefix, other, bos]);
    m.dispose();
  });

  it('beam search with beams = 1 is greedy decoding; its scores are the log-likelihoods of what it returns', () => {
    const m = randomModel();
    const prefix = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 8) as tf.Tensor3D;
    for (const stopIds of [[], [2, 7]]) {
      const g = greedyDecode(m, prefix, { maxTokens: 12, stopIds });
      const b = beamSearch(m, prefix, { maxTokens: 12, stopIds, beams: 1 });
      expect(b.ids.map((x) => Array.from(x))).toEqual(g.ids.map((x) => Array.from(x)));
      expect(Math.max(...g.logProbs.map((x, i) => Math.abs(x - b.logProbs[i]!)))).toBeLessThan(1e-4);
      if (stopIds.length === 0) {
        expect(g.ids.every((x) => x.length === 12)).toBe(true);
        const ll = m.logLikelihood(prefix, g.ids);
        ll.forEach((x, i) => expect(Math.abs(x - g.logProbs[i]!)).toBeLessThan(1e-3));
      }
    }
    expect(m.generate(prefix, { maxTokens: 12, stopIds: [] }).map((x) => Array.from(x))).toEqual(greedyDecode(m, prefix, { maxTokens: 12, stopIds: [] }).ids.map((x) => Array.from(x)));
    prefix.dispose();
    m.dispose();
  });

  it('beams = 3 finds continuations at least as likely as greedy’s (stories260K, three prompts); beams = V is exhaustive', async () => {
    const lm = await loadLlama(STORIES);
    const ref = reference();
    let better = 0;
    for (const c of ref.cases) {
      const g = greedyDecode(lm, null, { promptIds: c.ids, maxTokens: 10, stopIds: [] });
      const b = beamSearch(lm, null, { promptIds: c.ids, maxTokens: 10, stopIds: [], beams: 3 });
      const ctx = lm.embed(tf.tensor2d([c.ids], [1, c.ids.length], 'int32'));
      const [llG, llB] = lm.logLikelihood(tf.concat([ctx, ctx]) as tf.Tensor3D, [g.ids[0]!, b.ids[0]!]);
      expect(llB!, c.prompt).toBeGreaterThanOrEqual(llG! - 1e-4);
      expect(Math.abs(llB! - b.logProbs[0]!)).toBeLessThan(1e-3);
      if (llB! > llG! + 1e-4) better++;
      ctx.dispose();
    }
    console.log(`beam 3 beat greedy on ${better} of ${ref.cases.length} stories260K prompts`);
    lm.dispose();
    // Beam search is not guaranteed to beat greedy in general (the greedy path can fall out of the beam), so on a
    // random model check exactness instead: with as many beams as tokens, two steps find the best of all V² pairs.
    const m = randomModel();
    const prefix = tf.randomNormal([1, 2, 16], 0, 1, 'float32', 9) as tf.Tensor3D;
    const b = beamSearch(m, prefix, { maxTokens: 2, stopIds: [], beams: 40 });
    const pairs = Array.from({ length: 1600 }, (_, i) => Int32Array.from([Math.floor(i / 40), i % 40]));
    const tiled = tf.tile(prefix, [1600, 1, 1]) as tf.Tensor3D;
    const all = m.logLikelihood(tiled, pairs);
    const best = all.indexOf(Math.max(...all));
    expect(Array.from(b.ids[0]!)).toEqual(Array.from(pairs[best]!));
    expect(Math.abs(b.logProbs[0]! - all[best]!)).toBeLessThan(1e-4);
    tf.dispose([prefix, tiled]);
    m.dispose();
  }, 60_000);

  it('no tensor leaks over greedy and beam generation', () => {
    const m = randomModel();
    const prefix = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 10) as tf.Tensor3D;
    const run = () => {
      m.generate(prefix, { maxTokens: 6, stopIds: [] });
      m.generate(prefix, { maxTokens: 6, beams: 3 });
      m.generate(null, { maxTokens: 4, promptIds: [[1, 5, 6], [1, 7]] });
      m.logLikelihood(prefix, [[3, 4], [5]]);
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      run();
      expect(tf.memory().numTensors).toBe(before);
    }
    prefix.dispose();
    m.dispose();
  });
}
