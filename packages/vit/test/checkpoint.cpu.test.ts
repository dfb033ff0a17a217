import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type StateDict, makeRecord, readSafetensors } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { StateDictMismatchError, createModel, normalizeKey, paramSpecs, resolveConfig } from '../src/index.js';
import { randomVideo, tinyModel, useBackend } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'flux-vit-'));
beforeAll(() => useBackend('cpu'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('state dict', () => {
  it('uses the official names and PyTorch shapes', () => {
    const sd = tinyModel().stateDict();
    expect(sd.get('patch_embed.proj.weight')!.shape).toEqual([32, 3, 1, 4, 4]);
    expect(sd.get('blocks.0.attn.qkv.weight')!.shape).toEqual([96, 32]);
    expect(sd.has('blocks.0.attn.qkv.bias')).toBe(false);
    expect(sd.get('blocks.1.attn.lpe.depthwise_conv.weight')!.shape).toEqual([32, 1, 1, 1, 1]);
    expect(sd.get('gpe_proj.depthwise_conv.bias')!.shape).toEqual([32]);
    expect(sd.get('pos_embed')!.shape).toEqual([1, 1 + 8 * 4 * 4, 32]);
    expect(sd.get('clip_projector.2.cross_attn.proj.weight')!.shape).toEqual([24, 32]);
    expect(sd.get('clip_projector.0.cross_attn.q_bias')!.shape).toEqual([32]);
    expect(sd.get('head.2.weight')!.shape).toEqual([5, 24]);
    expect(sd.get('final_clip_decoder_for_projs.1.norm.bias')!.shape).toEqual([24]);
    expect(sd.get('blocks.1.ls2.gamma')!.shape).toEqual([32]);
  });

  it('registry variants match the release parameter counts (S ≈ 22M + heads)', () => {
    const specs = paramSpecs(resolveConfig('fluxvit_small_patch14'));
    const n = specs.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(specs.find((p) => p.name === 'pos_embed')!.torchShape).toEqual([1, 1 + 24 * 18 * 18, 384]);
    expect(n).toBeGreaterThan(25e6);
    expect(n).toBeLessThan(35e6);
    expect(specs.filter((p) => p.name.startsWith('clip_projector.') && p.name.endsWith('proj.weight')).map((p) => p.torchShape)).toEqual([
      [768, 384],
      [768, 384],
      [768, 384],
    ]);
  });

  it('round-trips stateDict → loadStateDict exactly (with wrapper prefixes) and keeps outputs', () => {
    const a = tinyModel({}, 1);
    const b = tinyModel({}, 2);
    const prefixed: StateDict = new Map([...a.stateDict()].map(([k, v]) => [`module.backbone.${k}`, v]));
    b.loadStateDict(prefixed, { strict: true });
    for (const [name, v] of a.params) expect(Array.from(b.param(name).dataSync())).toEqual(Array.from(v.dataSync()));
    const video = randomVideo(1, 2, 8, 8);
    expect(Array.from(b.forward(video).logits.dataSync())).toEqual(Array.from(a.forward(video).logits.dataSync()));
  });

  it('accepts tfjs tensors in PyTorch layout', () => {
    const a = tinyModel({}, 1);
    const b = tinyModel({}, 2);
    const tensors = new Map([...a.stateDict()].map(([k, r]) => [k, tf.tensor(r.data as Float32Array, r.shape)]));
    b.loadStateDict(tensors);
    expect(Array.from(b.param('blocks.0.mlp.fc1.weight').dataSync())).toEqual(Array.from(a.param('blocks.0.mlp.fc1.weight').dataSync()));
  });

  it('strict load reports every missing, unexpected and mis-shaped tensor in one error, assigning nothing', () => {
    const m = tinyModel({}, 1);
    const sd = m.stateDict();
    sd.delete('blocks.1.attn.q_norm.weight');
    sd.delete('head.0.bias');
    sd.set('encoder.extra.thing', makeRecord('float32', [2]));
    sd.set('blocks.0.attn.proj.weight', makeRecord('float32', [32, 33]));
    const before = m.param('cls_token').dataSync().slice();
    const target = tinyModel({}, 5);
    let err: unknown;
    try {
      target.loadStateDict(sd, { strict: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictMismatchError);
    const e = err as StateDictMismatchError;
    expect(e.missing.sort()).toEqual(['blocks.1.attn.q_norm.weight', 'head.0.bias']);
    expect(e.unexpected).toEqual(['extra.thing']);
    expect(e.mismatched.map((x) => x.name)).toEqual(['blocks.0.attn.proj.weight']);
    expect(e.message).toMatch(/blocks\.1\.attn\.q_norm\.weight.*head\.0\.bias.*extra\.thing.*blocks\.0\.attn\.proj\.weight expected \[32,32\] got \[32,33\]/s);
    expect(Array.from(target.param('cls_token').dataSync())).not.toEqual(Array.from(before));
  });

  it('clipPool max: no query/key tensors; round-trips; an attention-pool checkpoint is refused by name', () => {
    const a = tinyModel({ clipPool: 'max' }, 1);
    const sd = a.stateDict();
    expect([...sd.keys()].filter((k) => /clip_projector\.\d+\.(norm1_[qk]|cross_attn\.[qk](_bias|\.weight))/.test(k))).toEqual([]);
    expect(sd.get('clip_projector.0.cross_attn.v.weight')!.shape).toEqual([32, 32]);
    const b = tinyModel({ clipPool: 'max' }, 2);
    b.loadStateDict(sd, { strict: true });
    const video = randomVideo(1, 2, 8, 8);
    expect(Array.from(b.forward(video).logits.dataSync())).toEqual(Array.from(a.forward(video).logits.dataSync()));
    expect(() => b.loadStateDict(tinyModel({}, 3).stateDict(), { strict: true })).toThrow(/unexpected.*clip_projector\.0\.cross_attn\.q\.weight/s);
    expect(() => tinyModel({ clipPool: 'mean' as 'max' })).toThrow(/clipPool must be 'attention' or 'max'/);
  });

  it('normalizes wrapper prefixes', () => {
    expect(normalizeKey('module.encoder.blocks.0.norm1.weight')).toBe('blocks.0.norm1.weight');
    expect(normalizeKey('backbone.cls_token')).toBe('cls_token');
    expect(normalizeKey('head.0.weight')).toBe('head.0.weight');
  });

  it('save → safetensors (official names, PyTorch layout) → load', async () => {
    const a = tinyModel({}, 3);
    const path = join(dir, 'm.safetensors');
    await a.save(path);
    const file = await readSafetensors(path);
    expect(file.tensors.get('blocks.0.attn.qkv.weight')!.shape).toEqual([96, 32]);
    const b = tinyModel({}, 4);
    await b.load(path);
    expect(Array.from(b.param('patch_embed.proj.weight').dataSync())).toEqual(Array.from(a.param('patch_embed.proj.weight').dataSync()));
  });

  it('createModel knows every variant and carries a pretrained cfg', () => {
    const m = createModel('fluxvit_tiny');
    expect(m.pretrainedCfg!.mean).toEqual([0.485, 0.456, 0.406]);
    expect(m.pretrainedCfg!.headTokenCounts).toEqual(m.config.headTokenCounts);
    m.dispose();
    expect(() => createModel('nope' as never)).toThrow(/unknown FluxViT variant/);
    expect(() => createModel('fluxvit_tiny', { embedDim: 30 })).toThrow(/divisible/);
  });
});
