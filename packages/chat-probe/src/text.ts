/** The probe's texts from a dataset: each clip's caption and its multiple-choice questions. */
import type { ClipDataset } from '@flux/train';

import type { ProbeText } from './probe.js';

/** `text(indices)` for a dataset with captions and questions (the embedded Moving-MNIST has both). */
export function datasetText(ds: ClipDataset): (indices: readonly number[]) => Promise<ProbeText[]> {
  if (!ds.captions || !ds.questions) throw new Error('the chat probe needs a dataset with captions and questions (the embedded Moving-MNIST has both)');
  return async (indices) => {
    const [caps, qas] = await Promise.all([ds.captions!(indices), ds.questions!(indices)]);
    return caps.map((caption, i) => ({ caption, qa: qas[i]! }));
  };
}

/** Training text for a built-in LM that knows the probe's language: every caption, and every question with its answer. */
export async function probeCorpus(ds: ClipDataset, limit = ds.count): Promise<string[]> {
  const text = datasetText(ds);
  const idx = Array.from({ length: Math.min(limit, ds.count) }, (_, i) => i);
  const out: string[] = [];
  for (const t of await text(idx)) {
    out.push(`Describe the video. ${t.caption}`);
    for (const q of t.qa) out.push(`Question: ${q.question} Options: ${q.options.join(', ')}. Answer: ${q.options[q.answer]}`);
  }
  return out;
}
