/** ClipTokenizer: the r50k BPE, the compact corpus map, CLIP-style sequences, counters, JSON round trip, errors. */
import { encode as gptEncode } from 'gpt-tokenizer/encoding/r50k_base';
import { describe, expect, it } from 'vitest';

import { ClipTokenizer, ClipTokenizerError, EOT_ID, PAD_ID, RESERVED_IDS, SOT_ID, UNK_ID } from '../src/index.js';

const CORPUS = [
  'A person is cooking pasta in the kitchen.',
  'A man plays the guitar on the stage.',
  'A dog runs across the park.',
  'The woman is slicing a tomato in the kitchen.',
  'Two children play football in the park.',
  'Café au lait, s’il vous plaît — 日本語のキャプション.',
];

describe('ClipTokenizer', () => {
  it('uses the GPT-2 (r50k_base) BPE on normalised text: known ids', () => {
    const tok = ClipTokenizer.fromCorpus(CORPUS);
    // GPT-2 ids: "a" 64, " photo" 4590, " of" 286, " a" 257, " cat" 3797
    expect(tok.bpe('A   photo of\ta CAT ')).toEqual([64, 4590, 286, 257, 3797]);
    expect(tok.normalize('  A   photo of\ta CAT ')).toBe('a photo of a cat');
    for (const t of CORPUS) expect(tok.bpe(t)).toEqual(gptEncode(tok.normalize(t)));
    const cased = ClipTokenizer.fromCorpus(CORPUS, { lowercase: false });
    expect(cased.bpe('A photo')).toEqual(gptEncode('A photo'));
    expect(cased.bpe('A photo')).not.toEqual(tok.bpe('A photo'));
  });

  it('maps corpus BPE ids to compact ids after the reserved ones, most frequent first, and back', () => {
    const tok = ClipTokenizer.fromCorpus(CORPUS);
    expect([tok.pad, tok.sot, tok.eot, tok.unk]).toEqual([PAD_ID, SOT_ID, EOT_ID, UNK_ID]);
    expect([PAD_ID, SOT_ID, EOT_ID, UNK_ID, RESERVED_IDS]).toEqual([0, 1, 2, 3, 4]);
    const distinct = new Set(CORPUS.flatMap((t) => tok.bpe(t)));
    expect(tok.vocabSize).toBe(RESERVED_IDS + distinct.size);
    // an independent count: the most frequent BPE id gets the first corpus id
    const counts = new Map<number, number>();
    for (const t of CORPUS) for (const id of gptEncode(tok.normalize(t))) counts.set(id, (counts.get(id) ?? 0) + 1);
    const [top, topCount] = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]!;
    expect(topCount).toBeGreaterThan(3);
    expect(tok.idOf(top)).toBe(RESERVED_IDS);
    const json = tok.toJSON();
    expect(json.counts[0]).toBe(topCount);
    expect(json.bpeIds.map((id, i) => [id, json.counts[i]])).toEqual([...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]));
    for (let i = 1; i < json.counts.length; i++) expect(json.counts[i - 1]!).toBeGreaterThanOrEqual(json.counts[i]!);
    for (const t of CORPUS) {
      const bpe = tok.bpe(t);
      const ids = tok.encode(t, 64);
      expect(ids[0]).toBe(SOT_ID);
      expect(Array.from(ids.slice(1, 1 + bpe.length)).map((id) => tok.bpeIdOf(id))).toEqual(bpe);
      expect(ids[1 + bpe.length]).toBe(EOT_ID);
      expect(Array.from(ids.slice(2 + bpe.length))).toEqual(new Array(64 - 2 - bpe.length).fill(PAD_ID));
      expect(tok.decode(ids)).toBe(tok.normalize(t));
    }
    expect(tok.bpeIdOf(UNK_ID)).toBeUndefined();
    expect(tok.bpeIdOf(tok.vocabSize)).toBeUndefined();
  });

  it('maxVocab and minCount limit the map', () => {
    const all = ClipTokenizer.fromCorpus(CORPUS);
    const top5 = ClipTokenizer.fromCorpus(CORPUS, { maxVocab: 5 });
    expect(top5.vocabSize).toBe(RESERVED_IDS + 5);
    expect(top5.toJSON().bpeIds).toEqual(all.toJSON().bpeIds.slice(0, 5));
    const frequent = ClipTokenizer.fromCorpus(CORPUS, { minCount: 2 });
    expect(frequent.toJSON().counts.every((c) => c >= 2)).toBe(true);
    expect(frequent.vocabSize).toBe(RESERVED_IDS + all.toJSON().counts.filter((c) => c >= 2).length);
    expect(frequent.vocabSize).toBeLessThan(all.vocabSize);
  });

  it('maps ids outside the map to the one unk id and counts them (per call and in total)', () => {
    const tok = ClipTokenizer.fromCorpus(CORPUS);
    expect([tok.totalTokens, tok.oovTokens]).toEqual([0, 0]);
    const text = 'A dog plays the trombone in the kitchen.';
    const bpe = tok.bpe(text);
    const known = new Set(CORPUS.flatMap((t) => tok.bpe(t)));
    const oovCount = bpe.filter((id) => !known.has(id)).length;
    expect(oovCount).toBeGreaterThan(0); // " trombone" is not in the corpus
    const stats = { tokens: -1, oov: -1, truncated: true, eotIndex: -1 };
    const ids = tok.encode(text, 32, stats);
    expect(stats).toEqual({ tokens: bpe.length, oov: oovCount, truncated: false, eotIndex: bpe.length + 1 });
    bpe.forEach((id, i) => expect(ids[1 + i]).toBe(known.has(id) ? tok.idOf(id) : UNK_ID));
    expect(tok.decode(ids)).toContain('<|unk|>');
    expect(tok.decode(ids, '?')).toMatch(/^a dog plays the\?+ in the kitchen\.$/);
    expect([tok.totalTokens, tok.oovTokens]).toEqual([bpe.length, oovCount]);
    const batch = tok.encodeBatch([text, CORPUS[0]!], 32);
    expect([batch.totalTokens, batch.oovTokens]).toEqual([bpe.length + tok.bpe(CORPUS[0]!).length, oovCount]);
    expect([tok.totalTokens, tok.oovTokens]).toEqual([2 * bpe.length + tok.bpe(CORPUS[0]!).length, 2 * oovCount]);
    tok.resetCounters();
    expect([tok.totalTokens, tok.oovTokens]).toEqual([0, 0]);
  });

  it('special-token strings in the text are plain text, never sot/eot', () => {
    const tok = ClipTokenizer.fromCorpus(['<|endoftext|> is text here']);
    const ids = tok.encode('<|endoftext|> is text here', 32);
    expect(ids.indexOf(EOT_ID)).toBe(1 + tok.bpe('<|endoftext|> is text here').length);
    expect(tok.decode(ids)).toBe('<|endoftext|> is text here');
  });

  it('truncates so that the eot is always present (CLIP style)', () => {
    const tok = ClipTokenizer.fromCorpus(CORPUS);
    const text = CORPUS[0]!; // 10 BPE tokens
    const n = tok.bpe(text).length;
    expect(n).toBeGreaterThan(8);
    const stats = { tokens: 0, oov: 0, truncated: false, eotIndex: 0 };
    const ids = tok.encode(text, 8, stats);
    expect(ids.length).toBe(8);
    expect(ids[0]).toBe(SOT_ID);
    expect(ids[7]).toBe(EOT_ID);
    expect(Array.from(ids.slice(1, 7))).toEqual(tok.bpe(text).slice(0, 6).map((b) => tok.idOf(b)));
    expect(stats).toEqual({ tokens: n, oov: 0, truncated: true, eotIndex: 7 });
    expect(Array.from(tok.encode(text, 2))).toEqual([SOT_ID, EOT_ID]);
    expect(Array.from(tok.encode('', 4))).toEqual([SOT_ID, EOT_ID, PAD_ID, PAD_ID]);
    // exactly fits: n content tokens in n + 2
    const fit = tok.encode(text, n + 2, stats);
    expect([fit[n + 1], stats.truncated]).toEqual([EOT_ID, false]);
  });

  it('encodeBatch is the row-major concatenation of encode, with each eot position', () => {
    const tok = ClipTokenizer.fromCorpus(CORPUS);
    const texts = [CORPUS[1]!, 'a dog', CORPUS[0]!];
    const b = tok.encodeBatch(texts, 9);
    expect(b.shape).toEqual([3, 9]);
    expect(b.ids).toBeInstanceOf(Int32Array);
    expect(Array.from(b.ids)).toEqual(texts.flatMap((t) => Array.from(tok.encode(t, 9))));
    expect(Array.from(b.eotIndex)).toEqual([8, 3, 8]);
    texts.forEach((_, i) => expect(b.ids[i * 9 + b.eotIndex[i]!]).toBe(EOT_ID));
    expect(b.truncated).toBe(2);
    expect(tok.encodeBatch([], 5).ids.length).toBe(0);
  });

  it('toJSON / fromJSON round-trip exactly (object and string)', () => {
    const tok = ClipTokenizer.fromCorpus(CORPUS, { maxVocab: 30, lowercase: false });
    const json = tok.toJSON();
    const s = JSON.stringify(json);
    const back = ClipTokenizer.fromJSON(JSON.parse(s));
    const back2 = ClipTokenizer.fromJSON(s);
    expect(JSON.stringify(back.toJSON())).toBe(s);
    expect(JSON.stringify(back2.toJSON())).toBe(s);
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect(back.lowercase).toBe(false);
    for (const t of [...CORPUS, 'Something else entirely, with OOV words: zyzzyva.']) {
      expect(Array.from(back.encode(t, 20))).toEqual(Array.from(tok.encode(t, 20)));
    }
    // the returned JSON is a copy: mutating it does not change the tokenizer
    json.bpeIds[0] = 0;
    expect(tok.toJSON().bpeIds[0]).not.toBe(0);
  });

  it('throws typed errors naming the cause', () => {
    const tok = ClipTokenizer.fromCorpus(CORPUS);
    const bad = (f: () => unknown, re: RegExp) => {
      expect(f).toThrow(ClipTokenizerError);
      expect(f).toThrow(re);
    };
    bad(() => tok.encode(42 as unknown as string, 8), /text must be a string, got number/);
    bad(() => tok.encode(null as unknown as string, 8), /got null/);
    bad(() => tok.encode('a', 1), /contextLength must be an integer ≥ 2.*got 1/);
    bad(() => tok.encode('a', 2.5), /got 2\.5/);
    bad(() => tok.encode('a', Number.NaN), /got NaN/);
    bad(() => tok.encodeBatch(['a', 7 as unknown as string], 8), /texts\[1\]: text must be a string/);
    bad(() => tok.encodeBatch('abc' as unknown as string[], 8), /texts must be an array/);
    bad(() => ClipTokenizer.fromCorpus([]), /corpus is empty/);
    bad(() => ClipTokenizer.fromCorpus(['a', undefined as unknown as string]), /texts\[1\]: text must be a string, got undefined/);
    bad(() => ClipTokenizer.fromCorpus(CORPUS, { maxVocab: 0 }), /maxVocab must be a positive integer, got 0/);
    bad(() => ClipTokenizer.fromCorpus(CORPUS, { minCount: 1.5 }), /minCount must be a positive integer, got 1\.5/);
    bad(() => tok.decode([tok.vocabSize]), new RegExp(`id ${tok.vocabSize} at 0 is outside the vocabulary`));
    const j = tok.toJSON();
    bad(() => ClipTokenizer.fromJSON('{not json'), /not JSON/);
    bad(() => ClipTokenizer.fromJSON({ ...j, format: 'other' } as never), /format is "other"/);
    bad(() => ClipTokenizer.fromJSON({ ...j, version: 2 } as never), /version 2 is not supported/);
    bad(() => ClipTokenizer.fromJSON({ ...j, bpeIds: [5, 5], counts: [1, 1] }), /bpeIds\[1\] = 5 appears twice/);
    bad(() => ClipTokenizer.fromJSON({ ...j, bpeIds: [50256], counts: [1] }), /bpeIds\[0\] = 50256 is not a BPE token id/);
    bad(() => ClipTokenizer.fromJSON({ ...j, counts: [] }), /counts must be an array as long as bpeIds/);
    bad(() => ClipTokenizer.fromJSON({ ...j, special: { pad: 1, sot: 0, eot: 2, unk: 3 } }), /special ids/);
  });
});
