/**
 * `decodeFrames`: exactly the frames a sampling plan asks for, at the size it asks for, from one ffmpeg process.
 *
 * The filter graph is `select` (by decoded frame number n, so variable frame rate does not matter) → optional
 * crop → scale → optional hflip, written as raw rgb24 to a pipe; `-frames:v` stops ffmpeg right after the last
 * wanted frame instead of decoding to the end of the file.
 */
import { constants as bufferConstants } from 'node:buffer';
import { VideoDecodeError, VideoOptionError } from './errors.js';
import type { ProcessOptions } from './ffmpeg.js';
import { checkProcessOptions, runTool } from './ffmpeg.js';
import { classifyFailure, localInput, probe, TRUNCATION_PATTERNS, type VideoInfo } from './probe.js';

/** Output size: R (an R×R square) or width × height. */
export type FrameSize = number | { width: number; height: number };

/** A crop rectangle applied before resizing, in source pixels (default) or fractions of the frame. */
export interface CropRect {
  x: number;
  y: number;
  width: number;
  height: number;
  /** 'px' (default) or 'fraction' (all four values in [0, 1] of the displayed frame). */
  unit?: 'px' | 'fraction';
}

/** Resampling filter (ffmpeg `scale` flags; the in-memory path supports bilinear/neighbor and maps the rest to bilinear). */
export type Interpolation = 'bilinear' | 'bicubic' | 'area' | 'neighbor';

/** How frames are fitted to the output size when no crop is given. */
export type Fit = 'cover' | 'stretch';

/** Options for {@link decodeFrames}. */
export interface DecodeOptions extends ProcessOptions {
  /** Region to keep before resizing (wins over `fit`). */
  crop?: CropRect;
  /** Mirror horizontally after resizing. */
  flip?: boolean;
  /** 'cover' (default): centre-crop to the output aspect ratio, then resize; 'stretch': resize the whole frame. */
  fit?: Fit;
  /** Resampling filter (default 'bilinear'). */
  interpolation?: Interpolation;
  /** Decoder threads (default 1: with 2+ clips decoding in parallel this is fastest). 0 = ffmpeg's choice. */
  threads?: number;
  /** Probe result to reuse (skips the ffprobe call). */
  info?: VideoInfo;
  /** Decode what is there from a truncated file instead of throwing (default false). */
  allowTruncated?: boolean;
  /**
   * Largest output `decodeFrames` may allocate: indices × width × height × 3 bytes (default {@link DEFAULT_MAX_BYTES},
   * 1 GiB; at most what Node can allocate in one buffer). Bigger requests are refused before ffmpeg starts.
   */
  maxBytes?: number;
}

/** Largest width or height {@link frameSize} accepts (ffmpeg's own frame limit is of this order). */
export const MAX_FRAME_SIDE = 16_384;

/** Default byte budget of one {@link decodeFrames} call (1 GiB). */
export const DEFAULT_MAX_BYTES = 2 ** 30;

/** Longest `-vf` filter graph passed on the command line (Linux refuses single arguments over 128 KiB). */
const MAX_FILTER_CHARS = 100_000;

/** One requested index that was past the end of the clip, and the frame used instead. */
export interface ClampedIndex {
  /** Position in the requested index list. */
  position: number;
  requested: number;
  used: number;
}

/** Frames of one clip: `data` is RGB uint8 laid out as [F, H, W, 3], in the order the indices were requested. */
export interface DecodedClip {
  data: Uint8Array;
  shape: [number, number, number, 3];
  /** Frame indices actually delivered (after clamping), one per requested index. */
  indices: number[];
  /** Requested indices that were past the end and were replaced by the last available frame. */
  clamped: ClampedIndex[];
  /** The probe result, with `frames` corrected if the decoder produced fewer frames than the container claimed. */
  info: VideoInfo;
  warnings: string[];
}

function show(v: unknown): string {
  if (typeof v === 'number') return String(v); // JSON would print NaN and Infinity as null
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x)) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/**
 * Normalises a {@link FrameSize}: R or `{ width, height }`, positive integers up to {@link MAX_FRAME_SIDE}.
 * Throws {@link VideoOptionError} (option 'size', naming `file` when given).
 */
export function frameSize(size: FrameSize, file?: string): { width: number; height: number } {
  const s: unknown = typeof size === 'number' ? { width: size, height: size } : size;
  const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= MAX_FRAME_SIDE;
  if (typeof s !== 'object' || s === null || !ok((s as { width?: unknown }).width) || !ok((s as { height?: unknown }).height)) {
    throw new VideoOptionError(file, 'size', `frame size must be R or { width, height }, positive integers ≤ ${MAX_FRAME_SIDE}, got ${show(size)}`, size);
  }
  const { width, height } = s as { width: number; height: number };
  return { width, height };
}

/** The source-pixel crop for a clip of `srcW × srcH` (explicit crop, or the centred 'cover' crop, or none). */
export function resolveCrop(
  srcW: number,
  srcH: number,
  out: { width: number; height: number },
  crop: CropRect | undefined,
  fit: Fit,
): { x: number; y: number; width: number; height: number } | undefined {
  if (crop) {
    const f = crop.unit === 'fraction';
    let x = Math.round(f ? crop.x * srcW : crop.x);
    let y = Math.round(f ? crop.y * srcH : crop.y);
    let w = Math.round(f ? crop.width * srcW : crop.width);
    let h = Math.round(f ? crop.height * srcH : crop.height);
    x = Math.min(Math.max(0, x), srcW - 1);
    y = Math.min(Math.max(0, y), srcH - 1);
    w = Math.min(w, srcW - x);
    h = Math.min(h, srcH - y);
    if (!(w >= 1 && h >= 1)) throw new VideoOptionError(undefined, 'crop', `crop ${show(crop)} is empty inside a ${srcW}×${srcH} frame`, crop);
    if (x === 0 && y === 0 && w === srcW && h === srcH) return undefined;
    return { x, y, width: w, height: h };
  }
  if (fit === 'stretch' || srcW <= 0 || srcH <= 0) return undefined;
  const target = out.width / out.height;
  const src = srcW / srcH;
  if (Math.abs(src - target) < 1e-3) return undefined;
  if (src > target) {
    const w = Math.max(1, Math.round(srcH * target));
    return { x: Math.floor((srcW - w) / 2), y: 0, width: w, height: srcH };
  }
  const h = Math.max(1, Math.round(srcW / target));
  return { x: 0, y: Math.floor((srcH - h) / 2), width: srcW, height: h };
}

function validateIndices(file: string, indices: readonly number[]): void {
  if (!Array.isArray(indices)) throw new VideoOptionError(file, 'indices', `frame indices must be an array, got ${show(indices)}`, indices);
  if (indices.length === 0) throw new VideoOptionError(file, 'indices', 'no frame indices requested', indices);
  for (let p = 0; p < indices.length; p++) {
    const i = indices[p];
    if (!Number.isSafeInteger(i) || i < 0) throw new VideoOptionError(file, 'indices', `frame indices must be non-negative integers, got ${show(i)} at position ${p}`, i);
  }
}

const SCALE_FLAGS: ReadonlyMap<string, string> = new Map<Interpolation, string>([
  ['bilinear', 'bilinear'],
  ['bicubic', 'bicubic'],
  ['area', 'area'],
  ['neighbor', 'neighbor'],
]);
const FITS: ReadonlySet<string> = new Set<Fit>(['cover', 'stretch']);

/** Checks a crop rectangle's shape (its fit inside the frame is checked once the frame size is known). */
function validateCrop(file: string, crop: unknown): void {
  if (crop === undefined) return;
  if (typeof crop !== 'object' || crop === null) throw new VideoOptionError(file, 'crop', `crop must be { x, y, width, height, unit? }, got ${show(crop)}`, crop);
  const c = crop as Record<string, unknown>;
  for (const k of ['x', 'y', 'width', 'height']) {
    const v = Object.hasOwn(c, k) ? c[k] : undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new VideoOptionError(file, 'crop', `crop.${k} must be a finite number, got ${show(v)}`, crop);
  }
  if (!((c.width as number) > 0 && (c.height as number) > 0)) throw new VideoOptionError(file, 'crop', `crop width and height must be > 0, got ${show(crop)}`, crop);
  const unit = Object.hasOwn(c, 'unit') ? c.unit : undefined;
  if (unit !== undefined && unit !== 'px' && unit !== 'fraction') throw new VideoOptionError(file, 'crop', `crop.unit must be 'px' or 'fraction', got ${show(unit)}`, crop);
}

/** Checks a caller-supplied probe result enough that it cannot turn into a nonsense filter graph. */
function validateInfo(file: string, info: unknown): void {
  if (info === undefined) return;
  const i = info as Partial<VideoInfo> | null;
  const nat = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (typeof i !== 'object' || i === null || !nat(i.frames) || !nat(i.width) || !nat(i.height)) {
    throw new VideoOptionError(file, 'info', `info must be a probe result with integer frames, width and height, got ${show(info)}`.slice(0, 300), info);
  }
}

/**
 * Validates everything {@link decodeFrames} is asked before anything runs; returns the output size.
 * Throws {@link VideoOptionError} naming the file and the option.
 */
export function validateDecodeRequest(file: string, indices: readonly number[], size: FrameSize, options: DecodeOptions = {}): { width: number; height: number } {
  validateIndices(file, indices);
  const out = frameSize(size, file);
  if (typeof options !== 'object' || options === null) throw new VideoOptionError(file, 'options', `options must be an object, got ${show(options)}`, options);
  checkProcessOptions(options, file);
  validateCrop(file, options.crop);
  if (options.fit !== undefined && !FITS.has(options.fit)) throw new VideoOptionError(file, 'fit', `fit must be 'cover' or 'stretch', got ${show(options.fit)}`, options.fit);
  if (options.interpolation !== undefined && !SCALE_FLAGS.has(options.interpolation)) {
    throw new VideoOptionError(file, 'interpolation', `interpolation must be one of ${[...SCALE_FLAGS.keys()].join(', ')}, got ${show(options.interpolation)}`, options.interpolation);
  }
  const threads = options.threads;
  if (threads !== undefined && !(Number.isSafeInteger(threads) && threads >= 0 && threads <= 1024)) {
    throw new VideoOptionError(file, 'threads', `threads must be an integer in 0..1024 (0 = ffmpeg's choice), got ${show(threads)}`, threads);
  }
  validateInfo(file, options.info);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (typeof maxBytes !== 'number' || !(maxBytes > 0) || maxBytes > bufferConstants.MAX_LENGTH) {
    throw new VideoOptionError(file, 'maxBytes', `maxBytes must be a positive number ≤ ${bufferConstants.MAX_LENGTH} (the largest buffer Node allocates), got ${show(maxBytes)}`, maxBytes);
  }
  const bytes = indices.length * out.width * out.height * 3;
  if (bytes > maxBytes) {
    throw new VideoOptionError(
      file,
      'size',
      `${indices.length} frames × ${out.width}×${out.height}×3 = ${bytes} bytes exceeds maxBytes (${maxBytes}); ask for fewer or smaller frames, or raise maxBytes`,
      size,
    );
  }
  return out;
}

/** The `select` expression for unique, sorted frame numbers (commas escaped for the filter-graph parser). */
export function selectExpression(unique: readonly number[]): string {
  // Runs of consecutive frames become between(n,a,b).
  const terms: string[] = [];
  for (let i = 0; i < unique.length; ) {
    let j = i;
    while (j + 1 < unique.length && unique[j + 1] === unique[j] + 1) j++;
    terms.push(i === j ? `eq(n\\,${unique[i]})` : `between(n\\,${unique[i]}\\,${unique[j]})`);
    i = j + 1;
  }
  return terms.join('+');
}

/** Builds the ffmpeg `-vf` graph: select → crop → scale → hflip. */
export function buildFilter(
  select: string,
  out: { width: number; height: number },
  crop: { x: number; y: number; width: number; height: number } | undefined,
  flip: boolean,
  interpolation: Interpolation,
): string {
  const parts = [`select=${select}`];
  if (crop) parts.push(`crop=${crop.width}:${crop.height}:${crop.x}:${crop.y}`);
  parts.push(`scale=${out.width}:${out.height}:flags=${SCALE_FLAGS.get(interpolation) ?? 'bilinear'}`);
  if (flip) parts.push('hflip');
  return parts.join(',');
}

/**
 * Decodes frames `indices` (decode order numbers, 0-based; duplicates and any order allowed) of `file`, resized to
 * `size`, with one ffmpeg process. Indices past the end are clamped to the last frame and reported in `clamped`.
 * Throws {@link VideoDecodeError} (cause: missing, empty, corrupt, truncated, unsupported-codec, no-video-stream,
 * timeout, aborted), or {@link VideoOptionError} before anything runs when the request itself is invalid (size,
 * byte budget `maxBytes`, indices, crop, fit, interpolation, threads, timeoutMs, signal, info).
 */
export async function decodeFrames(file: string, indices: readonly number[], size: FrameSize, options: DecodeOptions = {}): Promise<DecodedClip> {
  const out = validateDecodeRequest(file, indices, size, options);
  // Every process this call starts listens to `own`; whatever way the call ends, `finally` aborts it, so no
  // process of this call can outlive it (runTool settles only after its process exited and was reaped).
  const own = new AbortController();
  const userSignal = options.signal;
  const onAbort = () => own.abort();
  if (userSignal?.aborted) own.abort();
  else userSignal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await decodeChecked(file, indices, out, { ...options, signal: own.signal });
  } catch (e) {
    throw e instanceof VideoOptionError ? e.withFile(file) : e;
  } finally {
    userSignal?.removeEventListener('abort', onAbort);
    own.abort();
  }
}

async function decodeChecked(file: string, indices: readonly number[], out: { width: number; height: number }, options: DecodeOptions): Promise<DecodedClip> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const info = options.info ?? (await probe(file, { ...options, timeoutMs }));
  if (info.truncated && !options.allowTruncated) {
    throw new VideoDecodeError(
      file,
      'truncated',
      (info.headerFrames !== undefined && info.packets !== undefined && info.packets < info.headerFrames
        ? `container claims ${info.headerFrames} frames but holds ${info.packets}`
        : 'the file ends prematurely') + (info.warnings.length ? `; ${info.warnings.at(-1)}` : ''),
    );
  }
  const warnings: string[] = [];
  const last = Math.max(0, info.frames - 1);
  const clamped: ClampedIndex[] = [];
  const used = indices.map((i, position) => {
    if (info.frames > 0 && i > last) {
      clamped.push({ position, requested: i, used: last });
      return last;
    }
    return i;
  });
  const unique = [...new Set(used)].sort((a, b) => a - b);
  const crop = resolveCrop(info.width, info.height, out, options.crop, options.fit ?? 'cover');
  const frameBytes = out.width * out.height * 3;
  const args = ['-nostdin', '-hide_banner', '-v', 'error'];
  const threads = options.threads ?? 1;
  if (threads > 0) args.push('-threads', String(threads));
  args.push('-i', localInput(file), '-an', '-sn', '-dn');
  const filter = buildFilter(selectExpression(unique), out, crop, options.flip ?? false, options.interpolation ?? 'bilinear');
  if (filter.length > MAX_FILTER_CHARS) {
    throw new VideoOptionError(file, 'indices', `${unique.length} distinct, scattered frame indices make a ${filter.length}-character ffmpeg filter (at most ${MAX_FILTER_CHARS}); decode them in several calls`, unique.length);
  }
  args.push('-vf', filter);
  args.push('-vsync', '0', '-frames:v', String(unique.length), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const remaining = Math.max(1, timeoutMs - (Date.now() - started));
  const res = await runTool('ffmpeg', args, { ...options, timeoutMs: remaining, expectBytes: unique.length * frameBytes });
  if (res.timedOut) throw new VideoDecodeError(file, 'timeout', `ffmpeg did not finish within ${timeoutMs} ms`, { stderr: res.stderr });
  if (res.aborted) throw new VideoDecodeError(file, 'aborted', 'decode aborted', { stderr: res.stderr });
  const got = Math.floor(Math.min(res.stdoutBytes, unique.length * frameBytes) / frameBytes);
  const truncatedMsg = TRUNCATION_PATTERNS.some((r) => r.test(res.stderr));
  if (got === 0 && (res.code !== 0 || truncatedMsg)) throw await classifyFailure(file, res.stderr, 'ffmpeg');
  if (got < unique.length && truncatedMsg && !options.allowTruncated) throw await classifyFailure(file, res.stderr, 'ffmpeg');
  if (res.stderr.trim()) for (const l of res.stderr.trim().split('\n').slice(-4)) warnings.push(l);
  let stdout = res.stdout;
  let corrected = info;
  if (got < unique.length) {
    // The container over-reported its length: frames unique[got..] do not exist. A second pass from just after the
    // last frame we got (or a window before the first wanted one) finds the real last frame, in constant memory.
    const tailPass = async (from: number) => {
      const args2 = ['-nostdin', '-hide_banner', '-v', 'error', '-threads', String(Math.max(0, threads)), '-i', localInput(file), '-an', '-sn', '-dn'];
      args2.push('-vf', buildFilter(`gte(n\\,${from})`, out, crop, options.flip ?? false, options.interpolation ?? 'bilinear'));
      args2.push('-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
      const r = await runTool('ffmpeg', args2, { ...options, timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)), keepLastFrame: frameBytes });
      if (r.timedOut) throw new VideoDecodeError(file, 'timeout', `ffmpeg did not finish within ${timeoutMs} ms`, { stderr: r.stderr });
      if (r.aborted) throw new VideoDecodeError(file, 'aborted', 'decode aborted', { stderr: r.stderr });
      return r;
    };
    let from = got > 0 ? unique[got - 1] + 1 : Math.max(0, unique[0] - 256);
    let res2 = await tailPass(from);
    if (got === 0 && res2.stdoutBytes < frameBytes && from > 0) res2 = await tailPass((from = 0));
    const n2 = Math.floor(res2.stdoutBytes / frameBytes);
    if (got === 0 && n2 === 0) {
      if (res2.code !== 0 || res2.stderr.trim()) throw await classifyFailure(file, res2.stderr, 'ffmpeg');
      throw new VideoDecodeError(file, 'corrupt', `ffmpeg produced no frames (probe said ${info.frames} frames)`);
    }
    const lastIdx = n2 > 0 ? from + n2 - 1 : unique[got - 1];
    warnings.push(`the clip has ${lastIdx + 1} frames, not ${info.frames}: indices past frame ${lastIdx} use frame ${lastIdx}`);
    corrected = { ...info, frames: lastIdx + 1, frameCountSource: 'decoded' };
    // Rebuild the decoded set: the frames we got, plus the real last frame.
    const kept = unique.slice(0, got);
    const buf = Buffer.allocUnsafe((got + 1) * frameBytes);
    res.stdout.copy(buf, 0, 0, got * frameBytes);
    if (n2 > 0) res2.stdout.copy(buf, got * frameBytes);
    else res.stdout.copy(buf, got * frameBytes, (got - 1) * frameBytes, got * frameBytes);
    stdout = buf;
    const keptLast = kept.includes(lastIdx);
    unique.length = 0;
    for (const k of kept) unique.push(k); // a loop, not push(...kept): index lists can be longer than the argument limit
    if (!keptLast) unique.push(lastIdx);
    if (keptLast) stdout = buf.subarray(0, got * frameBytes);
    const byPosition = new Map<number, ClampedIndex>();
    for (const c of clamped) byPosition.set(c.position, c);
    for (let p = 0; p < used.length; p++) {
      if (used[p] > lastIdx) {
        const existing = byPosition.get(p);
        if (existing) existing.used = lastIdx;
        else clamped.push({ position: p, requested: indices[p], used: lastIdx });
        used[p] = lastIdx;
      }
    }
    clamped.sort((x, y) => x.position - y.position);
  }
  const slot = new Map<number, number>();
  unique.forEach((u, k) => slot.set(u, k));
  const data = new Uint8Array(indices.length * frameBytes);
  for (let p = 0; p < used.length; p++) {
    const k = slot.get(used[p])!;
    data.set(stdout.subarray(k * frameBytes, (k + 1) * frameBytes), p * frameBytes);
  }
  return { data, shape: [indices.length, out.height, out.width, 3], indices: used, clamped, info: corrected, warnings };
}
