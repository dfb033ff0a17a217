/**
 * Shared body of the golden tests (run per backend): the TS text tower against the independent PyTorch
 * implementation in scripts/make-golden.py (fixtures committed; no Python needed), and the OpenCLIP loader's
 * strictness on variants of the fixture file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { parseSafetensors, readSafetensorsSync, recordToTensor, serializeSafetensors, type StateDict } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import { ClipTextTransformer, TextEncoderError, TextStateDictMismatchError, loadOpenClipText, loadOpenClipTextSync } from '../src/index.js';
import { CASES, WEIGHTS, maxAbsDiff } from './helpers.js';

export const TOLERANCE = 1e-4;

const CASE_NAMES = ['full', 'single', 'short', 'nopad', 'random'];

function runCase(m: ClipTextTransformer, cases: StateDict, name: string): { out: tf.Tensor2D; ref: tf.Tensor } {
  const ids = recordToTensor(cases.get(`${name}.ids`)!) as tf.Tensor2D;
  const eot = recordToTensor(cases.get(`${name}.eot`)!) as tf.Tensor1D;
  return { out: m.encode(ids, eot), ref: recordToTensor(cases.get(`${name}.out`)!) };
}

/** The fixture's tensors and metadata, for building broken variants. */
function fixture(): { tensors: StateDict; metadata: Record<string, string> } {
  const f = parseSafetensors(fs.readFileSync(WEIGHTS));
  return { tensors: new Map(f.tensors), metadata: { ...f.metadata } };
}

function mismatch(f: () => unknown): TextStateDictMismatchError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TextStateDictMismatchError);
    return e as TextStateDictMismatchError;
  }
  throw new Error('expected a TextStateDictMismatchError');
}

export function goldenTests(): void {
  const cases = readSafetensorsSync(CASES).tensors;

  it('the fixture holds the cases, a full CLIP layout (visual.*, logit_scale) and the heads metadata', () => {
    expect(CASE_NAMES.every((n) => cases.has(`${n}.out`))).toBe(true);
    const { tensors, metadata } = fixture();
    expect([...tensors.keys()].filter((k) => k.startsWith('visual.')).length).toBeGreaterThan(0);
    expect(tensors.has('logit_scale')).toBe(true);
    expect(metadata).toMatchObject({ heads: '4', activation: 'quick_gelu' });
    expect(fs.statSync(WEIGHTS).size + fs.statSync(CASES).size).toBeLessThan(200 * 1024);
  });

  it('infers the config from the shapes and the metadata, ignoring the image tower and logit_scale', () => {
    const m = loadOpenClipTextSync(WEIGHTS);
    expect(m.config).toMatchObject({ vocabSize: 64, contextLength: 12, width: 32, layers: 2, heads: 4, embedDim: 24, mlpWidth: 128, activation: 'quick_gelu' });
    expect([...m.params.keys()].some((k) => k.startsWith('visual.') || k === 'logit_scale')).toBe(false);
    m.dispose();
  });

  for (const name of CASE_NAMES) {
    it(`matches PyTorch within ${TOLERANCE}: ${name}`, () => {
      const m = loadOpenClipTextSync(WEIGHTS);
      const { out, ref } = runCase(m, cases, name);
      expect(out.shape).toEqual(ref.shape);
      const d = maxAbsDiff(out, ref);
      expect(d, `${name}: max |Δ| ${d}`).toBeLessThan(TOLERANCE);
      // and the outputs are not trivially small: a wrong model is far off
      expect(tf.max(tf.abs(ref)).dataSync()[0]!).toBeGreaterThan(0.5);
      m.dispose();
    });
  }

  it('a wrong activation or a wrong head count is far from PyTorch (the golden check can fail)', () => {
    for (const opts of [{ activation: 'gelu' as const }, { heads: 2 }, { heads: 8 }]) {
      const m = loadOpenClipTextSync(WEIGHTS, opts);
      expect(maxAbsDiff(...(Object.values(runCase(m, cases, 'full')) as [tf.Tensor, tf.Tensor])), JSON.stringify(opts)).toBeGreaterThan(1e-3);
      m.dispose();
    }
  });

  it('loads from bytes and from a path (async), strips module. prefixes, takes heads from the options without metadata', async () => {
    const { tensors, metadata } = fixture();
    const prefixed = new Map([...tensors].map(([k, v]) => [`module.${k}`, v]));
    const m1 = loadOpenClipTextSync(serializeSafetensors(prefixed, metadata), { name: 'prefixed.safetensors' });
    const m2 = await loadOpenClipText(WEIGHTS);
    const bare = serializeSafetensors(tensors); // no metadata: width 32 gives no width/64 head count
    expect(() => loadOpenClipTextSync(bare, { name: 'bare.safetensors' })).toThrow(TextEncoderError);
    expect(() => loadOpenClipTextSync(bare, { name: 'bare.safetensors' })).toThrow(/^bare\.safetensors: cannot infer the head count: width 32 is not a multiple of 64.*pass \{ heads \}/);
    expect(() => loadOpenClipTextSync(bare, { heads: 5 })).toThrow(/width 32 is not divisible by heads 5/);
    const m3 = loadOpenClipTextSync(bare, { heads: 4, activation: 'quick_gelu' });
    for (const m of [m1, m2, m3]) {
      const { out, ref } = runCase(m, cases, 'nopad');
      expect(maxAbsDiff(out, ref)).toBeLessThan(TOLERANCE);
      m.dispose();
    }
  });

  it('rejects a file with a missing key, naming the file and the key; nothing is loaded', async () => {
    const { tensors, metadata } = fixture();
    tensors.delete('transformer.resblocks.1.attn.out_proj.bias');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-clip-'));
    const file = path.join(dir, 'missing-key.safetensors');
    fs.writeFileSync(file, serializeSafetensors(tensors, metadata));
    const before = tf.memory().numTensors;
    const e = mismatch(() => loadOpenClipTextSync(file));
    expect(e.file).toBe(file);
    expect(e.missing).toEqual(['transformer.resblocks.1.attn.out_proj.bias']);
    expect([e.unexpected, e.mismatched]).toEqual([[], []]);
    expect(e.message).toContain(file);
    expect(e.message).toContain('missing (1): transformer.resblocks.1.attn.out_proj.bias');
    await expect(loadOpenClipText(file)).rejects.toThrow(TextStateDictMismatchError);
    expect(tf.memory().numTensors).toBe(before); // the half-built model was disposed
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('rejects a mis-shaped key (and reports every problem at once), naming the file and the keys', () => {
    const { tensors, metadata } = fixture();
    tensors.set('transformer.resblocks.0.attn.in_proj_weight', { dtype: 'float32', shape: [32, 96], data: new Float32Array(32 * 96) }); // Linear-transposed by mistake
    let e = mismatch(() => loadOpenClipTextSync(serializeSafetensors(tensors, metadata), { name: 'bad-shape.safetensors' }));
    expect(e.mismatched).toEqual([{ name: 'transformer.resblocks.0.attn.in_proj_weight', expected: [96, 32], got: [32, 96] }]);
    expect(e.message).toMatch(/^bad-shape\.safetensors: .*shape mismatch \(1\): transformer\.resblocks\.0\.attn\.in_proj_weight expected \[96,32\] got \[32,96\]/);
    tensors.delete('ln_final.weight');
    tensors.set('transformer.resblocks.0.attn.extra', { dtype: 'float32', shape: [2], data: new Float32Array(2) });
    e = mismatch(() => loadOpenClipTextSync(serializeSafetensors(tensors, metadata), { name: 'many.safetensors' }));
    expect([e.missing, e.unexpected, e.mismatched.map((m) => m.name)]).toEqual([['ln_final.weight'], ['transformer.resblocks.0.attn.extra'], ['transformer.resblocks.0.attn.in_proj_weight']]);
    // a tensor the config is read from, missing: named too
    tensors.delete('text_projection');
    e = mismatch(() => loadOpenClipTextSync(serializeSafetensors(tensors, metadata), { name: 'no-proj.safetensors' }));
    expect(e.missing).toEqual(['text_projection']);
    expect(e.message).toMatch(/^no-proj\.safetensors: .*text_projection/);
  });
}
