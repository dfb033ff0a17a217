/**
 * A batch loader for sampling plans: bounded concurrency (at most `concurrency` ffmpeg processes), prefetch of
 * `prefetch` batches ahead of the consumer, per-clip timeout, skip-and-count (default) or fail-fast on bad clips.
 *
 * It knows nothing about how plans are drawn: each {@link BatchPlan} gives the frame count F, the output size R
 * and, per clip, its source and frame indices (a list, or a function of the probed clip so TSN segments can use
 * the real frame count). @flux/sampling produces such plans; so can a user's own code.
 */
import { constants as bufferConstants } from 'node:buffer';
import { VideoDecodeError, VideoOptionError, type DecodeFailureCause } from './errors.js';
import { decodeFrames, frameSize, type CropRect, type DecodedClip, type DecodeOptions, type Fit, type FrameSize, type Interpolation } from './decode.js';
import type { ToolPaths } from './ffmpeg.js';
import { probe, type VideoInfo } from './probe.js';

/** A video file with its annotations (what manifests produce). */
export interface VideoItem {
  /** Absolute (or cwd-relative) path of the video file. */
  path: string;
  /** Class index, if the dataset is labelled. */
  label?: number;
  /** Class name, if known. */
  labelName?: string;
  /** Captions for video-text training. */
  captions?: string[];
  /** Dataset id (e.g. the SSv2 id), if any. */
  id?: string;
}

/** Anything that can produce frames like {@link decodeFrames}: real files are wrapped automatically, synthetic clips implement it. */
export interface ClipSource {
  readonly id: string;
  readonly label?: number;
  readonly labelName?: string;
  readonly captions?: string[];
  info(options: DecodeOptions): VideoInfo | Promise<VideoInfo>;
  read(indices: readonly number[], size: FrameSize, options: DecodeOptions): DecodedClip | Promise<DecodedClip>;
}

/** One clip of a batch plan. */
export interface ClipRequest {
  /** A file path, a manifest item or a {@link ClipSource}. */
  source: string | VideoItem | ClipSource;
  /** Exactly `frames` indices, or a function of the probed clip returning them. */
  indices: readonly number[] | ((info: VideoInfo) => readonly number[]);
  /** Crop before resizing, or a function of the probed clip. */
  crop?: CropRect | ((info: VideoInfo) => CropRect | undefined);
  flip?: boolean;
}

/** What one batch should contain: F frames per clip at size R (or width × height). */
export interface BatchPlan {
  frames: number;
  size: FrameSize;
  clips: ClipRequest[];
}

/** A clip the loader skipped. */
export interface SkippedClip {
  /** Position of the clip in its batch plan. */
  position: number;
  source: string;
  cause: DecodeFailureCause;
  message: string;
}

/** A decoded batch: `data` is RGB uint8 [B, F, H, W, 3] for the B clips that decoded (B ≤ plan size). */
export interface LoadedBatch {
  /** Index of the plan this batch came from (skipped empty batches leave gaps). */
  index: number;
  frames: number;
  size: { width: number; height: number };
  data: Uint8Array;
  shape: [number, number, number, number, 3];
  /** The sources of the decoded clips, in order. */
  items: Array<VideoItem | ClipSource>;
  /** Class index per decoded clip (−1 when unlabelled). */
  labels: Int32Array;
  captions: Array<string[] | undefined>;
  /** Per decoded clip: position in the plan, frame indices used, clamped indices. */
  clips: Array<{ position: number; indices: number[]; clamped: DecodedClip['clamped']; info: VideoInfo }>;
  skipped: SkippedClip[];
}

/** Running counts. */
export interface LoaderStats {
  batches: number;
  /** Plans whose clips all failed (no batch yielded). */
  emptyBatches: number;
  clips: number;
  decoded: number;
  skipped: number;
  skippedByCause: Partial<Record<DecodeFailureCause, number>>;
  /** Clips with at least one index clamped to the end. */
  clampedClips: number;
}

/** Options for {@link VideoLoader}. */
export interface LoaderOptions extends ToolPaths {
  /** Clips decoded at once (ffmpeg processes; default 2). */
  concurrency?: number;
  /** Batches prepared ahead of the consumer (default 2). */
  prefetch?: number;
  /** Per-clip time limit for probe + decode in ms (default 30 000). */
  timeoutMs?: number;
  /** 'skip' (default): drop bad clips, count and log them; 'throw': fail on the first bad clip. */
  onError?: 'skip' | 'throw';
  /** Where skip messages go (default console.warn; false silences). At most `maxLogged` are logged, then a count. */
  log?: ((message: string) => void) | false;
  maxLogged?: number;
  fit?: Fit;
  interpolation?: Interpolation;
  /** ffmpeg decoder threads per clip (default 1). */
  threads?: number;
  allowTruncated?: boolean;
  /** Shared probe cache (reuse across epochs/loaders). */
  probeCache?: ProbeCache;
  /** Stops the loader (kills running processes). */
  signal?: AbortSignal;
}

/** Caches probe results (and failures other than timeouts) per file; keeps corrected frame counts. */
export class ProbeCache {
  private readonly map = new Map<string, Promise<VideoInfo>>();
  get(file: string, options: DecodeOptions): Promise<VideoInfo> {
    let p = this.map.get(file);
    if (!p) {
      p = probe(file, options);
      this.map.set(file, p);
      p.catch((e: unknown) => {
        if (e instanceof VideoDecodeError && (e.cause === 'timeout' || e.cause === 'aborted')) this.map.delete(file);
        if (!(e instanceof VideoDecodeError)) this.map.delete(file);
      });
    }
    return p;
  }
  /** Records a corrected probe (e.g. after the decoder found fewer frames than the container claimed). */
  set(info: VideoInfo): void {
    this.map.set(info.file, Promise.resolve(info));
  }
  get size(): number {
    return this.map.size;
  }
}

/** Wraps a file path or manifest item as a {@link ClipSource} decoded with ffmpeg. */
export function fileSource(item: string | VideoItem, cache: ProbeCache = new ProbeCache()): ClipSource & { item: VideoItem } {
  const it: VideoItem = typeof item === 'string' ? { path: item } : item;
  return {
    id: it.path,
    item: it,
    ...(it.label !== undefined ? { label: it.label } : {}),
    ...(it.labelName !== undefined ? { labelName: it.labelName } : {}),
    ...(it.captions !== undefined ? { captions: it.captions } : {}),
    info: (options) => cache.get(it.path, options),
    read: async (indices, size, options) => {
      const clip = await decodeFrames(it.path, indices, size, options);
      if (options.info && clip.info.frames !== options.info.frames) cache.set(clip.info);
      return clip;
    },
  };
}

function isClipSource(s: ClipRequest['source']): s is ClipSource {
  return typeof s === 'object' && typeof (s as ClipSource).read === 'function';
}

class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Yields decoded batches for a sequence of plans (sync or async iterable). Iterate with `for await`; breaking out
 * of the loop (or `close()`) kills running decodes. Batches come in plan order.
 */
export class VideoLoader implements AsyncIterable<LoadedBatch> {
  readonly stats: LoaderStats = { batches: 0, emptyBatches: 0, clips: 0, decoded: 0, skipped: 0, skippedByCause: {}, clampedClips: 0 };
  readonly probeCache: ProbeCache;
  private readonly opts: Required<Pick<LoaderOptions, 'concurrency' | 'prefetch' | 'timeoutMs' | 'onError' | 'maxLogged'>> & LoaderOptions;
  private readonly sem: Semaphore;
  private readonly abort = new AbortController();
  private logged = 0;
  private started = false;

  constructor(
    private readonly plans: Iterable<BatchPlan> | AsyncIterable<BatchPlan>,
    options: LoaderOptions = {},
  ) {
    const concurrency = options.concurrency ?? 2;
    const prefetch = options.prefetch ?? 2;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new RangeError(`prefetch must be an integer ≥ 0, got ${prefetch}`);
    this.opts = { ...options, concurrency, prefetch, timeoutMs: options.timeoutMs ?? 30_000, onError: options.onError ?? 'skip', maxLogged: options.maxLogged ?? 20 };
    this.sem = new Semaphore(concurrency);
    this.probeCache = options.probeCache ?? new ProbeCache();
    options.signal?.addEventListener('abort', () => this.abort.abort(), { once: true });
  }

  /** Stops the loader and kills running decodes. */
  close(): void {
    this.abort.abort();
  }

  private log(message: string): void {
    const log = this.opts.log === undefined ? (m: string) => console.warn(m) : this.opts.log;
    if (!log) return;
    this.logged++;
    if (this.logged <= this.opts.maxLogged) log(`[@flux/video] ${message}`);
    else if (this.logged === this.opts.maxLogged + 1) log(`[@flux/video] further skips are counted in loader.stats, not logged`);
  }

  private decodeOptions(signal: AbortSignal): DecodeOptions {
    const o = this.opts;
    return {
      signal,
      timeoutMs: o.timeoutMs,
      ...(o.fit ? { fit: o.fit } : {}),
      ...(o.interpolation ? { interpolation: o.interpolation } : {}),
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      ...(o.allowTruncated !== undefined ? { allowTruncated: o.allowTruncated } : {}),
      ...(o.ffmpegPath ? { ffmpegPath: o.ffmpegPath } : {}),
      ...(o.ffprobePath ? { ffprobePath: o.ffprobePath } : {}),
    };
  }

  private async loadClip(req: ClipRequest, F: number, size: FrameSize, signal: AbortSignal): Promise<{ source: ClipSource | VideoItem; clip: DecodedClip }> {
    const src = isClipSource(req.source) ? req.source : fileSource(req.source, this.probeCache);
    const item = isClipSource(req.source) ? req.source : (src as ClipSource & { item: VideoItem }).item;
    const started = Date.now();
    return this.sem.run(async () => {
      const base = this.decodeOptions(signal);
      const work = (async () => {
        const info = await src.info(base);
        const indices = typeof req.indices === 'function' ? req.indices(info) : req.indices;
        if (!Array.isArray(indices) || indices.length !== F) throw new VideoOptionError(src.id, 'indices', `plan asked for ${F} frames but gave ${Array.isArray(indices) ? indices.length : String(indices)} indices`, indices);
        const crop = typeof req.crop === 'function' ? req.crop(info) : req.crop;
        const remaining = Math.max(1, this.opts.timeoutMs - (Date.now() - started));
        return src.read(indices, size, { ...base, info, timeoutMs: remaining, ...(crop ? { crop } : {}), ...(req.flip ? { flip: true } : {}) });
      })();
      // Processes have their own timeouts; this guards sources that never settle (and is the loader's hard bound).
      const clip = await withTimeout(work, this.opts.timeoutMs + 5_000, () => new VideoDecodeError(src.id, 'timeout', `clip not ready within ${this.opts.timeoutMs} ms`));
      return { source: item, clip };
    });
  }

  private async loadBatch(plan: BatchPlan, index: number): Promise<LoadedBatch | null> {
    const out = frameSize(plan.size, `plan ${index}`);
    const F = plan.frames;
    if (!Number.isInteger(F) || F < 1) throw new VideoOptionError(`plan ${index}`, 'frames', `frames must be an integer ≥ 1, got ${F}`, F);
    if (!Array.isArray(plan.clips)) throw new VideoOptionError(`plan ${index}`, 'clips', 'clips must be an array', plan.clips);
    const batchBytes = plan.clips.length * F * out.width * out.height * 3;
    if (batchBytes > bufferConstants.MAX_LENGTH) {
      throw new VideoOptionError(`plan ${index}`, 'size', `${plan.clips.length} clips × ${F} frames × ${out.width}×${out.height}×3 = ${batchBytes} bytes is more than one buffer can hold (${bufferConstants.MAX_LENGTH})`, plan.size);
    }
    const batchAbort = new AbortController();
    const onAbort = () => batchAbort.abort();
    this.abort.signal.addEventListener('abort', onAbort, { once: true });
    let firstFailure: { error: unknown } | undefined;
    try {
      const tasks = plan.clips.map((req, position) =>
        this.loadClip(req, F, out, batchAbort.signal).then(
          (r) => ({ ok: true as const, position, ...r }),
          (error: unknown) => {
            if (this.opts.onError === 'throw' || !(error instanceof VideoDecodeError) || this.abort.signal.aborted) {
              firstFailure ??= { error };
              batchAbort.abort(); // fail fast: kill this batch's other decodes
              throw error;
            }
            return { ok: false as const, position, error };
          },
        ),
      );
      const settled = await Promise.allSettled(tasks);
      if (firstFailure) throw firstFailure.error; // the error that triggered the abort, not the aborts it caused
      const results = settled.map((s) => (s as PromiseFulfilledResult<Awaited<(typeof tasks)[number]>>).value);
      const frameBytes = F * out.height * out.width * 3;
      const good = results.filter((r) => r.ok);
      const skipped: SkippedClip[] = [];
      for (const r of results) {
        this.stats.clips++;
        if (r.ok) continue;
        const e = r.error;
        this.stats.skipped++;
        this.stats.skippedByCause[e.cause] = (this.stats.skippedByCause[e.cause] ?? 0) + 1;
        skipped.push({ position: r.position, source: e.file, cause: e.cause, message: e.message });
        this.log(`skipped ${e.file} (${e.cause}): ${e.detail.split('\n')[0]}`);
      }
      if (good.length === 0) {
        this.stats.emptyBatches++;
        this.log(`batch ${index}: all ${plan.clips.length} clips failed; batch skipped`);
        return null;
      }
      const data = new Uint8Array(good.length * frameBytes);
      const labels = new Int32Array(good.length);
      const items: LoadedBatch['items'] = [];
      const captions: LoadedBatch['captions'] = [];
      const clips: LoadedBatch['clips'] = [];
      good.forEach((r, b) => {
        if (r.clip.data.length !== frameBytes) throw new RangeError(`source ${r.source && 'id' in r.source ? r.source.id : ''} returned ${r.clip.data.length} bytes, expected ${frameBytes}`);
        data.set(r.clip.data, b * frameBytes);
        labels[b] = r.source.label ?? -1;
        items.push(r.source);
        captions.push(r.source.captions);
        clips.push({ position: r.position, indices: r.clip.indices, clamped: r.clip.clamped, info: r.clip.info });
        this.stats.decoded++;
        if (r.clip.clamped.length > 0) this.stats.clampedClips++;
      });
      this.stats.batches++;
      return { index, frames: F, size: out, data, shape: [good.length, F, out.height, out.width, 3], items, labels, captions, clips, skipped };
    } finally {
      this.abort.signal.removeEventListener('abort', onAbort);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LoadedBatch> {
    if (this.started) throw new Error('VideoLoader can be iterated once; create a new loader (share a ProbeCache) for another pass');
    this.started = true;
    const source = this.plans;
    const it: Iterator<BatchPlan> | AsyncIterator<BatchPlan> =
      Symbol.asyncIterator in source ? (source as AsyncIterable<BatchPlan>)[Symbol.asyncIterator]() : (source as Iterable<BatchPlan>)[Symbol.iterator]();
    const pending: Array<Promise<LoadedBatch | null>> = [];
    let index = 0;
    let done = false;
    // While the consumer holds batch i, batches i+1..i+prefetch are being prepared.
    const fill = async (target: number) => {
      while (!done && pending.length < target && !this.abort.signal.aborted) {
        const next = await it.next();
        if (next.done) {
          done = true;
          break;
        }
        const p = this.loadBatch(next.value, index++);
        p.catch(() => undefined); // observed when awaited; avoid unhandled rejections for batches never reached
        pending.push(p);
      }
    };
    try {
      await fill(Math.max(1, this.opts.prefetch));
      while (pending.length > 0) {
        if (this.abort.signal.aborted) throw new Error('VideoLoader closed');
        const batch = await pending.shift()!;
        await fill(this.opts.prefetch);
        if (batch) yield batch;
        if (pending.length === 0) await fill(Math.max(1, this.opts.prefetch));
      }
    } finally {
      this.abort.abort();
      await Promise.allSettled(pending);
      if (!done) await it.return?.();
    }
  }
}

/** Shorthand for `new VideoLoader(plans, options)`. */
export function loadBatches(plans: Iterable<BatchPlan> | AsyncIterable<BatchPlan>, options?: LoaderOptions): VideoLoader {
  return new VideoLoader(plans, options);
}
