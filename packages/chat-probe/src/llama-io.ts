/**
 * Hugging Face model folders: {@link loadLlama} reads `config.json` (+ `generation_config.json`) and
 * `model.safetensors` (or the shards of `model.safetensors.index.json`); {@link saveLlama} writes a folder it
 * reads back. Weights of any float dtype are read as float32.
 */
import fs from 'node:fs';
import path from 'node:path';

import { atomicWriteFileSync, readSafetensors, readSafetensorsSync, serializeSafetensors, type SafetensorsFile, type StateDict } from '@flux/core';

import { ModelFolderError } from './lm-errors.js';
import { LlamaModel, llamaConfigFromHf, llamaConfigToHf, type LlamaConfig } from './llama.js';
import { HfTokenizer, readJsonFile } from './text-tokenizer.js';

/** The config of a model folder: config.json, with generation_config.json's eos ids added to the stop ids. */
export function readLlamaConfig(dir: string): LlamaConfig {
  const file = path.join(dir, 'config.json');
  const cfg = llamaConfigFromHf(readJsonFile(file), file);
  const gen = readJsonFile(path.join(dir, 'generation_config.json'), true);
  if (gen) {
    const e = gen.eos_token_id;
    const extra = (Array.isArray(e) ? e : e == null ? [] : [e]).filter((x): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) < cfg.vocabSize);
    for (const x of extra) if (!cfg.eosIds.includes(x)) cfg.eosIds.push(x);
  }
  return cfg;
}

interface WeightSource {
  /** Names the weights in errors (the file, or the index of a sharded checkpoint). */
  file: string;
  shards: string[];
}

function weightSource(dir: string): WeightSource {
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(single)) return { file: single, shards: [single] };
  const index = path.join(dir, 'model.safetensors.index.json');
  if (fs.existsSync(index)) {
    const j = readJsonFile(index)!;
    const map = j.weight_map;
    if (!map || typeof map !== 'object') throw new ModelFolderError(index, 'no "weight_map" object');
    const shards = [...new Set(Object.values(map as Record<string, unknown>))];
    if (!shards.every((s): s is string => typeof s === 'string' && !s.includes('/') && !s.includes('\\'))) throw new ModelFolderError(index, 'weight_map values must be shard file names in the same folder');
    return { file: index, shards: shards.map((s) => path.join(dir, s)) };
  }
  const other = ['pytorch_model.bin', 'model.bin'].filter((f) => fs.existsSync(path.join(dir, f)));
  throw new ModelFolderError(single, `no model.safetensors or model.safetensors.index.json in ${dir}${other.length ? ` (found ${other.join(', ')}: convert it to safetensors)` : ''}`);
}

function merge(files: SafetensorsFile[]): StateDict {
  const out: StateDict = new Map();
  for (const f of files) for (const [k, r] of f.tensors) out.set(k, r);
  return out;
}

function build(cfg: LlamaConfig, tensors: StateDict, file: string): LlamaModel {
  const model = new LlamaModel(cfg, { init: 'zeros' });
  try {
    model.loadStateDict(tensors, file);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * A {@link LlamaModel} from a Hugging Face folder (LlamaForCausalLM / Qwen2ForCausalLM). The config is validated
 * ({@link LlamaConfigError}); the weights load strictly ({@link LlamaStateDictMismatchError} naming the file and
 * every missing, unexpected and mis-shaped tensor; nothing assigned). The tokenizer is {@link loadTokenizer}'s.
 */
export async function loadLlama(dir: string): Promise<LlamaModel> {
  const cfg = readLlamaConfig(dir);
  const src = weightSource(dir);
  const files: SafetensorsFile[] = [];
  for (const s of src.shards) files.push(await readSafetensors(s));
  return build(cfg, merge(files), src.file);
}

/** Synchronous {@link loadLlama}. */
export function loadLlamaSync(dir: string): LlamaModel {
  const cfg = readLlamaConfig(dir);
  const src = weightSource(dir);
  return build(cfg, merge(src.shards.map((s) => readSafetensorsSync(s))), src.file);
}

export interface SaveLlamaOptions {
  /** Also write tokenizer.json and tokenizer_config.json. */
  tokenizer?: HfTokenizer;
}

/**
 * Writes `dir/config.json` (HF layout), `generation_config.json` and `model.safetensors` (float32, HF names and
 * PyTorch layouts), each atomically; {@link loadLlama} reads the folder back to the same model.
 */
export function saveLlama(model: LlamaModel, dir: string, options: SaveLlamaOptions = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  const c = model.config;
  atomicWriteFileSync(path.join(dir, 'config.json'), JSON.stringify(llamaConfigToHf(c), null, 2) + '\n');
  const gen = { bos_token_id: c.bosId, eos_token_id: c.eosIds.length === 1 ? c.eosIds[0] : c.eosIds };
  atomicWriteFileSync(path.join(dir, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');
  atomicWriteFileSync(path.join(dir, 'model.safetensors'), serializeSafetensors(model.stateDict(), { format: 'pt', producer: '@flux/chat-probe' }));
  options.tokenizer?.save(dir);
}
