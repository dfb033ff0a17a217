/** Shared body of the golden tests (run on cpu and on wasm): the TS model vs the PyTorch reference. */
import { fileURLToPath } from 'node:url';

import { readPthSync, recordToTensor } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import { type FluxViT, setAttentionChunk } from '../src/index.js';
import { tinyModel } from './helpers.js';

const FIX = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const TOLERANCE = 1e-4;

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Max |Δ| between the [B,F,L] attention at the kept indices and the reference's [B,K] (plain JS gather). */
function keptAttentionDiff(att: tf.Tensor3D, idx: tf.Tensor2D, ref: tf.Tensor): number {
  const [b, f, l] = att.shape;
  const a = att.dataSync();
  const k = idx.shape[1];
  const ix = idx.dataSync();
  const r = ref.dataSync();
  let worst = 0;
  for (let i = 0; i < b; i++) for (let j = 0; j < k; j++) worst = Math.max(worst, Math.abs(a[i * f * l + ix[i * k + j]!]! - r[i * k + j]!));
  return worst;
}

/** The tiny config of scripts/make-golden.py. */
export function goldenModel(): FluxViT {
  const m = tinyModel();
  m.loadStateDict(readPthSync(`${FIX}golden-weights.pth`).tensors, { strict: true });
  return m;
}

export function goldenTests(): void {
  const cases = readPthSync(`${FIX}golden-cases.pth`).tensors;
  const names = [...new Set([...cases.keys()].map((k) => k.split('.')[0]!))];

  it('has the fixture cases', () => expect(names.length).toBeGreaterThanOrEqual(5));

  for (const [name, chunk] of [...names.map((n) => [n, 0] as const), [names[0]!, 500] as const, [names[2]!, 3000] as const]) {
    it(`matches PyTorch within ${TOLERANCE}: ${name}${chunk ? ` (attention in chunks of ${chunk})` : ''}`, () => {
      const prevChunk = chunk ? setAttentionChunk(chunk) : 0;
      const model = goldenModel();
      const get = (f: string) => recordToTensor(cases.get(`${name}.${f}`)!, `${name}.${f}`);
      const video = get('video') as tf.Tensor5D;
      const idx = get('indices') as tf.Tensor2D;
      const k = (get('k').dataSync()[0] as number) || undefined;
      const head = get('head').dataSync()[0] as number;
      const viaSelector = name.includes('selector');
      const out = model.forward(video, {
        ...(viaSelector ? { k, selector: { method: 'group-dynamic', norm: 'l2' } } : k ? { indices: idx } : {}),
        returnLayers: [-1],
        returnAttention: true,
      });
      expect(out.head).toBe(head);
      expect(Array.from(out.indices.dataSync())).toEqual(Array.from(idx.dataSync()));
      const diffs = {
        logits: maxAbsDiff(out.logits, get('logits')),
        pooled: maxAbsDiff(out.pooled, get('pooled')),
        last: maxAbsDiff(out.layers![0]!, get('last')),
        clsAttn: keptAttentionDiff(out.clsAttention!, idx, get('cls_attn')),
      };
      console.log(`golden ${name} [${tf.getBackend()}] max |Δ|`, diffs);
      for (const v of Object.values(diffs)) expect(v).toBeLessThan(TOLERANCE);
      tf.dispose([video, idx, out.logits, out.pooled, out.indices, out.clsAttention!, ...out.layers!]);
      model.dispose();
      if (chunk) setAttentionChunk(prevChunk);
    });
  }
}
