/**
 * The embedded default dataset: Moving-MNIST clips made from real MNIST digits, generated in memory, deterministic
 * by (seed, split, index). Labels are motion classes (direction, optionally × speed), so frame order matters.
 */
import { Rng } from '@flux/core';
import type { DecodedClip, DecodeOptions, FrameSize } from '../decode.js';
import { frameSize } from '../decode.js';
import type { ClipSource } from '../loader.js';
import type { VideoInfo } from '../probe.js';
import { sampleFrames, type SampleFramesOptions } from '../resize.js';
import { DIGIT_SIZE, loadMnistDigits, type MnistDigits, type MnistSplit } from './digits.js';
import { captionsFor, directionOf, directionPhrase, directionVector, DIRECTIONS, questionsFor, type Bounce, type Direction, type QaItem, type TrackSummary } from './text.js';

/** A speed class: pixels per frame, and the adverb captions use. */
export interface SpeedClass {
  name: string;
  pxPerFrame: number;
  adverb: string;
}

/** Configuration of a {@link MovingMnist} dataset. Every field has a default. */
export interface MovingMnistConfig {
  /** MNIST digits to draw from (default 'train'; 'val' and 'test' use disjoint digits). */
  split?: MnistSplit;
  /** Seed (default 0). Clip i is a pure function of (seed, split, i, config). */
  seed?: number;
  /** Canvas side in pixels (default 64, at least 28). */
  size?: number;
  /** Frames per clip (default 16, at most 64). */
  length?: number;
  /** Digits per clip: a number or an inclusive [min, max] range (default [1, 2]; max 3). */
  digits?: number | [number, number];
  /** 4 (left/right/up/down) or 8 (plus diagonals; default). */
  directions?: 4 | 8;
  /** Speed classes (default slow = 1 px/frame "slowly", fast = 2 px/frame "quickly"). */
  speeds?: SpeedClass[];
  /**
   * Class label: 'direction' (default), 'direction-speed' (with independent motions, digit 0 decides), or 'pair':
   * two target digits move independently and the label is the pair of their directions (D² classes), the
   * digits told apart by `pairOrder`.
   */
  labelBy?: 'direction' | 'direction-speed' | 'pair';
  /**
   * With labelBy 'pair': which target is "first" — 'brightness' (default: the brighter one; the other is drawn at
   * `secondIntensity`), 'value' (the smaller digit; the two differ) or 'position' (the one that starts further left —
   * without bounce, start position and direction are correlated, so its classes are unbalanced).
   */
  pairOrder?: 'brightness' | 'position' | 'value';
  /** With pairOrder 'brightness': brightness of the second target (default 0.7). */
  secondIntensity?: number;
  /** Distractor digits (0–2, default 0): drawn fainter, moving anyhow, never part of the label. */
  distractors?: number;
  /** Brightness of distractor digits relative to the targets (default 0.5). */
  distractorIntensity?: number;
  /** Amplitude (0–255) of a textured background panning 1 px/frame in a random direction — a moving camera (default 0: black). */
  pan?: number;
  /** All digits of a clip share direction and speed (default true: the label describes the whole clip). */
  sharedMotion?: boolean;
  /** Digits bounce off the edges (default false: start positions keep every digit inside the canvas). */
  bounce?: boolean;
  /** 3 (RGB, default: what a video decoder yields) or 1 (grey). */
  channels?: 1 | 3;
  /** Clips in the split, for epoch-based iteration (default 10 000 train, 1 000 val, 2 000 test). */
  count?: number;
  /** Frames per second reported for the clip (and used when writing videos; default 10). */
  fps?: number;
}

/** One digit's path through a clip. */
export interface DigitTrack extends TrackSummary {
  /** 'target' digits define the label; 'distractor' digits (fainter) do not. */
  role?: 'target' | 'distractor';
  /** Brightness factor (1 for targets). */
  intensity?: number;
  /** Index of the MNIST image within the split. */
  mnistIndex: number;
  /** Pixel position (top-left of the 28×28 digit) per frame: [x0, y0, x1, y1, …]. */
  positions: Int16Array;
}

/** A clip's metadata (pixels are rendered on demand). */
export interface MovingMnistClipMeta {
  index: number;
  split: MnistSplit;
  label: number;
  className: string;
  tracks: DigitTrack[];
  /** The panning background, when the dataset has one. */
  background?: PanBackground;
  /** The canonical caption. */
  caption: string;
  /** The caption and paraphrases. */
  captions: string[];
  qa: QaItem[];
}

/** A textured background moving (vx, vy) px per frame: the sum of two plane waves. */
export interface PanBackground {
  amplitude: number;
  vx: number;
  vy: number;
  waves: [number, number, number][];
}

/** A rendered clip: metadata plus [F, H, W, C] uint8 pixels. */
export interface MovingMnistClip extends MovingMnistClipMeta {
  data: Uint8Array;
  shape: [number, number, number, number];
  /** Frame indices rendered. */
  indices: number[];
}

/** Options for rendering a subset of frames at another size. */
export interface RenderOptions extends SampleFramesOptions {
  /** Frame indices to render (default all); clamped to the clip. */
  indices?: readonly number[];
  /** Output size (default the canvas). */
  size?: FrameSize;
}

/** A rendered batch: [B, F, H, W, C] pixels, labels and captions. */
export interface MovingMnistBatch {
  data: Uint8Array;
  shape: [number, number, number, number, number];
  labels: Int32Array;
  captions: string[];
  clips: MovingMnistClipMeta[];
}

const DEFAULT_SPEEDS: SpeedClass[] = [
  { name: 'slow', pxPerFrame: 1, adverb: 'slowly' },
  { name: 'fast', pxPerFrame: 2, adverb: 'quickly' },
];

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/**
 * Named tasks of the embedded data (`new MovingMnist({ ...MOVING_MNIST_TASKS[name], split })`):
 * - `directions`: the original default — 1–2 digits sharing one motion, 8 direction classes.
 * - `pair`: two digits moving independently (4 directions each), told apart by brightness; the label is their
 *   direction pair (16 classes); one fainter distractor digit moves anyhow, over a panning textured background.
 * - `pair-plain`: the same two-digit direction pairs on black, without the distractor or the pan.
 */
export const MOVING_MNIST_TASKS: Readonly<Record<string, Readonly<MovingMnistConfig>>> = Object.freeze({
  directions: Object.freeze({}),
  pair: Object.freeze({ labelBy: 'pair', directions: 4, pairOrder: 'brightness', distractors: 1, distractorIntensity: 0.4, pan: 48 } as MovingMnistConfig),
  'pair-plain': Object.freeze({ labelBy: 'pair', directions: 4, pairOrder: 'brightness' } as MovingMnistConfig),
  distract: Object.freeze({ distractors: 2, distractorIntensity: 0.5, pan: 48 } as MovingMnistConfig),
  'distract-speed': Object.freeze({ labelBy: 'direction-speed', distractors: 2, distractorIntensity: 0.5, pan: 48 } as MovingMnistConfig),
});

/** The Moving-MNIST dataset. `new MovingMnist()` is the embedded default (train split, seed 0). */
export class MovingMnist {
  readonly split: MnistSplit;
  readonly seed: number;
  readonly size: number;
  readonly length: number;
  readonly minDigits: number;
  readonly maxDigits: number;
  readonly directions: readonly Direction[];
  readonly speeds: readonly SpeedClass[];
  readonly labelBy: 'direction' | 'direction-speed' | 'pair';
  readonly pairOrder: 'brightness' | 'position' | 'value';
  readonly secondIntensity: number;
  readonly distractors: number;
  readonly distractorIntensity: number;
  readonly pan: number;
  readonly sharedMotion: boolean;
  readonly bounce: boolean;
  readonly channels: 1 | 3;
  readonly count: number;
  readonly fps: number;
  /** Class names, indexed by label ("left", or "left-fast" with labelBy 'direction-speed'). */
  readonly classNames: string[];
  /** A phrase per class ("moves left", "moves left quickly") for prompts and zero-shot classification. */
  readonly classDescriptions: string[];
  private readonly base: number;
  private digitsCache: MnistDigits | undefined;

  constructor(config: MovingMnistConfig = {}) {
    this.split = config.split ?? 'train';
    if (!['train', 'val', 'test'].includes(this.split)) throw new RangeError(`split must be train | val | test, got "${this.split}"`);
    this.seed = config.seed ?? 0;
    this.size = config.size ?? 64;
    this.length = config.length ?? 16;
    const d = config.digits ?? [1, 2];
    [this.minDigits, this.maxDigits] = typeof d === 'number' ? [d, d] : d;
    this.directions = DIRECTIONS.slice(0, config.directions ?? 8);
    this.speeds = config.speeds ?? DEFAULT_SPEEDS;
    this.labelBy = config.labelBy ?? 'direction';
    if (!['direction', 'direction-speed', 'pair'].includes(this.labelBy)) throw new RangeError(`labelBy must be direction | direction-speed | pair, got ${JSON.stringify(this.labelBy)}`);
    this.pairOrder = config.pairOrder ?? 'brightness';
    if (!['brightness', 'position', 'value'].includes(this.pairOrder)) throw new RangeError(`pairOrder must be brightness | position | value, got ${JSON.stringify(this.pairOrder)}`);
    this.secondIntensity = config.secondIntensity ?? 0.7;
    if (!(this.secondIntensity > 0 && this.secondIntensity <= 1)) throw new RangeError(`secondIntensity must be in (0, 1], got ${this.secondIntensity}`);
    this.distractors = config.distractors ?? 0;
    if (!Number.isInteger(this.distractors) || this.distractors < 0 || this.distractors > 2) throw new RangeError(`distractors must be 0, 1 or 2, got ${this.distractors}`);
    this.distractorIntensity = config.distractorIntensity ?? 0.5;
    if (!(this.distractorIntensity > 0 && this.distractorIntensity <= 1)) throw new RangeError(`distractorIntensity must be in (0, 1], got ${this.distractorIntensity}`);
    this.pan = config.pan ?? 0;
    if (!(this.pan >= 0 && this.pan <= 255)) throw new RangeError(`pan must be an amplitude in [0, 255], got ${this.pan}`);
    this.sharedMotion = config.sharedMotion ?? true;
    this.bounce = config.bounce ?? false;
    this.channels = config.channels ?? 3;
    this.count = config.count ?? (this.split === 'train' ? 10_000 : this.split === 'val' ? 1_000 : 2_000);
    this.fps = config.fps ?? 10;
    if (!Number.isInteger(this.size) || this.size < DIGIT_SIZE) throw new RangeError(`size must be an integer ≥ ${DIGIT_SIZE}, got ${this.size}`);
    if (!Number.isInteger(this.length) || this.length < 1 || this.length > 64) throw new RangeError(`length must be an integer in 1..64, got ${this.length}`);
    if (!Number.isInteger(this.minDigits) || this.minDigits < 1 || this.maxDigits > 3 || this.maxDigits < this.minDigits) {
      throw new RangeError(`digits must be within 1..3 (min ≤ max), got ${JSON.stringify(d)}`);
    }
    if (config.directions !== undefined && config.directions !== 4 && config.directions !== 8) throw new RangeError(`directions must be 4 or 8, got ${config.directions}`);
    if (this.speeds.length === 0 || this.speeds.some((s) => !(s.pxPerFrame > 0))) throw new RangeError('speeds must be a non-empty list with pxPerFrame > 0');
    if (this.channels !== 1 && this.channels !== 3) throw new RangeError(`channels must be 1 or 3, got ${String(this.channels)}`);
    if (!Number.isInteger(this.count) || this.count < 1) throw new RangeError(`count must be a positive integer, got ${this.count}`);
    const room = this.size - DIGIT_SIZE;
    let fastest = 0; // a loop, not Math.max(...speeds): no spread of a caller-sized list into call arguments
    for (const s of this.speeds) fastest = Math.max(fastest, s.pxPerFrame);
    if (!this.bounce && fastest * (this.length - 1) > room + 0.5) {
      throw new RangeError(
        `a ${fastest} px/frame digit travels ${fastest * (this.length - 1)} px in ${this.length} frames but a ${this.size}px canvas leaves ${room} px: ` +
          `set bounce: true, or use length ≤ ${Math.floor(room / fastest) + 1}, a larger size, or slower speeds`,
      );
    }
    const perSpeed = this.labelBy === 'direction-speed';
    this.classNames = [];
    this.classDescriptions = [];
    if (this.labelBy === 'pair') {
      const [a, b] = this.pairOrder === 'position' ? ['left', 'right'] : this.pairOrder === 'value' ? ['smaller', 'larger'] : ['bright', 'dimmer'];
      for (const d1 of this.directions) {
        for (const d2 of this.directions) {
          this.classNames.push(`${d1}+${d2}`);
          this.classDescriptions.push(`the ${a} digit moves ${directionPhrase(d1)} and the ${b} digit moves ${directionPhrase(d2)}`);
        }
      }
    }
    for (const dir of this.labelBy === 'pair' ? [] : this.directions) {
      if (perSpeed) {
        for (const s of this.speeds) {
          this.classNames.push(`${dir}-${s.name}`);
          this.classDescriptions.push(`moves ${directionPhrase(dir)} ${s.adverb}`);
        }
      } else {
        this.classNames.push(dir);
        this.classDescriptions.push(`moves ${directionPhrase(dir)}`);
      }
    }
    this.base = hash32(`moving-mnist/${this.split}/${this.seed}`);
  }

  /** Number of classes. */
  get numClasses(): number {
    return this.classNames.length;
  }

  private get digits(): MnistDigits {
    this.digitsCache ??= loadMnistDigits(this.split);
    return this.digitsCache;
  }

  /** The generator of clip `index` (distinct indices get distinct seeds). */
  private rngFor(index: number): Rng {
    return new Rng((this.base + Math.imul(index >>> 0, 0x9e3779b1)) >>> 0);
  }

  private track(rng: Rng, dirIdx: number, speedIdx: number): DigitTrack {
    const digits = this.digits;
    const mnistIndex = rng.int(digits.count);
    const dir = this.directions[dirIdx];
    const speed = this.speeds[speedIdx];
    const [ux, uy] = directionVector(dir);
    let vx = ux * speed.pxPerFrame;
    let vy = uy * speed.pxPerFrame;
    const room = this.size - DIGIT_SIZE;
    const T = this.length;
    const startRange = (v: number): [number, number] => {
      if (this.bounce) return [0, room];
      const travel = v * (T - 1);
      return [Math.max(0, -travel), Math.min(room, room - travel)];
    };
    const [xl, xh] = startRange(vx);
    const [yl, yh] = startRange(vy);
    let x = xl + rng.next() * Math.max(0, xh - xl);
    let y = yl + rng.next() * Math.max(0, yh - yl);
    const positions = new Int16Array(2 * T);
    const bounces: Bounce[] = [];
    for (let t = 0; t < T; t++) {
      if (t > 0) {
        x += vx;
        y += vy;
        let hx = '';
        let hy = '';
        if (x < 0) { x = -x; vx = -vx; hx = 'left'; }
        else if (x > room) { x = 2 * room - x; vx = -vx; hx = 'right'; }
        if (y < 0) { y = -y; vy = -vy; hy = 'top'; }
        else if (y > room) { y = 2 * room - y; vy = -vy; hy = 'bottom'; }
        if (hx || hy) bounces.push({ frame: t, edge: hx && hy ? `${hy}-${hx}` : hx || hy, direction: directionOf(vx, vy) });
      }
      positions[2 * t] = Math.round(Math.min(Math.max(x, 0), room));
      positions[2 * t + 1] = Math.round(Math.min(Math.max(y, 0), room));
    }
    return { digit: digits.labels[mnistIndex], mnistIndex, direction: dir, speed: speed.name, adverb: speed.adverb, bounces, positions };
  }

  /** Metadata of clip `index` (cheap: no pixels). */
  meta(index: number): MovingMnistClipMeta {
    if (!Number.isInteger(index) || index < 0) throw new RangeError(`clip index must be a non-negative integer, got ${index}`);
    const rng = this.rngFor(index);
    if (this.labelBy === 'pair') return this.pairMeta(index, rng);
    const n = this.minDigits + rng.int(this.maxDigits - this.minDigits + 1);
    const dirIdx = rng.int(this.directions.length);
    const speedIdx = rng.int(this.speeds.length);
    const tracks: DigitTrack[] = [];
    for (let k = 0; k < n; k++) {
      const shared = this.sharedMotion || k === 0;
      tracks.push(this.track(rng, shared ? dirIdx : rng.int(this.directions.length), shared ? speedIdx : rng.int(this.speeds.length)));
    }
    const label = this.labelBy === 'direction-speed' ? dirIdx * this.speeds.length + speedIdx : dirIdx;
    const extra = this.extras(rng);
    const captions = captionsFor(tracks).map((c) => c + extra.caption);
    const qa = questionsFor(tracks, rng.fork('qa'), {
      directions: this.directions,
      adverbs: this.speeds.map((s) => s.adverb),
      bounce: this.bounce,
      maxDigits: this.maxDigits,
    });
    tracks.push(...extra.tracks);
    return { index, split: this.split, label, className: this.classNames[label], tracks, ...(extra.background ? { background: extra.background } : {}), caption: captions[0], captions, qa };
  }

  /** Distractor digits and the panning background of a clip (no draws when the dataset has neither). */
  private extras(rng: Rng): { tracks: DigitTrack[]; background?: PanBackground; caption: string } {
    const tracks: DigitTrack[] = [];
    for (let k = 0; k < this.distractors; k++) {
      const t = this.track(rng, rng.int(this.directions.length), rng.int(this.speeds.length));
      tracks.push({ ...t, role: 'distractor', intensity: this.distractorIntensity });
    }
    let background: PanBackground | undefined;
    if (this.pan > 0) {
      const [vx, vy] = directionVector(DIRECTIONS[rng.int(8)]);
      const waves: [number, number, number][] = [0, 1].map(() => [(rng.next() - 0.5) * 0.5, (rng.next() - 0.5) * 0.5, rng.next() * 2 * Math.PI]);
      background = { amplitude: this.pan, vx, vy, waves };
    }
    const faint = tracks.map((t) => `a faint ${t.digit} drifts ${directionPhrase(t.direction)}`);
    const caption = (faint.length ? `, while ${faint.join(' and ')}` : '') + (background ? ', over a panning textured background' : '');
    return { tracks, ...(background ? { background } : {}), caption };
  }

  /** A clip of the 'pair' task: two target digits with independent motions; the label is their direction pair. */
  private pairMeta(index: number, rng: Rng): MovingMnistClipMeta {
    const D = this.directions.length;
    const d1 = rng.int(D);
    const d2 = rng.int(D);
    let a = this.track(rng, d1, rng.int(this.speeds.length));
    let b = this.track(rng, d2, rng.int(this.speeds.length));
    if (this.pairOrder === 'value') {
      for (let tries = 0; b.digit === a.digit && tries < 100; tries++) b = this.track(rng, d2, rng.int(this.speeds.length));
      if (b.digit === a.digit) throw new Error(`moving-mnist: could not draw two different digits for clip ${index}`);
    }
    // Order the targets: by start position (left first) or by digit value; the label follows that order.
    const swap = this.pairOrder === 'position' ? b.positions[0]! < a.positions[0]! : this.pairOrder === 'value' ? b.digit < a.digit : false;
    if (swap) [a, b] = [b, a];
    const first = this.directions.indexOf(a.direction);
    const second = this.directions.indexOf(b.direction);
    const label = first * D + second;
    const targets: DigitTrack[] = [a, b].map((t, i) => ({ ...t, role: 'target', intensity: this.pairOrder === 'brightness' && i === 1 ? this.secondIntensity : 1 }));
    const extra = this.extras(rng);
    const captions = captionsFor(targets).map((c) => c + extra.caption);
    const qa = questionsFor(targets, rng.fork('qa'), { directions: this.directions, adverbs: this.speeds.map((s) => s.adverb), bounce: this.bounce, maxDigits: 2 });
    const tracks = [...targets, ...extra.tracks];
    return { index, split: this.split, label, className: this.classNames[label]!, tracks, ...(extra.background ? { background: extra.background } : {}), caption: captions[0]!, captions, qa };
  }


  /**
   * Draws frames `indices` of a clip at canvas size into `out` (at `offset`), channel-last. `out` must be zeroed.
   */
  renderInto(meta: MovingMnistClipMeta, indices: readonly number[], out: Uint8Array, offset = 0): void {
    const S = this.size;
    const C = this.channels;
    const images = this.digits.images;
    const frameBytes = S * S * C;
    const T = this.length;
    const bg = meta.background;
    for (let p = 0; p < indices.length; p++) {
      const t = Math.min(Math.max(0, indices[p]), T - 1);
      const fbase = offset + p * frameBytes;
      if (bg) {
        // The camera pans: the texture at frame t is the frame-0 texture shifted by t·(vx, vy). Each wave
        // sin(a(x + ox) + b(y + oy) + φ) is separable — sin(A)cos(B) + cos(A)sin(B) — so a frame costs 1-D tables
        // and a few multiply-adds per pixel instead of a sine per pixel and wave.
        const ox = bg.vx * t;
        const oy = bg.vy * t;
        const W = bg.waves.length;
        const sA = new Float64Array(W * S);
        const cA = new Float64Array(W * S);
        const sB = new Float64Array(W * S);
        const cB = new Float64Array(W * S);
        bg.waves.forEach(([fx, fy, ph], w) => {
          for (let i = 0; i < S; i++) {
            const a = 2 * Math.PI * fx * (i + ox);
            const b = 2 * Math.PI * fy * (i + oy) + ph;
            sA[w * S + i] = Math.sin(a);
            cA[w * S + i] = Math.cos(a);
            sB[w * S + i] = Math.sin(b);
            cB[w * S + i] = Math.cos(b);
          }
        });
        const amp = bg.amplitude;
        for (let y = 0; y < S; y++) {
          for (let x = 0; x < S; x++) {
            let v = 0.5;
            for (let w = 0; w < W; w++) v += 0.25 * (sA[w * S + x]! * cB[w * S + y]! + cA[w * S + x]! * sB[w * S + y]!);
            const q = Math.round(amp * v);
            const o = fbase + (y * S + x) * C;
            out[o] = q;
            if (C === 3) {
              out[o + 1] = q;
              out[o + 2] = q;
            }
          }
        }
      }
      for (const tr of meta.tracks) {
        const gain = tr.intensity ?? 1;
        const px = tr.positions[2 * t];
        const py = tr.positions[2 * t + 1];
        const img = tr.mnistIndex * DIGIT_SIZE * DIGIT_SIZE;
        for (let r = 0; r < DIGIT_SIZE; r++) {
          const row = fbase + ((py + r) * S + px) * C;
          const src = img + r * DIGIT_SIZE;
          for (let c = 0; c < DIGIT_SIZE; c++) {
            const v = gain === 1 ? images[src + c] : Math.round(images[src + c] * gain);
            if (v === 0) continue;
            const o = row + c * C;
            if (v > out[o]) {
              out[o] = v;
              if (C === 3) {
                out[o + 1] = v;
                out[o + 2] = v;
              }
            }
          }
        }
      }
    }
  }

  /** Renders clip `index` (all frames at canvas size by default). */
  clip(index: number, options: RenderOptions = {}): MovingMnistClip {
    const meta = this.meta(index);
    return { ...meta, ...this.render(meta, options) };
  }

  /** Renders frames of a clip, optionally resized/cropped/flipped like `decodeFrames`. */
  render(meta: MovingMnistClipMeta, options: RenderOptions = {}): { data: Uint8Array; shape: [number, number, number, number]; indices: number[] } {
    const indices = (options.indices ?? Array.from({ length: this.length }, (_, i) => i)).map((i) => Math.min(Math.max(0, i), this.length - 1));
    const S = this.size;
    const raw = new Uint8Array(indices.length * S * S * this.channels);
    this.renderInto(meta, indices, raw);
    const out = options.size === undefined ? { width: S, height: S } : frameSize(options.size);
    if (out.width === S && out.height === S && !options.crop && !options.flip) return { data: raw, shape: [indices.length, S, S, this.channels], indices };
    const r = sampleFrames(raw, [indices.length, S, S, this.channels], indices.map((_, i) => i), out, options);
    return { data: r.data, shape: r.shape, indices };
  }

  /**
   * Renders a batch of clips straight into one [B, F, H, W, C] buffer — the fast path for training.
   * `frames` gives each clip's indices (a list shared by all, or a function of the clip; default all frames).
   */
  batch(
    clipIndices: readonly number[],
    options: Omit<RenderOptions, 'indices'> & { frames?: readonly number[] | ((meta: MovingMnistClipMeta, b: number) => readonly number[]) } = {},
  ): MovingMnistBatch {
    const B = clipIndices.length;
    const S = this.size;
    const C = this.channels;
    const out = options.size === undefined ? { width: S, height: S } : frameSize(options.size);
    const resize = out.width !== S || out.height !== S || options.crop !== undefined || options.flip === true;
    const metas = clipIndices.map((i) => this.meta(i));
    const all = Array.from({ length: this.length }, (_, i) => i);
    const frameLists = metas.map((m, b) => (typeof options.frames === 'function' ? options.frames(m, b) : options.frames ?? all));
    const F = frameLists[0]?.length ?? 0;
    if (frameLists.some((f) => f.length !== F)) throw new RangeError('batch: every clip needs the same number of frames');
    const clipBytes = F * out.height * out.width * C;
    const data = new Uint8Array(B * clipBytes);
    const scratch = resize ? new Uint8Array(F * S * S * C) : undefined;
    metas.forEach((m, b) => {
      if (!scratch) {
        this.renderInto(m, frameLists[b], data, b * clipBytes);
        return;
      }
      scratch.fill(0);
      this.renderInto(m, frameLists[b], scratch);
      const r = sampleFrames(scratch, [F, S, S, C], all.slice(0, F), out, options);
      data.set(r.data, b * clipBytes);
    });
    return {
      data,
      shape: [B, F, out.height, out.width, C],
      labels: Int32Array.from(metas.map((m) => m.label)),
      captions: metas.map((m) => m.caption),
      clips: metas,
    };
  }

  /** Clip `index` as a {@link ClipSource}, so synthetic clips flow through the same loader as files (RGB only). */
  source(index: number): ClipSource & { meta: MovingMnistClipMeta } {
    if (this.channels !== 3) throw new Error('MovingMnist.source needs channels: 3 (the loader yields RGB)');
    const meta = this.meta(index);
    const info: VideoInfo = {
      file: `moving-mnist/${this.split}/${this.seed}/${index}`,
      frames: this.length,
      frameCountSource: 'header',
      headerFrames: this.length,
      fps: this.fps,
      avgFps: this.fps,
      vfr: false,
      duration: this.length / this.fps,
      width: this.size,
      height: this.size,
      rotation: 0,
      codec: 'synthetic',
      format: 'memory',
      hasAudio: false,
      sizeBytes: this.length * this.size * this.size * 3,
      truncated: false,
      warnings: [],
    };
    return {
      id: info.file,
      meta,
      label: meta.label,
      labelName: meta.className,
      captions: meta.captions,
      info: () => info,
      read: (indices: readonly number[], size: FrameSize, opts: DecodeOptions): DecodedClip => {
        const clamped = indices.flatMap((i, position) => (i > this.length - 1 ? [{ position, requested: i, used: this.length - 1 }] : []));
        const r = this.render(meta, { indices, size, ...(opts.crop ? { crop: opts.crop } : {}), ...(opts.flip ? { flip: true } : {}), fit: opts.fit ?? 'cover', ...(opts.interpolation ? { interpolation: opts.interpolation } : {}) });
        return { data: r.data, shape: [r.shape[0], r.shape[1], r.shape[2], 3], indices: r.indices, clamped, info, warnings: [] };
      },
    };
  }

  /** Iterates clip indices 0..count−1 in a seeded shuffled order (one epoch). */
  epochOrder(epoch: number): number[] {
    const rng = new Rng((this.base ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
    return rng.shuffle(Array.from({ length: this.count }, (_, i) => i));
  }
}
