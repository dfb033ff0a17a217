/** The probe's texts from a dataset: each clip's caption and its multiple-choice questions. */
import type { ClipDataset } from '@flux/train';

import { CAPTION_PROMPT, questionPrompt, type ProbeText } from './probe.js';

/** `text(indices)` for a dataset with captions and questions (the embedded Moving-MNIST has both). */
export function datasetText(ds: ClipDataset): (indices: readonly number[]) => Promise<ProbeText[]> {
  if (!ds.captions || !ds.questions) throw new Error('the chat probe needs a dataset with captions and questions (the embedded Moving-MNIST has both)');
  return async (indices) => {
    const [caps, qas] = await Promise.all([ds.captions!(indices), ds.questions!(indices)]);
    return caps.map((caption, i) => ({ caption, qa: qas[i]! }));
  };
}

/**
 * Training text for a built-in LM that knows the probe's language. With `context: 'caption'` (the default) every
 * line starts with the clip's caption, then a task in the probe's prompt format and its answer — `C Describe the
 * video. C` and `C Question: … Options: … Answer: a` — so the LM learns to answer from what precedes the prompt, the
 * place where the probe puts the visual tokens (a pretrained chat LM brings that skill; a tiny LM has to be taught
 * it). `context: 'none'` gives the bare prompt-and-answer lines (the LM can then only learn the answers' prior).
 */
export async function probeCorpus(ds: ClipDataset, limit = ds.count, options: { context?: 'caption' | 'none' } = {}): Promise<string[]> {
  const context = options.context ?? 'caption';
  if (context !== 'caption' && context !== 'none') throw new RangeError(`probeCorpus: context must be 'caption' or 'none', got ${String(context)}`);
  const text = datasetText(ds);
  const idx = Array.from({ length: Math.min(limit, ds.count) }, (_, i) => i);
  const out: string[] = [];
  for (const t of await text(idx)) {
    const pre = context === 'caption' ? `${t.caption} ` : '';
    out.push(`${pre}${CAPTION_PROMPT} ${t.caption}`);
    for (const q of t.qa) out.push(`${pre}${questionPrompt(q)} ${q.options[q.answer]}`);
  }
  return out;
}
