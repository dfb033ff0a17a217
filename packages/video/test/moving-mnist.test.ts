import { describe, expect, it } from 'vitest';
import { DIGIT_SIZE, directionVector, loadMnistDigits, MovingMnist, type MovingMnistClip } from '../src/index.js';

/** Intensity-weighted centroid of frame f of a [T,H,W,C] clip. */
function centroid(c: MovingMnistClip, f: number): [number, number] {
  const [, H, W, C] = c.shape;
  let sx = 0;
  let sy = 0;
  let s = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const v = c.data[((f * H + y) * W + x) * C];
      sx += v * x;
      sy += v * y;
      s += v;
    }
  }
  return [sx / s, sy / s];
}

describe('Moving-MNIST', () => {
  it('is deterministic by (seed, split, index) and differs across seeds', () => {
    const a = new MovingMnist({ seed: 7 }).clip(12);
    const b = new MovingMnist({ seed: 7 }).clip(12);
    expect(b.data).toEqual(a.data);
    expect(b.caption).toBe(a.caption);
    expect(b.qa).toEqual(a.qa);
    expect(new MovingMnist({ seed: 8 }).clip(12).data).not.toEqual(a.data);
    expect(new MovingMnist({ seed: 7 }).clip(13).data).not.toEqual(a.data);
  });

  it('draws real MNIST digits, keeping train, val and test apart', () => {
    const train = loadMnistDigits('train');
    const val = loadMnistDigits('val');
    const test = loadMnistDigits('test');
    expect([train.count, val.count, test.count]).toEqual([50_000, 10_000, 10_000]);
    // A digit's pixels in a test clip are a MNIST test image.
    const mm = new MovingMnist({ split: 'test', digits: 1, seed: 3 });
    const c = mm.clip(0);
    const tr = c.tracks[0];
    const S = mm.size;
    const img = test.images.subarray(tr.mnistIndex * 784, (tr.mnistIndex + 1) * 784);
    const [px, py] = [tr.positions[0], tr.positions[1]];
    for (let r = 0; r < DIGIT_SIZE; r++) for (let k = 0; k < DIGIT_SIZE; k++) expect(c.data[((py + r) * S + px + k) * 3]).toBe(img[r * 28 + k]);
    expect(test.labels[tr.mnistIndex]).toBe(tr.digit);
    // Val digits are train-file images 50 000.. and never the first 50 000.
    expect(val.images.subarray(0, 784)).not.toEqual(train.images.subarray(0, 784));
  });

  it('labels the motion the pixels show (8 directions × 2 speeds)', () => {
    const mm = new MovingMnist({ digits: 1, labelBy: 'direction-speed', seed: 11 });
    expect(mm.numClasses).toBe(16);
    const seen = new Set<number>();
    for (let i = 0; i < 80; i++) {
      const c = mm.clip(i);
      seen.add(c.label);
      const [x0, y0] = centroid(c, 0);
      const [x1, y1] = centroid(c, mm.length - 1);
      const [ux, uy] = directionVector(c.tracks[0].direction);
      const dx = x1 - x0;
      const dy = y1 - y0;
      const cos = (dx * ux + dy * uy) / Math.hypot(dx, dy);
      expect(cos).toBeGreaterThan(0.95);
      const speed = Math.hypot(dx, dy) / (mm.length - 1);
      expect(Math.abs(speed - (c.tracks[0].speed === 'fast' ? 2 : 1))).toBeLessThan(0.25);
      expect(mm.classNames[c.label]).toBe(`${c.tracks[0].direction}-${c.tracks[0].speed}`);
      expect(c.caption).toBe(`the digit ${c.tracks[0].digit} moves ${c.caption.split(' moves ')[1]}`);
      expect(c.caption.endsWith(c.tracks[0].speed === 'fast' ? 'quickly' : 'slowly')).toBe(true);
    }
    expect(seen.size).toBe(16);
  });

  it('keeps captions true when digits bounce', () => {
    const mm = new MovingMnist({ bounce: true, length: 32, digits: 1, seed: 5 });
    let bounced = 0;
    for (let i = 0; i < 40; i++) {
      const c = mm.clip(i);
      const tr = c.tracks[0];
      // Each segment between bounces moves the way the caption says.
      const cuts = [0, ...tr.bounces.map((b) => b.frame), mm.length];
      const dirs = [tr.direction, ...tr.bounces.map((b) => b.direction)];
      for (let s = 0; s < dirs.length; s++) {
        const a = cuts[s];
        const b = cuts[s + 1] - 1;
        if (b - a < 3) continue;
        const [x0, y0] = centroid(c, a + 1);
        const [x1, y1] = centroid(c, b);
        const [ux, uy] = directionVector(dirs[s]);
        expect((x1 - x0) * ux + (y1 - y0) * uy).toBeGreaterThan(0);
      }
      if (tr.bounces.length > 0) {
        bounced++;
        expect(c.caption).toContain(`bounces off the ${tr.bounces[0].edge}`);
        expect(c.caption).toMatch(/moves .* and moves /);
        expect(c.qa.find((q) => q.kind === 'bounce')!.options[c.qa.find((q) => q.kind === 'bounce')!.answer]).toBe('yes');
      } else {
        expect(c.caption).not.toContain('bounce');
      }
    }
    expect(bounced).toBeGreaterThan(10);
  });

  it('asks multiple-choice questions whose answers are right', () => {
    const mm = new MovingMnist({ seed: 2, digits: [1, 2], sharedMotion: false });
    for (let i = 0; i < 30; i++) {
      const c = mm.clip(i);
      for (const q of c.qa) {
        expect(q.answer).toBeGreaterThanOrEqual(0);
        expect(new Set(q.options).size).toBe(q.options.length);
        const ans = q.options[q.answer];
        if (q.kind === 'count') expect(ans).toBe(['one', 'two'][c.tracks.length - 1]);
        if (q.kind === 'digit') expect(c.tracks.map((t) => String(t.digit))).toContain(ans);
        if (q.kind === 'digit') expect(q.options.filter((o) => c.tracks.some((t) => String(t.digit) === o)).length).toBe(1);
        if (q.kind === 'direction') {
          // Exactly one option is the direction of a digit the question can mean.
          const phrase = (d: string) => d.replace(/^(up|down)-(left|right)$/, '$1 and to the $2');
          const meant = c.tracks.filter((tr) => q.question.includes(`digit ${tr.digit} `) || q.question.includes(`digits ${tr.digit} `));
          expect(meant.length).toBeGreaterThan(0);
          const true_ = q.options.filter((o) => meant.some((tr) => phrase(tr.direction) === o));
          expect(true_).toEqual([ans]);
        }
        if (q.kind === 'speed') {
          const meant = c.tracks.filter((tr) => q.question.includes(`digit ${tr.digit} `) || q.question.includes(`digits ${tr.digit} `));
          for (const tr of meant) expect(tr.adverb).toBe(ans);
        }
      }
      expect(c.qa.some((q) => q.kind === 'direction')).toBe(true);
    }
  });

  it('renders batches equal to single clips, at any size and frame subset', () => {
    const mm = new MovingMnist({ seed: 4 });
    const b = mm.batch([3, 9], { frames: [0, 5, 15] });
    expect(b.shape).toEqual([2, 3, 64, 64, 3]);
    const c9 = mm.clip(9, { indices: [0, 5, 15] });
    expect(b.data.subarray(3 * 64 * 64 * 3)).toEqual(c9.data);
    expect(Array.from(b.labels)).toEqual([mm.meta(3).label, mm.meta(9).label]);
    const small = mm.batch([3], { frames: [0, 1], size: 32 });
    expect(small.shape).toEqual([1, 2, 32, 32, 3]);
    // 2× downscale with half-pixel bilinear = mean of 2×2 blocks (±1 rounding).
    const full = mm.clip(3, { indices: [0] }).data;
    const px = (y: number, x: number) => full[(y * 64 + x) * 3];
    for (let y = 0; y < 32; y += 5) {
      for (let x = 0; x < 32; x += 3) {
        const avg = (px(2 * y, 2 * x) + px(2 * y, 2 * x + 1) + px(2 * y + 1, 2 * x) + px(2 * y + 1, 2 * x + 1)) / 4;
        expect(Math.abs(small.data[(y * 32 + x) * 3] - avg)).toBeLessThanOrEqual(1);
      }
    }
    expect(new MovingMnist({ channels: 1 }).clip(0).shape).toEqual([16, 64, 64, 1]);
  });

  it('refuses configurations that cannot hold their promise, saying what to change', () => {
    expect(() => new MovingMnist({ length: 32 })).toThrow(/set bounce: true, or use length ≤ 19/);
    expect(() => new MovingMnist({ length: 32, bounce: true })).not.toThrow();
    expect(() => new MovingMnist({ size: 20 })).toThrow(/size must be an integer ≥ 28/);
    expect(() => new MovingMnist({ digits: [2, 1] })).toThrow(/digits/);
    expect(() => new MovingMnist({ split: 'dev' as never })).toThrow(/split/);
  });
});

describe('questionsFor', () => {
  it('keeps exactly one true option when two equal digits move differently', async () => {
    const { questionsFor } = await import('../src/index.js');
    const { Rng } = await import('@flux/core');
    const tracks = [
      { digit: 3, direction: 'left' as const, speed: 'slow', adverb: 'slowly', bounces: [] },
      { digit: 3, direction: 'up' as const, speed: 'fast', adverb: 'quickly', bounces: [] },
    ];
    const qa = questionsFor(tracks, new Rng(1), { directions: ['left', 'right', 'up', 'down'], adverbs: ['slowly', 'quickly'], bounce: false, maxDigits: 2 });
    const dir = qa.filter((q) => q.kind === 'direction');
    expect(dir.length).toBe(2);
    for (const q of dir) expect(q.options.filter((o) => o === 'left' || o === 'up').length).toBe(1);
    expect(qa.some((q) => q.kind === 'speed')).toBe(false); // "how do the 3s move?" has no single answer
    expect(qa.find((q) => q.kind === 'count')!.options[qa.find((q) => q.kind === 'count')!.answer]).toBe('two');
  });
});

describe('harder tasks (MOVING_MNIST_TASKS)', () => {
  it("'pair': the label is the two targets' direction pair, balanced; the distractor is fainter and unlabelled; the background pans", async () => {
    const { MOVING_MNIST_TASKS } = await import('../src/index.js');
    const mm = new MovingMnist({ ...MOVING_MNIST_TASKS.pair!, split: 'train' });
    expect(mm.numClasses).toBe(16);
    expect(mm.classNames[1]).toBe('left+right');
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 1600; i++) {
      const m = mm.meta(i);
      counts[m.label]++;
      const targets = m.tracks.filter((t) => t.role === 'target');
      expect(targets).toHaveLength(2);
      expect(targets.map((t) => t.intensity)).toEqual([1, 0.7]);
      // The label follows the bright digit first, then the dimmer one.
      expect(m.className).toBe(`${targets[0]!.direction}+${targets[1]!.direction}`);
      expect(m.tracks.filter((t) => t.role === 'distractor').map((t) => t.intensity)).toEqual([0.4]);
      expect(m.background?.amplitude).toBe(48);
    }
    for (const c of counts) expect(c).toBeGreaterThan(60); // 100 expected per class
    // The pan moves the whole background: consecutive frames differ almost everywhere (not only at the digits).
    const clip = mm.clip(0, { indices: [0, 1] });
    const F = 64 * 64 * 3;
    let changed = 0;
    for (let i = 0; i < F; i += 3) if (clip.data[i] !== clip.data[F + i]) changed++;
    expect(changed / (64 * 64)).toBeGreaterThan(0.5);
    // The plain variant: same labels on black, nothing else.
    const plain = new MovingMnist({ ...MOVING_MNIST_TASKS['pair-plain']!, split: 'train' });
    expect(plain.meta(3).tracks).toHaveLength(2);
    expect(plain.meta(3).background).toBeUndefined();
    // The original task is unchanged by the new options.
    expect(new MovingMnist({ ...MOVING_MNIST_TASKS.directions!, split: 'train' }).meta(5)).toEqual(new MovingMnist({ split: 'train' }).meta(5));
    expect(() => new MovingMnist({ distractors: 3 })).toThrow(/distractors must be 0, 1 or 2/);
    expect(() => new MovingMnist({ labelBy: 'pairs' as never })).toThrow(/labelBy must be/);
  });
});
