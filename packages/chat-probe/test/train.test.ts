/** The built-in LM's trainer on @flux/train (cpu): loss falls, bit-exact resume, no leaks; freezing. */
import fs from 'node:fs';
import path from 'node:path';

import { train, type NamedParam, type Objective } from '@flux/train';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { LanguageModelError, createTinyLlama, loadLlama, loadTokenizer, nextTokenLoss, trainLanguageModel } from '../src/index.js';
import { STORIES, tmp, useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));

/** Moving-MNIST-style captions (the shape of @flux/video's `captionsFor`). */
const CAPTIONS = [
  'the digit 7 moves left quickly',
  'the digit 3 moves up and to the right slowly',
  'the digit 1 moves down quickly, bounces off the bottom edge and moves up',
  'the digits 4 and 9 move right slowly',
  'a handwritten 5 that moves up and to the left quickly',
  'the digit 0 moves right slowly',
  '2 moving down and to the left',
  'the digit 8 moves up slowly, bounces off the top edge and moves down',
];

const small = { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64 };

describe('trainLanguageModel (cpu)', () => {
  const tok = loadTokenizer(STORIES);

  it('the loss falls on a tiny caption corpus in 30 steps, with a constant tensor count, and out/model loads back', async () => {
    const m = createTinyLlama(small);
    const counts: number[] = [];
    const out = tmp('lm-train');
    const r = await trainLanguageModel(m, CAPTIONS, tok, { steps: 30, batchSize: 8, lr: 1e-2, seqLen: 24, out, quiet: true, onStep: () => counts.push(tf.memory().numTensors) });
    expect(r.complete).toBe(true);
    const first = r.losses[0]!.loss;
    const last = r.losses.slice(-5).reduce((s, l) => s + l.loss, 0) / 5;
    console.log(`tiny LM: loss ${first.toFixed(3)} → ${last.toFixed(3)} (mean of the last 5) in ${r.seconds.toFixed(1)} s`);
    expect(first).toBeGreaterThan(Math.log(512) - 0.5);
    expect(last).toBeLessThan(first - 2);
    expect(new Set(counts.slice(1)).size).toBe(1);
    // The finished folder is a Hugging Face folder with its tokenizer, equal to the trained model.
    const back = await loadLlama(r.modelDir!);
    const probe = () => tf.tidy(() => Array.from(back.forward(back.embed(tf.tensor2d([[1, 265, 279]], [1, 3], 'int32'))).logits.dataSync()));
    const want = tf.tidy(() => Array.from(m.forward(m.embed(tf.tensor2d([[1, 265, 279]], [1, 3], 'int32'))).logits.dataSync()));
    expect(probe()).toEqual(want);
    expect(loadTokenizer(r.modelDir!).encode('the digit 7')).toEqual(tok.encode('the digit 7'));
    // It has learnt the captions' words: "the digit" is far more likely after BOS than before training.
    const fresh = createTinyLlama(small);
    const [trained, untrained] = [m, fresh].map((x) => x.logLikelihood(null, [tok.encode('the digit', { addBos: false })])[0]!);
    expect(trained!).toBeGreaterThan(untrained! + 3);
    [m, back, fresh].forEach((x) => x.dispose());
  }, 60_000);

  it('a run interrupted at step 3 and resumed ends bit-identical to an uninterrupted one', async () => {
    const opts = { steps: 6, batchSize: 4, lr: 5e-3, seqLen: 16, quiet: true, checkpointEvery: 3 };
    const a = createTinyLlama(small);
    const full = await trainLanguageModel(a, CAPTIONS, tok, { ...opts, out: tmp('lm-full') });
    const dir = tmp('lm-cut');
    const b = createTinyLlama(small);
    const part = await trainLanguageModel(b, CAPTIONS, tok, { ...opts, out: dir, stopAfter: 3 });
    expect(part.complete).toBe(false);
    expect(part.modelDir).toBeNull();
    b.dispose();
    const c = createTinyLlama(small);
    const rest = await trainLanguageModel(c, CAPTIONS, tok, { ...opts, out: dir, resume: true });
    expect(rest.complete).toBe(true);
    expect(rest.losses.map((l) => l.step)).toEqual([4, 5, 6]);
    expect(rest.losses.map((l) => l.loss)).toEqual(full.losses.slice(3).map((l) => l.loss));
    expect(Buffer.compare(fs.readFileSync(path.join(full.modelDir!, 'model.safetensors')), fs.readFileSync(path.join(rest.modelDir!, 'model.safetensors')))).toBe(0);
    // Another corpus is not this run.
    await expect(trainLanguageModel(createTinyLlama(small), CAPTIONS.slice(1), tok, { ...opts, out: dir, resume: true })).rejects.toThrow(/textsSha256|config/);
    a.dispose();
    c.dispose();
  }, 60_000);

  it('refuses a tokenizer whose ids the model cannot embed, and a frozen model', async () => {
    const m = createTinyLlama({ ...small, vocabSize: 300 });
    await expect(trainLanguageModel(m, ['the digit 7 moves up'], tok, { steps: 1, batchSize: 1, lr: 1e-3, seqLen: 8, out: tmp('lm-bad'), quiet: true })).rejects.toThrow(/token id \d+, outside the model's vocabulary 0…299/);
    m.freeze();
    await expect(trainLanguageModel(m, ['a'], tok, { steps: 1, batchSize: 1, lr: 1e-3, seqLen: 8, out: tmp('lm-bad'), quiet: true })).rejects.toThrow(LanguageModelError);
    m.dispose();
  });
});

describe('freezing (cpu)', () => {
  it('a frozen LM stays bit-identical while a projector whose gradient flows through it trains (engine and tf optimizer)', async () => {
    const tok = loadTokenizer(STORIES);
    const lm = createTinyLlama(small);
    lm.freeze();
    expect(lm.frozen).toBe(true);
    expect(lm.trainableVariables()).toEqual([]);
    const before = new Map([...lm.params].map(([n, v]) => [n, Array.from(v.dataSync())]));
    const proj = tf.variable(tf.randomNormal([6, 32], 0, 0.1, 'float32', 21), true, 'projector');
    const projStart = Array.from(proj.dataSync());
    const visual = tf.randomNormal([2, 3, 6], 0, 1, 'float32', 22) as tf.Tensor3D;
    const text = tok.encode('the digit 7 moves left', { addBos: false });
    const ids = tf.tensor2d([text.slice(0, -1), text.slice(0, -1)], [2, text.length - 1], 'int32');
    const targets = tf.tensor2d([text, text], [2, text.length], 'int32');
    const mask = tf.ones([2, text.length]) as tf.Tensor2D;
    const loss = () =>
      tf.tidy(() => {
        const prefix = tf.reshape(tf.matMul(tf.reshape(visual, [6, 6]), proj), [2, 3, 32]);
        const { logits } = lm.forward(tf.concat([prefix, lm.embed(ids)], 1) as tf.Tensor3D);
        // Positions 2 … end predict the caption (the last visual token predicts its first word).
        return nextTokenLoss(tf.slice(logits, [0, 2, 0], [2, text.length, 512]) as tf.Tensor3D, targets, mask);
      });
    const objective: Objective<null> = {
      params: (): NamedParam[] => [{ name: 'projector', variable: proj }, ...lm.trainableVariables().map((v) => ({ name: v.name, variable: v }))],
      batch: () => null,
      loss: () => ({ total: loss() }),
      disposeBatch: () => {},
    };
    const r = await train({ objective, out: tmp('freeze'), config: {}, steps: 3, seed: 1, lr: () => 1e-2, checkpointEvery: 3, quiet: true });
    expect(r.losses[2]!.loss).toBeLessThan(r.losses[0]!.loss);
    // And through a tf optimizer that takes every trainable variable.
    tf.train.adam(1e-2).minimize(() => loss());
    expect(Array.from(proj.dataSync())).not.toEqual(projStart);
    for (const [n, v] of lm.params) expect(Array.from(v.dataSync()), n).toEqual(before.get(n));
    // The gradient does flow through the frozen LM to the projector.
    const { grads } = tf.variableGrads(loss, [proj]);
    expect(tf.tidy(() => tf.norm(grads.projector!).dataSync()[0]!)).toBeGreaterThan(1e-4);
    tf.dispose([proj, visual, ids, targets, mask, ...Object.values(grads)]);
    lm.dispose();
  });
});
