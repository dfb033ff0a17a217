/**
 * Captions and multiple-choice questions for Moving-MNIST clips, written from the clip's actual trajectory so they
 * stay true when a digit bounces ("the digit 7 moves left quickly, bounces off the left edge and moves right").
 */
import type { Rng } from '@flux/core';

/** Motion directions in class order (the first four are the 4-direction set). */
export const DIRECTIONS = ['left', 'right', 'up', 'down', 'up-left', 'up-right', 'down-left', 'down-right'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** Unit vector of a direction in image coordinates (y grows downwards). */
export function directionVector(d: Direction): [number, number] {
  const s = Math.SQRT1_2;
  switch (d) {
    case 'left': return [-1, 0];
    case 'right': return [1, 0];
    case 'up': return [0, -1];
    case 'down': return [0, 1];
    case 'up-left': return [-s, -s];
    case 'up-right': return [s, -s];
    case 'down-left': return [-s, s];
    case 'down-right': return [s, s];
  }
}

/** The direction of a velocity (signs only). */
export function directionOf(vx: number, vy: number): Direction {
  const h = vx < 0 ? 'left' : vx > 0 ? 'right' : '';
  const v = vy < 0 ? 'up' : vy > 0 ? 'down' : '';
  return (v && h ? `${v}-${h}` : v || h) as Direction;
}

/** How a direction reads in a sentence. */
export function directionPhrase(d: Direction): string {
  switch (d) {
    case 'up-left': return 'up and to the left';
    case 'up-right': return 'up and to the right';
    case 'down-left': return 'down and to the left';
    case 'down-right': return 'down and to the right';
    default: return d;
  }
}

/** A change of direction at an edge. */
export interface Bounce {
  /** First frame after the bounce. */
  frame: number;
  /** 'left' | 'right' | 'top' | 'bottom' | a corner like 'top-left'. */
  edge: string;
  /** Direction after the bounce. */
  direction: Direction;
}

/** What a caption needs to know about one digit. */
export interface TrackSummary {
  digit: number;
  direction: Direction;
  speed: string;
  adverb: string;
  bounces: Bounce[];
}

function motionClause(t: TrackSummary): string {
  let s = `moves ${directionPhrase(t.direction)} ${t.adverb}`;
  t.bounces.forEach((b, i) => {
    const edge = b.edge.includes('-') ? `${b.edge} corner` : `${b.edge} edge`;
    s += `${i === 0 ? ', ' : ', then '}bounces off the ${edge} and moves ${directionPhrase(b.direction)}`;
  });
  return s;
}

function sameMotion(a: TrackSummary, b: TrackSummary): boolean {
  return a.direction === b.direction && a.speed === b.speed && a.bounces.length === 0 && b.bounces.length === 0;
}

/** The canonical caption ("the digit 7 moves left quickly") and paraphrases, all true of the clip. */
export function captionsFor(tracks: readonly TrackSummary[]): string[] {
  if (tracks.length === 0) return ['an empty black frame'];
  if (tracks.length > 1 && tracks.every((t) => sameMotion(t, tracks[0]))) {
    const ds = tracks.map((t) => t.digit);
    const list = ds.length === 2 ? `${ds[0]} and ${ds[1]}` : `${ds.slice(0, -1).join(', ')} and ${ds[ds.length - 1]}`;
    const dir = directionPhrase(tracks[0].direction);
    return [
      `the digits ${list} move ${dir} ${tracks[0].adverb}`,
      `${ds.length === 2 ? 'two' : 'three'} handwritten digits, ${list}, moving ${dir} ${tracks[0].adverb}`,
      `digits ${list} both travel ${dir}`.replace('both', ds.length === 2 ? 'both' : 'all'),
    ];
  }
  const main = tracks.map((t) => `the digit ${t.digit} ${motionClause(t)}`).join(', while ');
  const alt = tracks.map((t) => `a handwritten ${t.digit} that ${motionClause(t)}`).join(', and ');
  const short = tracks.map((t) => `${t.digit} moving ${directionPhrase(t.direction)}`).join(', ');
  return [main, alt, short];
}

/** A multiple-choice question with its answer. */
export interface QaItem {
  kind: 'direction' | 'digit' | 'count' | 'speed' | 'bounce';
  question: string;
  options: string[];
  /** Index of the right option. */
  answer: number;
}

function options(rng: Rng, correct: string, pool: readonly string[], n: number): { options: string[]; answer: number } {
  const others = rng.shuffle(pool.filter((p) => p !== correct)).slice(0, n - 1);
  const opts = rng.shuffle([correct, ...others]);
  return { options: opts, answer: opts.indexOf(correct) };
}

const COUNT_WORDS = ['zero', 'one', 'two', 'three', 'four'];

/** Multiple-choice questions about a clip (direction, identity, count, and speed/bounce when they vary). */
export function questionsFor(
  tracks: readonly TrackSummary[],
  rng: Rng,
  context: { directions: readonly Direction[]; adverbs: readonly string[]; bounce: boolean; maxDigits: number },
): QaItem[] {
  const qa: QaItem[] = [];
  const dirPool = context.directions.map(directionPhrase);
  for (const t of tracks.slice(0, 2)) {
    const twins = tracks.filter((o) => o.digit === t.digit);
    const first = twins[0] === t;
    const who = twins.length === 1 ? `the digit ${t.digit}` : `one of the digits ${t.digit}`;
    const when = t.bounces.length > 0 ? ' at the start of the video' : '';
    // With two equal digits, distractors exclude the other one's direction so exactly one option is true.
    const mine = directionPhrase(t.direction);
    const pool = dirPool.filter((d) => d === mine || !twins.some((o) => directionPhrase(o.direction) === d));
    if (first || twins.some((o) => o.direction !== t.direction)) {
      qa.push({ kind: 'direction', question: `In which direction does ${who} move${when}?`, ...options(rng, mine, pool, Math.min(4, pool.length)) });
    }
    // Speed and bounce questions only where the answer is the same for every digit the question could mean.
    if (!first) continue;
    const who1 = twins.length === 1 ? who : `the digits ${t.digit}`;
    if (context.adverbs.length > 1 && twins.every((o) => o.adverb === t.adverb)) {
      qa.push({ kind: 'speed', question: `How ${twins.length === 1 ? 'does' : 'do'} ${who1} move?`, ...options(rng, t.adverb, context.adverbs, context.adverbs.length) });
    }
    const bounced = t.bounces.length > 0;
    if (context.bounce && twins.every((o) => o.bounces.length > 0 === bounced)) {
      qa.push({ kind: 'bounce', question: `${twins.length === 1 ? 'Does' : 'Do'} ${who1} bounce off an edge of the frame?`, options: ['yes', 'no'], answer: bounced ? 0 : 1 });
    }
  }
  const present = new Set(tracks.map((t) => String(t.digit)));
  const absent = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'].filter((d) => !present.has(d));
  const shown = String(tracks[rng.int(tracks.length)].digit);
  const digitOpts = rng.shuffle([shown, ...rng.shuffle(absent).slice(0, 3)]);
  qa.push({
    kind: 'digit',
    question: tracks.length === 1 ? 'Which digit appears in the video?' : 'Which of these digits appears in the video?',
    options: digitOpts,
    answer: digitOpts.indexOf(shown),
  });
  if (context.maxDigits > 1) {
    const pool = COUNT_WORDS.slice(1, Math.max(3, context.maxDigits) + 1);
    qa.push({ kind: 'count', question: 'How many digits are in the video?', ...options(rng, COUNT_WORDS[tracks.length], pool, pool.length) });
  }
  return qa;
}
