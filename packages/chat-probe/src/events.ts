/**
 * Caption quality as event precision / recall / F1 (Dream-1k style): the events of a caption are the facts it
 * states about each digit — which digit, its direction, its speed — read back from the text.
 */
import { DIRECTIONS, directionPhrase } from '@flux/video';

const ADVERBS: Record<string, string> = { slowly: 'slow', quickly: 'fast' };
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** Direction phrases, longest first so "up and to the left" wins over "up" and "left". */
const PHRASES = [...DIRECTIONS].map((d) => ({ d, p: directionPhrase(d) })).sort((a, b) => b.p.length - a.p.length);

/**
 * Events of a caption: `digit:7`, `direction:left`, `speed:fast`, and the joined `7:left`, `7:fast` when a digit is
 * named before the motion in the same clause. Unknown words are ignored; only the first motion of a clause
 * counts (a bounce's "moves right" after it is a second direction event).
 */
export function captionEvents(text: string): Set<string> {
  const events = new Set<string>();
  const clauses = text.toLowerCase().split(/,|\bwhile\b|\band then\b|;|\./);
  for (const clause of clauses) {
    const digit = /\bdigits? (\d)\b/.exec(clause)?.[1] ?? (() => {
      const m = /\bdigit (zero|one|two|three|four|five|six|seven|eight|nine)\b/.exec(clause);
      return m ? String(NUMBER_WORDS.indexOf(m[1]!)) : undefined;
    })() ?? /\b(?:a|the) (?:faint )?(\d)\b/.exec(clause)?.[1];
    if (digit !== undefined) events.add(`digit:${digit}`);
    let rest = clause;
    let dir: string | undefined;
    for (const { d, p } of PHRASES) {
      const i = rest.indexOf(` ${p}`);
      if (i >= 0 && /\b(moves?|drifts?|moving)\b/.test(rest.slice(0, i + 1))) {
        dir = d;
        rest = rest.slice(0, i) + rest.slice(i + 1 + p.length);
        break;
      }
    }
    if (dir) {
      events.add(`direction:${dir}`);
      if (digit !== undefined) events.add(`${digit}:${dir}`);
    }
    for (const [adv, speed] of Object.entries(ADVERBS)) {
      if (new RegExp(`\\b${adv}\\b`).test(clause)) {
        events.add(`speed:${speed}`);
        if (digit !== undefined) events.add(`${digit}:${speed}`);
      }
    }
  }
  return events;
}

export interface EventScore {
  precision: number;
  recall: number;
  f1: number;
}

/** Precision / recall / F1 of predicted events against reference events (empty prediction: precision 0). */
export function eventScore(pred: ReadonlySet<string>, ref: ReadonlySet<string>): EventScore {
  let hit = 0;
  for (const e of pred) if (ref.has(e)) hit++;
  const precision = pred.size ? hit / pred.size : 0;
  const recall = ref.size ? hit / ref.size : 0;
  return { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}

/** Mean event precision / recall / F1 over pairs (macro average over captions). */
export function meanEventScore(pairs: readonly { pred: string; ref: string }[]): EventScore {
  if (!pairs.length) return { precision: 0, recall: 0, f1: 0 };
  const s = pairs.map(({ pred, ref }) => eventScore(captionEvents(pred), captionEvents(ref)));
  const m = (k: keyof EventScore) => s.reduce((a, x) => a + x[k], 0) / s.length;
  return { precision: m('precision'), recall: m('recall'), f1: m('f1') };
}
