/** stories260K (a real pretrained Llama) against the fixture's independent reference: ids, logits, greedy text. */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { loadLlama, loadTokenizer, type HfTokenizer, type LlamaModel } from '../src/index.js';
import { STORIES, reference } from './helpers.js';

export function goldenTests(): void {
  const ref = reference();
  let model: LlamaModel;
  let tok: HfTokenizer;
  beforeAll(async () => {
    model = await loadLlama(STORIES);
    tok = loadTokenizer(STORIES);
  });
  afterAll(() => model.dispose());

  it('reads the config: 5 layers, 8 heads over 4 kv heads, tied embedding, bos 1 / eos 2', () => {
    const c = model.config;
    expect([c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.hiddenSize, c.intermediateSize, c.vocabSize]).toEqual([5, 8, 4, 8, 64, 172, 512]);
    expect(c.tieWordEmbeddings).toBe(true);
    expect(c.rmsNormEps).toBe(1e-5);
    expect([model.bosId, model.eosId, tok.bosId, tok.eosId, tok.vocabSize]).toEqual([1, 2, 1, 2, 512]);
  });

  it('tokenizer ids equal the reference ids for every case (BOS first), and decoding gives the reference text', () => {
    expect(ref.cases.length).toBe(3);
    for (const c of ref.cases) {
      expect(tok.encode(c.prompt)).toEqual(c.ids);
      expect(tok.encode(c.prompt, { addBos: true })).toEqual(c.ids);
      expect(tok.encode(c.prompt, { addBos: false })).toEqual(c.ids.slice(1));
      expect(tok.decode([...c.ids, ...c.greedy_ids])).toBe(c.full_text);
    }
  });

  it('logits at position 0 and at the last prompt position are within 1e-4 of the reference', () => {
    let worst = 0;
    for (const c of ref.cases) {
      const x = model.embed(tf.tensor2d([c.ids], [1, c.ids.length], 'int32'));
      const { logits } = model.forward(x);
      const data = logits.dataSync() as Float32Array;
      const V = 512;
      const T = c.ids.length;
      for (const [pos, want] of [[0, c.logits_pos0], [T - 1, c.logits_last]] as const) {
        for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(data[pos * V + v]! - want[v]!));
      }
      tf.dispose([x, logits]);
    }
    console.log(`stories260K: max |logit − reference| = ${worst.toExponential(2)} (${tf.getBackend()})`);
    expect(worst).toBeLessThan(ref.tolerance_abs_logits_float32);
    expect(ref.tolerance_abs_logits_float32).toBe(1e-4);
  });

  it('greedy continuations are identical to the reference (stopping on id 1, as llama2.c does), batched and alone', () => {
    for (const c of ref.cases) {
      const [ids] = model.generate(null, { promptIds: c.ids, maxTokens: ref.greedy_steps, stopIds: [1] });
      expect(Array.from(ids!)).toEqual(c.greedy_ids);
      expect(tok.decode([...c.ids, ...ids!])).toBe(c.full_text);
    }
    // The two five-token prompts in one batch; the ten-token prompt with them (rows of unequal length, decoded one by one).
    const batch = model.generate(null, { promptIds: ref.cases.map((c) => c.ids), maxTokens: ref.greedy_steps, stopIds: [1] });
    expect(batch.map((b) => Array.from(b))).toEqual(ref.cases.map((c) => c.greedy_ids));
    const same = model.generate(null, { promptIds: [ref.cases[0]!.ids, ref.cases[1]!.ids], maxTokens: ref.greedy_steps, stopIds: [1] });
    expect(same.map((b) => Array.from(b))).toEqual([ref.cases[0]!.greedy_ids, ref.cases[1]!.greedy_ids]);
  });

  it('from BOS alone the story starts as llama2.c documents; a stop id ends the row and is not returned', () => {
    const [ids] = model.generate(null, { maxTokens: 40, stopIds: [1] });
    expect(tok.decode(ids!).startsWith('Once upon a time, there was a little girl named Lily. She loved to play outside in the park.')).toBe(true);
    const c = ref.cases[0]!;
    const period = c.greedy_ids.indexOf(426); // '.' after "named Lily"
    expect(period).toBeGreaterThan(0);
    const [cut] = model.generate(null, { promptIds: c.ids, maxTokens: ref.greedy_steps, stopIds: [1, 426] });
    expect(Array.from(cut!)).toEqual(c.greedy_ids.slice(0, period));
  });
}
