import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { initBackend } from '@flux/core';
import { openDataset, resolveTuneConfig, createFluxModel } from '@flux/train';
import * as tf from '@tensorflow/tfjs-core';
import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe, expect, it } from 'vitest';

import { MlpProjector, ProbeObjective, STORIES260K_DIR, bosOf, createTinyLlama, loadLlama, datasetText, evaluateProbe, loadTokenizer, probeCorpus, probeEmbeddings, questionPrompt, trainProbe, visualTokens, wordLevelTokenizer } from '../src/index.js';

const tmp = (l: string) => fs.mkdtempSync(path.join(os.tmpdir(), `flux-probe-${l}-`));

beforeAll(() => initBackend({ backend: nativeAvailable() ? 'tensorflow' : 'cpu', log: false }));

function tinyEncoder() {
  const cfg = resolveTuneConfig({
    task: 'directions',
    modelOverrides: { patchSize: 16, embedDim: 16, depth: 1, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 2, layerScaleInit: 0, clipPool: 'max' },
    trainClips: 32,
    valClips: 8,
    evalClips: 8,
    frames: 4,
    size: 32,
    flexiFrames: [2, 8, 2],
    flexiSizes: [16, 32, 16],
    tokenThreshold: [8, 32],
    tokenCounts: [12, 8, 4],
  });
  return { cfg, model: createFluxModel(cfg, 8) };
}

describe('chat probe', () => {
  it('trains only the projector: encoder and LM stay bit-identical; no tensor leaks per step; evaluation at budgets', async () => {
    const { cfg, model: encoder } = tinyEncoder();
    const tokenizer = loadTokenizer(STORIES260K_DIR);
    const lm = createTinyLlama({ vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, maxPositions: 256 });
    const snap = (m: Map<string, tf.Variable>) => new Map([...m].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
    const encBefore = snap(encoder.params);
    const lmBefore = snap(lm.params);
    const train = openDataset('train', cfg);
    const counts: number[] = [];
    const r = await trainProbe({
      encoder,
      lm,
      tokenizer,
      data: train,
      text: datasetText(train),
      cfg: { frames: 4, size: 32, patch: 16, budgets: [16, 8, 4], visual: 'tokens', batchSize: 4, captionFraction: 0.5, seed: 0 },
      steps: 4,
      out: tmp('train'),
      quiet: true,
      onStep: () => counts.push(tf.memory().numTensors),
    });
    expect(r.complete).toBe(true);
    expect(new Set(counts.slice(1)).size).toBe(1);
    const projBefore = r.losses[0]!.loss;
    expect(Number.isFinite(projBefore)).toBe(true);
    for (const [k, v] of encoder.params) expect([...v.dataSync()], k).toEqual([...encBefore.get(k)!]);
    for (const [k, v] of lm.params) expect([...v.dataSync()], k).toEqual([...lmBefore.get(k)!]);
    const test = openDataset('test', cfg, { testClips: 6 });
    const res = await evaluateProbe({ encoder, lm, tokenizer, projector: r.projector }, test, datasetText(test), { frames: 4, size: 32, patch: 16, budgets: [16, 4], visual: 'tokens', clips: 6, maxCaptionTokens: 6 });
    expect(res.map((x) => x.tokens)).toEqual([16, 4]);
    for (const x of res) {
      expect(x.questions).toBeGreaterThan(0);
      expect(x.qaChance).toBeGreaterThan(0.2);
      expect(x.qaChance).toBeLessThan(0.6);
      expect(x.qaAccuracy).toBeGreaterThanOrEqual(0);
      expect(x.caption.f1).toBeGreaterThanOrEqual(0);
      expect(x.samples.length).toBeGreaterThan(0);
    }
    r.projector.dispose();
    lm.dispose();
    encoder.dispose();
  }, 120_000);

  it.skipIf(!nativeAvailable())('the projector learns to steer the frozen stories260K: the caption loss falls on a few clips', async () => {
    const { cfg, model: encoder } = tinyEncoder();
    const tokenizer = loadTokenizer(STORIES260K_DIR);
    const lm = await loadLlama(STORIES260K_DIR);
    const train = openDataset('train', { ...cfg, trainClips: 4 });
    const r = await trainProbe({ encoder, lm, tokenizer, data: train, text: datasetText(train), cfg: { frames: 4, size: 32, patch: 16, budgets: [16], visual: 'tokens', batchSize: 4, captionFraction: 1, seed: 0 }, steps: 40, lr: 1e-2, out: tmp('learn'), quiet: true });
    const first = r.losses.slice(0, 3).reduce((a, b) => a + b.loss, 0) / 3;
    const last = r.losses.slice(-3).reduce((a, b) => a + b.loss, 0) / 3;
    expect(last).toBeLessThan(first - 0.5);
    r.projector.dispose();
    lm.dispose();
    encoder.dispose();
  }, 120_000);

  it('visual tokens, prompts and the corpus of the built-in LM', async () => {
    const { cfg, model: encoder } = tinyEncoder();
    const v = tf.randomNormal([2, 4, 32, 32, 3]) as tf.Tensor5D;
    const t = visualTokens(encoder, v, 8, 'tokens');
    const p = visualTokens(encoder, v, undefined, 'pooled');
    expect(t.shape).toEqual([2, 9, 16]);
    expect(p.shape).toEqual([2, 1, 16]);
    tf.dispose([v, t, p]);
    encoder.dispose();
    expect(questionPrompt({ kind: 'direction', question: 'Where?', options: ['left', 'up'], answer: 1 })).toBe('Question: Where? Options: left, up. Answer:');
    const ds = openDataset('train', cfg);
    const caption = (await ds.captions!([0]))[0]!;
    const bare = await probeCorpus(ds, 3, { context: 'none' });
    expect(bare[0]).toBe(`Describe the video. ${caption}`);
    expect(bare.some((l) => /^Question: .* Answer: \S/.test(l))).toBe(true);
    // Grounded (default): every line of a clip starts with its caption, then the prompt and the answer.
    const grounded = await probeCorpus(ds, 3);
    expect(grounded.length).toBe(bare.length);
    expect(grounded[0]).toBe(`${caption} Describe the video. ${caption}`);
    expect(grounded[1]).toBe(`${caption} ${bare[1]}`);
    await expect(probeCorpus(ds, 3, { context: 'x' as 'none' })).rejects.toThrow(/context/);
  });

  it('word-level tokenizer: one token per word of the corpus, BOS / EOS / unk at 0–2, round trip, saved and loaded as a tokenizer.json', () => {
    const tok = wordLevelTokenizer(['the digit 3 moves up slowly.', 'Question: Which digit? Options: 3, 7. Answer: 3']);
    expect([tok.bosId, tok.eosId]).toEqual([1, 2]);
    const ids = tok.encode('the digit 7 moves up slowly.', { addBos: true });
    expect(ids.length).toBe(1 + 7);
    expect(ids[0]).toBe(1);
    expect(ids.includes(0)).toBe(false);
    expect(tok.decode(ids)).toBe('the digit 7 moves up slowly.');
    expect(tok.encode('a zebra', { addBos: false })).toEqual([0, 0]);
    const dir = tmp('wordtok');
    tok.save(dir);
    const back = loadTokenizer(dir);
    expect(back.encode('Question: Which digit? Answer: 7')).toEqual(tok.encode('Question: Which digit? Answer: 7'));
    expect(back.vocabSize).toBe(tok.vocabSize);
  });

  it('training and evaluation feed the LM the same sequence: BOS, visual tokens, prompt, target', async () => {
    const { cfg, model: encoder } = tinyEncoder();
    const tokenizer = loadTokenizer(STORIES260K_DIR);
    const lm = createTinyLlama({ vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, maxPositions: 256 });
    const projector = new MlpProjector(16, 32, 32, 0);
    const train = openDataset('train', cfg);
    const obj = new ProbeObjective(encoder, lm, tokenizer, projector, { frames: 4, size: 32, patch: 16, budgets: [8], visual: 'tokens', batchSize: 1, captionFraction: 1, seed: 0 }, train, datasetText(train));
    const b = await obj.batch(0);
    const loss = obj.loss(b).total;
    const trained = loss.dataSync()[0]!;
    const ids = [...b.ids.dataSync()];
    const target = b.labels;
    const promptIds = ids.slice(0, ids.length - target.length);
    expect(promptIds[0]).toBe(bosOf(tokenizer));
    const prefix = probeEmbeddings(lm, projector, b.visual, tf.tensor2d([promptIds], [1, promptIds.length], 'int32'));
    expect(prefix.shape).toEqual([1, promptIds.length + b.visual.shape[1], 32]);
    const ll = lm.logLikelihood(prefix, [target])[0]!;
    expect(trained).toBeCloseTo(-ll / target.length, 4);
    tf.dispose([loss, prefix]);
    obj.disposeBatch(b);
    projector.dispose();
    lm.dispose();
    encoder.dispose();
  });
});
