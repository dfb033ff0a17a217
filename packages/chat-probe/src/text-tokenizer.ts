/**
 * Tokenizers of Hugging Face model folders (`tokenizer.json` + `tokenizer_config.json`) through
 * `@huggingface/tokenizers` (pure JS: BPE with byte fallback, Metaspace / ByteLevel, template post-processors),
 * behind the small {@link TextTokenizer} interface the chat probe uses.
 */
import fs from 'node:fs';
import path from 'node:path';

import { atomicWriteFileSync } from '@flux/core';
import { Tokenizer } from '@huggingface/tokenizers';

import { LanguageModelError, ModelFolderError } from './lm-errors.js';

export interface EncodeOptions {
  /**
   * true: BOS first (when the tokenizer has one), no other special tokens; false: no special tokens. Default:
   * the tokenizer's own post-processor (for Llama tokenizers, BOS first).
   */
  addBos?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (BOS, EOS, …). Default true. */
  skipSpecial?: boolean;
}

/** What the chat probe needs from a tokenizer. */
export interface TextTokenizer {
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** Tokens in the vocabulary, added tokens included (ids are below this; a model's vocab may be larger). */
  readonly vocabSize: number;
}

function tokenContent(t: unknown): string | null {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string') return (t as { content: string }).content;
  return null;
}

/** A Hugging Face `tokenizer.json` (with its `tokenizer_config.json`) as a {@link TextTokenizer}. */
export class HfTokenizer implements TextTokenizer {
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly vocabSize: number;
  private readonly tok: Tokenizer;
  private readonly cleanUp: boolean;

  /**
   * @param tokenizerJson the parsed tokenizer.json
   * @param tokenizerConfig the parsed tokenizer_config.json (`{}` when there is none)
   * @param name names the source in errors
   */
  constructor(
    readonly tokenizerJson: Record<string, unknown>,
    readonly tokenizerConfig: Record<string, unknown> = {},
    name = 'tokenizer.json',
  ) {
    if (tokenizerJson === null || typeof tokenizerJson !== 'object' || typeof tokenizerJson.model !== 'object') throw new ModelFolderError(name, 'not a Hugging Face tokenizer.json (no "model" object)');
    try {
      this.tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new ModelFolderError(name, `@huggingface/tokenizers cannot build this tokenizer: ${e instanceof Error ? e.message : String(e)}`);
    }
    const idOf = (k: string) => {
      const c = tokenContent(tokenizerConfig[k]);
      return c === null ? null : (this.tok.token_to_id(c) ?? null);
    };
    this.bosId = idOf('bos_token');
    this.eosId = idOf('eos_token');
    const vocab = this.tok.get_vocab(true);
    this.vocabSize = Math.max(vocab.size, ...[...vocab.values()].map((v) => v + 1));
    this.cleanUp = tokenizerConfig.clean_up_tokenization_spaces === true;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new LanguageModelError(`HfTokenizer.encode: text must be a string, got ${typeof text}`);
    if (options.addBos === undefined) return this.tok.encode(text).ids;
    const ids = this.tok.encode(text, { add_special_tokens: false }).ids;
    return options.addBos && this.bosId !== null ? [this.bosId, ...ids] : ids;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    return this.tok.decode(Array.from(ids), { skip_special_tokens: options.skipSpecial ?? true, clean_up_tokenization_spaces: this.cleanUp });
  }

  /** The token string of an id (undefined outside the vocabulary). */
  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** Writes tokenizer.json and tokenizer_config.json into `dir` (created). */
  save(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    atomicWriteFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(this.tokenizerJson));
    atomicWriteFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(this.tokenizerConfig, null, 2) + '\n');
  }
}

/** Reads and parses a JSON file; a missing or malformed file throws a {@link ModelFolderError} naming it. */
export function readJsonFile(file: string, optional = false): Record<string, unknown> | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ModelFolderError(file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    const j = JSON.parse(text) as unknown;
    if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error('not a JSON object');
    return j as Record<string, unknown>;
  } catch (e) {
    throw new ModelFolderError(file, `not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The tokenizer of a Hugging Face model folder: `tokenizer.json` (required) and `tokenizer_config.json` (optional). */
export function loadTokenizer(dir: string): HfTokenizer {
  const file = path.join(dir, 'tokenizer.json');
  const json = readJsonFile(file)!;
  const config = readJsonFile(path.join(dir, 'tokenizer_config.json'), true) ?? {};
  return new HfTokenizer(json, config, file);
}

/** Special tokens of {@link wordLevelTokenizer}, at ids 0, 1, 2 (the built-in LM's unk / BOS / EOS). */
export const WORD_LEVEL_SPECIALS = Object.freeze({ unk: '<unk>', bos: '<s>', eos: '</s>' });

/**
 * A word-level tokenizer for a built-in LM that knows a closed vocabulary: every word and punctuation run of `texts`
 * (split on whitespace and punctuation) is one token, anything else `<unk>`. Written as a Hugging Face WordPiece
 * `tokenizer.json` whose vocabulary holds whole words only, so it loads anywhere `tokenizers` does.
 */
export function wordLevelTokenizer(texts: readonly string[]): HfTokenizer {
  const words = new Set<string>();
  for (const t of texts) for (const w of t.match(/\w+|[^\w\s]+/gu) ?? []) words.add(w);
  const { unk, bos, eos } = WORD_LEVEL_SPECIALS;
  const vocab: Record<string, number> = { [unk]: 0, [bos]: 1, [eos]: 2 };
  for (const w of [...words].sort()) if (!(w in vocab)) vocab[w] = Object.keys(vocab).length;
  const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(unk, 0), special(bos, 1), special(eos, 2)],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }],
      special_tokens: { [bos]: { id: bos, ids: [1], tokens: [bos] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: unk, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  return new HfTokenizer(json, { bos_token: bos, eos_token: eos, unk_token: unk, clean_up_tokenization_spaces: true }, 'word-level tokenizer');
}
