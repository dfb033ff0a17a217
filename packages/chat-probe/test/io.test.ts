/** Folders: save/load round trips, strict loading errors, config errors, tokenizer folders (cpu). */
import fs from 'node:fs';
import path from 'node:path';

import { parseSafetensors, serializeSafetensors } from '@flux/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  LlamaConfigError,
  LlamaStateDictMismatchError,
  ModelFolderError,
  llamaConfigFromHf,
  loadLlama,
  loadLlamaSync,
  loadTokenizer,
  saveLlama,
  type LlamaModel,
} from '../src/index.js';
import { STORIES, perturb, tinyLlama, tmp, useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));

function logitsOf(m: LlamaModel): Float32Array {
  return tf.tidy(() => m.forward(m.embed(tf.tensor2d([[1, 4, 9, 16, 25]], [1, 5], 'int32'))).logits.dataSync() as Float32Array);
}

/** A copy of the stories260K folder whose weights went through `edit`. */
function editedStories(edit: (t: Map<string, import('@flux/core').TensorRecord>) => void): string {
  const dir = tmp('edit');
  for (const f of ['config.json', 'generation_config.json']) fs.copyFileSync(path.join(STORIES, f), path.join(dir, f));
  const { tensors } = parseSafetensors(fs.readFileSync(path.join(STORIES, 'model.safetensors')));
  edit(tensors);
  fs.writeFileSync(path.join(dir, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
  return dir;
}

describe('Llama folders (cpu)', () => {
  it('saveLlama → loadLlama round-trips config and weights bit for bit (llama tied, llama untied with attention_bias, qwen2)', async () => {
    for (const over of [{ tieWordEmbeddings: true }, { tieWordEmbeddings: false, qkvBias: true, oBias: true }, { architecture: 'qwen2' as const }]) {
      const m = tinyLlama(over);
      perturb(m, 0.2, 3);
      const dir = tmp('roundtrip');
      saveLlama(m, dir);
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      expect(cfg.architectures).toEqual([m.config.architecture === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM']);
      const back = await loadLlama(dir);
      expect(back.config).toEqual({ ...m.config, seed: 0 }); // the init seed is not part of an HF config
      expect(back.names()).toEqual(m.names());
      for (const n of m.names()) expect(Array.from(back.params.get(n)!.dataSync()), n).toEqual(Array.from(m.params.get(n)!.dataSync()));
      expect(Array.from(logitsOf(back))).toEqual(Array.from(logitsOf(m)));
      const sync = loadLlamaSync(dir);
      expect(Array.from(logitsOf(sync))).toEqual(Array.from(logitsOf(m)));
      [m, back, sync].forEach((x) => x.dispose());
    }
  });

  it('strict loading: missing, mis-shaped and unexpected tensors are all named with the file, and nothing is assigned', async () => {
    const dir = editedStories((t) => {
      t.delete('model.layers.3.mlp.up_proj.weight');
      const r = t.get('model.layers.1.self_attn.k_proj.weight')!;
      t.set('model.layers.1.self_attn.k_proj.weight', { ...r, shape: [64, 32] });
      t.set('model.layers.0.self_attn.q_proj.bias', { dtype: 'float32', shape: [64], data: new Float32Array(64) });
    });
    const file = path.join(dir, 'model.safetensors');
    const err = await loadLlama(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlamaStateDictMismatchError);
    const e = err as LlamaStateDictMismatchError;
    expect(e.file).toBe(file);
    expect(e.message.startsWith(file)).toBe(true);
    expect(e.missing).toEqual(['model.layers.3.mlp.up_proj.weight']);
    expect(e.mismatched).toEqual([{ name: 'model.layers.1.self_attn.k_proj.weight', expected: [32, 64], got: [64, 32] }]);
    expect(e.unexpected).toEqual(['model.layers.0.self_attn.q_proj.bias']);
    expect(e.message).toMatch(/missing \(1\): model\.layers\.3\.mlp\.up_proj\.weight; unexpected \(1\): model\.layers\.0\.self_attn\.q_proj\.bias; shape mismatch \(1\): model\.layers\.1\.self_attn\.k_proj\.weight expected \[32,64\] got \[64,32\]/);
    // Nothing assigned: a model that fails to load a bad state dict keeps its weights.
    const good = await loadLlama(STORIES);
    const before = logitsOf(good);
    const { tensors } = parseSafetensors(fs.readFileSync(path.join(STORIES, 'model.safetensors')));
    tensors.set('model.norm.weight', { dtype: 'float32', shape: [64], data: new Float32Array(64) });
    tensors.delete('model.layers.4.input_layernorm.weight');
    expect(() => good.loadStateDict(tensors, 'edited.safetensors')).toThrow(/^edited\.safetensors: .*missing \(1\): model\.layers\.4\.input_layernorm\.weight/);
    expect(Array.from(logitsOf(good))).toEqual(Array.from(before));
    good.dispose();
  });

  it('ignores RoPE inv_freq buffers and an lm_head equal to the tied embedding; refuses a different one', async () => {
    const ok = editedStories((t) => {
      t.set('model.layers.0.self_attn.rotary_emb.inv_freq', { dtype: 'float32', shape: [4], data: new Float32Array(4) });
      t.set('lm_head.weight', t.get('model.embed_tokens.weight')!);
    });
    const m = await loadLlama(ok);
    m.dispose();
    const bad = editedStories((t) => {
      const e = t.get('model.embed_tokens.weight')!;
      t.set('lm_head.weight', { ...e, data: new Float32Array(e.data.length) });
    });
    await expect(loadLlama(bad)).rejects.toThrow(/unexpected \(1\): lm_head\.weight \(tie_word_embeddings is true and it differs/);
  });

  it('bf16 weights load as float32', async () => {
    const dir = editedStories((t) => {
      for (const [k, r] of t) {
        const f = r.data as Float32Array;
        const bits = new Uint16Array(f.length);
        const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
        for (let i = 0; i < f.length; i++) bits[i] = u[i]! >>> 16; // truncation: exactly representable back
        t.set(k, { dtype: 'bfloat16', shape: r.shape, data: bits });
      }
    });
    const m = await loadLlama(dir);
    const e = m.params.get('model.embed_tokens.weight')!.dataSync();
    expect(e.every((x) => (new Uint32Array(Float32Array.of(x).buffer)[0]! & 0xffff) === 0)).toBe(true);
    m.dispose();
  });

  it('config errors are typed and name config.json and every problem', () => {
    const base = JSON.parse(fs.readFileSync(path.join(STORIES, 'config.json'), 'utf8'));
    const bad = (over: Record<string, unknown>) => () => llamaConfigFromHf({ ...base, ...over }, '/x/config.json');
    expect(bad({ num_key_value_heads: 3 })).toThrow(LlamaConfigError);
    expect(bad({ num_key_value_heads: 3 })).toThrow(/^\/x\/config\.json: .*numHeads 8 is not a multiple of numKvHeads 3/);
    expect(bad({ head_dim: undefined, hidden_size: 60 })).toThrow(/hiddenSize 60 is not divisible by numHeads 8/);
    expect(bad({ head_dim: 7 })).toThrow(/headDim 7 is odd/);
    expect(bad({ hidden_act: 'gelu', rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(/hidden_act "gelu" is not supported.*rope_scaling .* is not supported/);
    expect(bad({ model_type: 'mistral', architectures: ['MistralForCausalLM'] })).toThrow(/model_type "mistral" is not supported/);
    expect(bad({ vocab_size: undefined })).toThrow(/vocab_size is missing/);
    expect(bad({ num_hidden_layers: 0, rms_norm_eps: -1 })).toThrow(/numLayers must be a positive integer, got 0; .*rmsNormEps must be a positive number/);
    expect(bad({ vocab_size: 1e9, hidden_size: 4096, head_dim: 512 })).toThrow(/the embedding would hold/);
    expect(bad({ bos_token_id: 600 })).toThrow(/bosId 600 is not a token id/);
    // Qwen2: biases on q/k/v only; a list of eos ids.
    const q = llamaConfigFromHf({ ...base, model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], eos_token_id: [2, 5] });
    expect([q.qkvBias, q.oBias, q.eosIds]).toEqual([true, false, [2, 5]]);
  });

  it('folders with a missing or broken file are refused by file name', async () => {
    const empty = tmp('empty');
    await expect(loadLlama(empty)).rejects.toThrow(ModelFolderError);
    await expect(loadLlama(empty)).rejects.toThrow(new RegExp(`^${path.join(empty, 'config.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot read`));
    fs.copyFileSync(path.join(STORIES, 'config.json'), path.join(empty, 'config.json'));
    await expect(loadLlama(empty)).rejects.toThrow(/model\.safetensors: no model\.safetensors or model\.safetensors\.index\.json/);
    fs.writeFileSync(path.join(empty, 'config.json'), '{ not json');
    await expect(loadLlama(empty)).rejects.toThrow(/config\.json: not valid JSON/);
    expect(() => loadTokenizer(empty)).toThrow(/tokenizer\.json: cannot read: ENOENT/);
    fs.writeFileSync(path.join(empty, 'tokenizer.json'), '{"version": "1.0"}');
    expect(() => loadTokenizer(empty)).toThrow(/tokenizer\.json: not a Hugging Face tokenizer\.json/);
  });

  it('sharded checkpoints (model.safetensors.index.json) load like one file', async () => {
    const dir = tmp('shards');
    fs.copyFileSync(path.join(STORIES, 'config.json'), path.join(dir, 'config.json'));
    const { tensors } = parseSafetensors(fs.readFileSync(path.join(STORIES, 'model.safetensors')));
    const a = new Map([...tensors].filter(([k]) => !k.startsWith('model.layers.4')));
    const b = new Map([...tensors].filter(([k]) => k.startsWith('model.layers.4')));
    fs.writeFileSync(path.join(dir, 'model-00001-of-00002.safetensors'), serializeSafetensors(a));
    fs.writeFileSync(path.join(dir, 'model-00002-of-00002.safetensors'), serializeSafetensors(b));
    const weightMap = Object.fromEntries([...a.keys()].map((k) => [k, 'model-00001-of-00002.safetensors']).concat([...b.keys()].map((k) => [k, 'model-00002-of-00002.safetensors'])));
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const m = await loadLlama(dir);
    const ref = await loadLlama(STORIES);
    expect(Array.from(logitsOf(m))).toEqual(Array.from(logitsOf(ref)));
    m.dispose();
    ref.dispose();
  });
});
