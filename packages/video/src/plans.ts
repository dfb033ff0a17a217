/**
 * A small bridge from a dataset to loader plans: one epoch of batches in a seeded order, with the per-batch
 * (F, size) and per-clip indices supplied by the caller (e.g. from @flux/sampling). Kept generic so this package
 * does not depend on the sampler.
 */
import { Rng } from '@flux/core';
import type { CropRect, FrameSize } from './decode.js';
import type { BatchPlan, ClipSource, VideoItem } from './loader.js';
import type { VideoInfo } from './probe.js';

/** Options for {@link epochPlans}. */
export interface EpochPlanOptions<T extends string | VideoItem | ClipSource> {
  batchSize: number;
  /** Shuffle with this generator (omit for dataset order). */
  rng?: Rng;
  /** Drop a last, smaller batch (default false). */
  dropLast?: boolean;
  /** F and size of batch `b` (e.g. a flexi-sampling draw). */
  grid: (batchIndex: number) => { frames: number; size: FrameSize };
  /** Frame indices of one clip given its probe and F (e.g. TSN segments). */
  indices: (info: VideoInfo, frames: number, item: T) => readonly number[];
  /** Optional crop per clip. */
  crop?: (info: VideoInfo, item: T) => CropRect | undefined;
  /** Optional horizontal flip per clip. */
  flip?: (item: T) => boolean;
}

/** Yields the {@link BatchPlan}s of one pass over `items`. */
export function* epochPlans<T extends string | VideoItem | ClipSource>(items: readonly T[], options: EpochPlanOptions<T>): Generator<BatchPlan> {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be an integer ≥ 1, got ${batchSize}`);
  const order = Array.from({ length: items.length }, (_, i) => i);
  if (options.rng) options.rng.shuffle(order);
  for (let start = 0, b = 0; start < order.length; start += batchSize, b++) {
    const chunk = order.slice(start, start + batchSize);
    if (chunk.length < batchSize && options.dropLast) break;
    const { frames, size } = options.grid(b);
    yield {
      frames,
      size,
      clips: chunk.map((i) => {
        const item = items[i];
        const crop = options.crop;
        return {
          source: item,
          indices: (info: VideoInfo) => options.indices(info, frames, item),
          ...(crop ? { crop: (info: VideoInfo) => crop(info, item) } : {}),
          ...(options.flip?.(item) ? { flip: true } : {}),
        };
      }),
    };
  }
}
