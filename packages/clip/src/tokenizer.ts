/**
 * The text tokenizer: GPT-2's byte-level BPE (the `r50k_base` encoding of the MIT `gpt-tokenizer` package,
 * vocabulary bundled, fully offline), so any English text tokenizes; and a compact id map built from a
 * training corpus, so that the embedding table holds only the tokens the corpus uses.
 *
 * Compact ids: 0 = pad, 1 = start of text, 2 = end of text, 3 = unknown, then the corpus's BPE tokens from 4
 * on, most frequent first. A BPE token the map does not hold becomes `unk` and is counted.
 *
 * Sequences are CLIP-style: `[sot, ...tokens, eot, pad, …]` of a fixed context length, truncated so that the
 * eot is always there (InternVideo2 trains with 32 text tokens, OpenAI CLIP with 77).
 */
import { decode as bpeDecode, encode as bpeEncode, vocabularySize as BPE_VOCAB_WITH_SPECIAL } from 'gpt-tokenizer/encoding/r50k_base';

import { ClipTokenizerError } from './errors.js';

/** Reserved compact ids. */
export const PAD_ID = 0;
export const SOT_ID = 1;
export const EOT_ID = 2;
export const UNK_ID = 3;
/** Number of reserved ids; corpus tokens start here. */
export const RESERVED_IDS = 4;

/** The BPE encoding's plain (non-special) token ids are 0 … 50255; 50256 is `<|endoftext|>`. */
const BPE_PLAIN_VOCAB = BPE_VOCAB_WITH_SPECIAL - 1;

/** Special-token strings in the text are encoded as plain text, never as the BPE's special ids. */
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

const JSON_FORMAT = 'flux-clip-tokenizer';
const JSON_VERSION = 1;

export interface ClipTokenizerOptions {
  /** Lower-case the text before BPE (default true, as CLIP's tokenizer does). */
  lowercase?: boolean;
}

export interface FromCorpusOptions extends ClipTokenizerOptions {
  /** Most corpus tokens kept (the most frequent; ties by BPE id). Default: all. vocabSize = kept + 4. */
  maxVocab?: number;
  /** Keep only tokens seen at least this many times (default 1). */
  minCount?: number;
}

/** What one {@link ClipTokenizer.encode} call saw (pass an object to fill). */
export interface EncodeStats {
  /** BPE tokens of the (normalised) text, before truncation. */
  tokens: number;
  /** Of those, how many the compact map does not hold (they became `unk`). */
  oov: number;
  /** Whether tokens were dropped to fit the context length. */
  truncated: boolean;
  /** Position of the eot token in the returned sequence. */
  eotIndex: number;
}

/** A tokenized batch: `ids` row-major [B, T] and the eot position of each row. */
export interface TokenizedBatch {
  ids: Int32Array;
  eotIndex: Int32Array;
  /** [B, T]. */
  shape: [number, number];
  /** BPE tokens of the batch's texts, before truncation, and how many of them became `unk`. */
  totalTokens: number;
  oovTokens: number;
  /** Rows whose text was truncated. */
  truncated: number;
}

/** The serialised tokenizer (plain JSON; {@link ClipTokenizer.fromJSON} restores it exactly). */
export interface ClipTokenizerJSON {
  format: typeof JSON_FORMAT;
  version: typeof JSON_VERSION;
  encoding: 'r50k_base';
  lowercase: boolean;
  special: { pad: number; sot: number; eot: number; unk: number };
  /** The kept BPE ids; the compact id of `bpeIds[i]` is `4 + i`. */
  bpeIds: number[];
  /** How often each kept id occurred in the corpus (same order; informational). */
  counts: number[];
}

function checkText(text: unknown, where: string): asserts text is string {
  if (typeof text !== 'string') throw new ClipTokenizerError(`${where}: text must be a string, got ${text === null ? 'null' : typeof text}`);
}

function checkContextLength(n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 2) {
    throw new ClipTokenizerError(`contextLength must be an integer ≥ 2 (room for sot and eot), got ${String(n)}`);
  }
}

export class ClipTokenizer {
  static readonly PAD = PAD_ID;
  static readonly SOT = SOT_ID;
  static readonly EOT = EOT_ID;
  static readonly UNK = UNK_ID;

  readonly pad = PAD_ID;
  readonly sot = SOT_ID;
  readonly eot = EOT_ID;
  readonly unk = UNK_ID;
  readonly lowercase: boolean;
  /** Compact vocabulary size (reserved ids included): the token embedding's row count. */
  readonly vocabSize: number;

  private readonly bpeIds: readonly number[];
  private readonly counts: readonly number[];
  private readonly toCompact: Map<number, number>;
  private oov = 0;
  private total = 0;

  private constructor(bpeIds: number[], counts: number[], lowercase: boolean) {
    this.bpeIds = Object.freeze(bpeIds.slice());
    this.counts = Object.freeze(counts.slice());
    this.lowercase = lowercase;
    this.vocabSize = RESERVED_IDS + bpeIds.length;
    this.toCompact = new Map(bpeIds.map((b, i) => [b, RESERVED_IDS + i]));
  }

  /**
   * Builds the compact map from a training corpus: the BPE ids seen in `texts`, most frequent first (ties by
   * BPE id), at least `minCount` times, at most `maxVocab` of them.
   */
  static fromCorpus(texts: readonly string[], opts: FromCorpusOptions = {}): ClipTokenizer {
    if (!Array.isArray(texts)) throw new ClipTokenizerError(`fromCorpus: texts must be an array of strings, got ${typeof texts}`);
    if (texts.length === 0) throw new ClipTokenizerError('fromCorpus: the corpus is empty');
    const { maxVocab, minCount = 1, lowercase = true } = opts;
    if (maxVocab !== undefined && (!Number.isInteger(maxVocab) || maxVocab < 1)) throw new ClipTokenizerError(`fromCorpus: maxVocab must be a positive integer, got ${String(maxVocab)}`);
    if (!Number.isInteger(minCount) || minCount < 1) throw new ClipTokenizerError(`fromCorpus: minCount must be a positive integer, got ${String(minCount)}`);
    if (typeof lowercase !== 'boolean') throw new ClipTokenizerError(`lowercase must be a boolean, got ${typeof lowercase}`);
    const counts = new Map<number, number>();
    const probe = new ClipTokenizer([], [], lowercase);
    texts.forEach((t, i) => {
      checkText(t, `fromCorpus: texts[${i}]`);
      for (const id of probe.bpe(t)) counts.set(id, (counts.get(id) ?? 0) + 1);
    });
    const kept = [...counts].filter(([, c]) => c >= minCount).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const top = maxVocab === undefined ? kept : kept.slice(0, maxVocab);
    return new ClipTokenizer(
      top.map(([id]) => id),
      top.map(([, c]) => c),
      lowercase,
    );
  }

  /** Restores {@link toJSON} output (an object or its JSON string), validating every field. */
  static fromJSON(json: ClipTokenizerJSON | string): ClipTokenizer {
    let o: unknown = json;
    if (typeof json === 'string') {
      try {
        o = JSON.parse(json);
      } catch (e) {
        throw new ClipTokenizerError(`fromJSON: not JSON (${(e as Error).message})`);
      }
    }
    const bad = (msg: string): never => {
      throw new ClipTokenizerError(`fromJSON: ${msg}`);
    };
    if (o === null || typeof o !== 'object' || Array.isArray(o)) bad('expected an object');
    const j = o as Partial<ClipTokenizerJSON>;
    if (j.format !== JSON_FORMAT) bad(`format is ${JSON.stringify(j.format)}, expected "${JSON_FORMAT}"`);
    if (j.version !== JSON_VERSION) bad(`version ${JSON.stringify(j.version)} is not supported (expected ${JSON_VERSION})`);
    if (j.encoding !== 'r50k_base') bad(`encoding ${JSON.stringify(j.encoding)} is not supported (expected "r50k_base")`);
    if (typeof j.lowercase !== 'boolean') bad('lowercase must be a boolean');
    const s = j.special;
    if (!s || s.pad !== PAD_ID || s.sot !== SOT_ID || s.eot !== EOT_ID || s.unk !== UNK_ID) {
      bad(`special ids ${JSON.stringify(s)} differ from {"pad":0,"sot":1,"eot":2,"unk":3}`);
    }
    if (!Array.isArray(j.bpeIds)) bad('bpeIds must be an array');
    if (!Array.isArray(j.counts) || j.counts.length !== j.bpeIds!.length) bad('counts must be an array as long as bpeIds');
    const seen = new Set<number>();
    j.bpeIds!.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= BPE_PLAIN_VOCAB) bad(`bpeIds[${i}] = ${JSON.stringify(id)} is not a BPE token id (0…${BPE_PLAIN_VOCAB - 1})`);
      if (seen.has(id)) bad(`bpeIds[${i}] = ${id} appears twice`);
      seen.add(id);
    });
    j.counts!.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0) bad(`counts[${i}] = ${JSON.stringify(c)} is not a count`);
    });
    return new ClipTokenizer(j.bpeIds!, j.counts!, j.lowercase!);
  }

  /** JSON-serialisable form (save it with a run). The OOV counters are runtime state and not included. */
  toJSON(): ClipTokenizerJSON {
    return {
      format: JSON_FORMAT,
      version: JSON_VERSION,
      encoding: 'r50k_base',
      lowercase: this.lowercase,
      special: { pad: PAD_ID, sot: SOT_ID, eot: EOT_ID, unk: UNK_ID },
      bpeIds: [...this.bpeIds],
      counts: [...this.counts],
    };
  }

  /** The text as the BPE sees it: NFC, whitespace runs collapsed to one space, trimmed, lower-cased (by default). */
  normalize(text: string): string {
    checkText(text, 'normalize');
    const t = text.normalize('NFC').replace(/\s+/g, ' ').trim();
    return this.lowercase ? t.toLowerCase() : t;
  }

  /** The r50k_base BPE ids of the normalised text (special-token strings count as plain text). */
  bpe(text: string): number[] {
    checkText(text, 'bpe');
    return bpeEncode(this.normalize(text), AS_PLAIN_TEXT);
  }

  /** The compact id of a BPE id (`unk` when the map does not hold it). */
  idOf(bpeId: number): number {
    return this.toCompact.get(bpeId) ?? UNK_ID;
  }

  /** The BPE id of a compact corpus id, or undefined for reserved and out-of-range ids. */
  bpeIdOf(id: number): number | undefined {
    return Number.isInteger(id) && id >= RESERVED_IDS ? this.bpeIds[id - RESERVED_IDS] : undefined;
  }

  /** BPE tokens seen by encode / encodeBatch since construction or {@link resetCounters} (before truncation). */
  get totalTokens(): number {
    return this.total;
  }

  /** Of {@link totalTokens}, how many became `unk`. */
  get oovTokens(): number {
    return this.oov;
  }

  resetCounters(): void {
    this.oov = 0;
    this.total = 0;
  }

  /**
   * `[sot, ...ids, eot, pad…]` of length `contextLength` (content truncated to contextLength − 2 tokens, so the
   * eot is always present). `stats`, when given, is filled with what this call saw.
   */
  encode(text: string, contextLength: number, stats?: EncodeStats): Int32Array {
    checkText(text, 'encode');
    checkContextLength(contextLength);
    const out = new Int32Array(contextLength);
    const s = this.encodeInto(text, contextLength, out, 0);
    if (stats) Object.assign(stats, s);
    return out;
  }

  /** Encodes every text into one row-major [B, T] buffer, with each row's eot position. */
  encodeBatch(texts: readonly string[], contextLength: number): TokenizedBatch {
    if (!Array.isArray(texts)) throw new ClipTokenizerError(`encodeBatch: texts must be an array of strings, got ${typeof texts}`);
    texts.forEach((t, i) => checkText(t, `encodeBatch: texts[${i}]`));
    checkContextLength(contextLength);
    const b = texts.length;
    const ids = new Int32Array(b * contextLength);
    const eotIndex = new Int32Array(b);
    let totalTokens = 0;
    let oovTokens = 0;
    let truncated = 0;
    texts.forEach((t, i) => {
      const s = this.encodeInto(t, contextLength, ids, i * contextLength);
      eotIndex[i] = s.eotIndex;
      totalTokens += s.tokens;
      oovTokens += s.oov;
      if (s.truncated) truncated++;
    });
    return { ids, eotIndex, shape: [b, contextLength], totalTokens, oovTokens, truncated };
  }

  /**
   * Text of compact ids: pad and sot are skipped, decoding stops at the first eot, `unk` becomes `unkText`.
   * For in-vocabulary text, `decode(encode(t, T))` is `normalize(t)` (when it fits in T − 2 tokens).
   */
  decode(ids: ArrayLike<number>, unkText = '<|unk|>'): string {
    let out = '';
    let run: number[] = [];
    const flush = () => {
      if (run.length) out += bpeDecode(run);
      run = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === EOT_ID) break;
      if (id === PAD_ID || id === SOT_ID) continue;
      const bpeId = this.bpeIdOf(id);
      if (bpeId === undefined) {
        if (id !== UNK_ID) throw new ClipTokenizerError(`decode: id ${id} at ${i} is outside the vocabulary (size ${this.vocabSize})`);
        flush();
        out += unkText;
      } else run.push(bpeId);
    }
    flush();
    return out;
  }

  private encodeInto(text: string, contextLength: number, out: Int32Array, at: number): EncodeStats {
    const bpe = this.bpe(text);
    let oov = 0;
    for (const id of bpe) if (!this.toCompact.has(id)) oov++;
    this.total += bpe.length;
    this.oov += oov;
    const n = Math.min(bpe.length, contextLength - 2);
    out[at] = SOT_ID;
    for (let i = 0; i < n; i++) out[at + 1 + i] = this.idOf(bpe[i]!);
    out[at + 1 + n] = EOT_ID;
    // the rest stays PAD_ID (0): fresh buffers are zero-filled
    return { tokens: bpe.length, oov, truncated: n < bpe.length, eotIndex: 1 + n };
  }
}
