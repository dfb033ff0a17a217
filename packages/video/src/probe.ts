/**
 * `probe(file)`: what a video file holds, with a frame count you can trust.
 *
 * Containers lie about frame counts (mp4 edit lists, a header written before the file was cut, none at all in
 * Matroska). `probe` counts demuxed packets (fast: no decoding) and reports the smaller of that and the header
 * count; `decodeFrames` then corrects any remaining overcount from what the decoder actually produced.
 */
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { VideoDecodeError } from './errors.js';
import { checkProcessOptions, runTool, type ProcessOptions } from './ffmpeg.js';

/** What {@link probe} found. Width/height are as displayed (after rotation metadata is applied). */
export interface VideoInfo {
  file: string;
  /** Best frame count: demuxed packets if counted, else the header's count, else duration × fps. */
  frames: number;
  /** Where `frames` came from. */
  frameCountSource: 'packets' | 'header' | 'estimate' | 'decoded';
  /** The container's own frame count, if it has one. */
  headerFrames?: number;
  /** Video packets demuxed by ffprobe (omitted with `countPackets: false`). */
  packets?: number;
  /** Nominal frame rate (r_frame_rate). */
  fps: number;
  /** Average frame rate (frames / duration). */
  avgFps: number;
  /** True when the nominal and average frame rates differ by more than 1% (variable frame rate). */
  vfr: boolean;
  /** Seconds (stream duration, else container duration; 0 if unknown). */
  duration: number;
  width: number;
  height: number;
  /** Rotation metadata in degrees (ffmpeg auto-rotates when decoding; width/height already account for it). */
  rotation: number;
  codec: string;
  pixFmt?: string;
  format: string;
  hasAudio: boolean;
  sizeBytes: number;
  /** Set when the container claims more frames than it holds, or ffprobe saw a cut-off file. */
  truncated: boolean;
  /** Notable ffprobe messages. */
  warnings: string[];
}

/** Options for {@link probe}. */
export interface ProbeOptions extends ProcessOptions {
  /** Count packets (reads the whole file without decoding; default true). */
  countPackets?: boolean;
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  codec_tag_string?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  duration?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  tags?: Record<string, string>;
  side_data_list?: Array<{ rotation?: number | string }>;
  disposition?: { attached_pic?: number };
}

function rate(s: string | undefined): number {
  if (!s) return 0;
  const [a, b] = s.split('/').map(Number);
  if (!Number.isFinite(a)) return 0;
  if (b === undefined) return a;
  return b > 0 && Number.isFinite(b) ? a / b : 0;
}

/** Lines of ffmpeg/ffprobe stderr that mean the file was cut off. */
export const TRUNCATION_PATTERNS = [/partial file/i, /File ended prematurely/i, /moov atom not found/i, /Packet corrupt/i, /unexpected end of file/i];
const UNSUPPORTED_PATTERNS = [/Decoder \(codec [^)]*\) not found/i, /Unknown decoder/i, /Failed to open codec/i, /codec not currently supported/i, /Could not find codec parameters/i];

/**
 * The input argument for a local file: `file:` + absolute path, so names with a colon ("clip:1.mp4") or a leading
 * dash are not taken for a protocol or an option.
 */
export function localInput(file: string): string {
  return `file:${resolve(file)}`;
}

/** Checks the file exists and is non-empty; returns its size. */
export async function checkFile(file: string): Promise<number> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile() && !st.isFIFO()) throw new VideoDecodeError(file, 'missing', 'not a regular file');
    size = st.isFIFO() ? -1 : st.size;
  } catch (e) {
    if (e instanceof VideoDecodeError) throw e;
    throw new VideoDecodeError(file, 'missing', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message, { error: e });
  }
  if (size === 0) throw new VideoDecodeError(file, 'empty', 'file has zero bytes');
  return size;
}

/** True when the file starts like an ISO-BMFF (mp4/mov) file, i.e. an mp4 without its index was most likely cut off. */
async function looksLikeMp4(file: string): Promise<boolean> {
  try {
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(12);
      const { bytesRead } = await fh.read(buf, 0, 12, 0);
      return bytesRead >= 8 && ['ftyp', 'mdat', 'wide', 'free'].includes(buf.toString('latin1', 4, 8));
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

/** Classifies a failed ffmpeg/ffprobe run on `file`. */
export async function classifyFailure(file: string, stderr: string, tool: string): Promise<VideoDecodeError> {
  const tail = stderr.trim().split('\n').slice(-6).join('\n');
  if (UNSUPPORTED_PATTERNS.some((r) => r.test(stderr))) return new VideoDecodeError(file, 'unsupported-codec', `${tool}: ${tail}`, { stderr });
  if (/moov atom not found/i.test(stderr)) {
    return (await looksLikeMp4(file))
      ? new VideoDecodeError(file, 'truncated', `mp4 index (moov) missing: the file was cut off. ${tail}`, { stderr })
      : new VideoDecodeError(file, 'corrupt', `not a readable video: ${tail}`, { stderr });
  }
  if (TRUNCATION_PATTERNS.some((r) => r.test(stderr))) return new VideoDecodeError(file, 'truncated', `${tool}: ${tail}`, { stderr });
  if (/No such file/i.test(stderr)) return new VideoDecodeError(file, 'missing', `${tool}: ${tail}`, { stderr });
  if (/Invalid data found|invalid|could not find|error/i.test(stderr)) return new VideoDecodeError(file, 'corrupt', `${tool}: ${tail}`, { stderr });
  return new VideoDecodeError(file, 'ffmpeg-failed', `${tool} failed: ${tail || '(no message)'}`, { stderr });
}

/**
 * Probes a video file: frames, fps, duration, size, codec. Throws {@link VideoDecodeError} with cause
 * 'missing' | 'empty' | 'corrupt' | 'truncated' | 'unsupported-codec' | 'no-video-stream' | 'timeout'.
 */
export async function probe(file: string, options: ProbeOptions = {}): Promise<VideoInfo> {
  checkProcessOptions(options, file);
  const sizeBytes = await checkFile(file);
  const args = ['-v', 'warning', '-print_format', 'json', '-show_streams', '-show_format'];
  if (options.countPackets ?? true) args.push('-count_packets');
  args.push('-i', localInput(file));
  const res = await runTool('ffprobe', args, { ...options, timeoutMs: options.timeoutMs ?? 30_000 });
  if (res.timedOut) throw new VideoDecodeError(file, 'timeout', `ffprobe did not finish within ${options.timeoutMs ?? 30_000} ms`, { stderr: res.stderr });
  if (res.aborted) throw new VideoDecodeError(file, 'aborted', 'probe aborted', { stderr: res.stderr });
  let json: { streams?: FfprobeStream[]; format?: { format_name?: string; duration?: string } };
  try {
    json = JSON.parse(res.stdout.toString('utf8') || '{}');
  } catch {
    json = {};
  }
  if (res.code !== 0 || !json.streams) throw await classifyFailure(file, res.stderr, 'ffprobe');
  const streams = json.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const hasAudio = streams.some((s) => s.codec_type === 'audio');
  if (!video) {
    throw new VideoDecodeError(file, 'no-video-stream', hasAudio ? 'the file has audio but no video stream' : 'the file has no video stream', { stderr: res.stderr });
  }
  if (!video.codec_name || video.codec_name === 'none' || video.codec_name === 'unknown') {
    throw new VideoDecodeError(file, 'unsupported-codec', `unknown video codec (tag "${video.codec_tag_string ?? '?'}")`, { stderr: res.stderr });
  }
  const warnings = res.stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0).slice(-10);
  const fps = rate(video.r_frame_rate);
  const avgFps = rate(video.avg_frame_rate) || fps;
  const duration = Number(video.duration) || Number(json.format?.duration) || 0;
  const headerFrames = video.nb_frames !== undefined && Number(video.nb_frames) > 0 ? Number(video.nb_frames) : undefined;
  const packets = video.nb_read_packets !== undefined ? Number(video.nb_read_packets) : undefined;
  let frames: number;
  let frameCountSource: VideoInfo['frameCountSource'];
  if (packets !== undefined && packets > 0) {
    frames = headerFrames !== undefined ? Math.min(headerFrames, packets) : packets;
    frameCountSource = headerFrames !== undefined && headerFrames < packets ? 'header' : 'packets';
  } else if (headerFrames !== undefined) {
    frames = headerFrames;
    frameCountSource = 'header';
  } else {
    frames = Math.max(0, Math.round(duration * (avgFps || fps)));
    frameCountSource = 'estimate';
  }
  if (frames <= 0 && packets === 0) throw new VideoDecodeError(file, 'corrupt', 'the video stream holds no frames', { stderr: res.stderr });
  const truncated =
    (headerFrames !== undefined && packets !== undefined && packets < headerFrames - Math.max(2, Math.ceil(0.02 * headerFrames))) ||
    TRUNCATION_PATTERNS.some((r) => r.test(res.stderr));
  let rotation = Number(video.tags?.rotate ?? 0) || 0;
  for (const sd of video.side_data_list ?? []) if (sd.rotation !== undefined) rotation = Number(sd.rotation) || 0;
  rotation = ((Math.round(rotation) % 360) + 360) % 360;
  const swap = rotation === 90 || rotation === 270;
  const w = video.width ?? 0;
  const h = video.height ?? 0;
  return {
    file,
    frames,
    frameCountSource,
    ...(headerFrames !== undefined ? { headerFrames } : {}),
    ...(packets !== undefined ? { packets } : {}),
    fps,
    avgFps,
    vfr: fps > 0 && avgFps > 0 && Math.abs(fps - avgFps) / fps > 0.01,
    duration,
    width: swap ? h : w,
    height: swap ? w : h,
    rotation,
    codec: video.codec_name,
    ...(video.pix_fmt ? { pixFmt: video.pix_fmt } : {}),
    format: json.format?.format_name ?? '',
    hasAudio,
    sizeBytes,
    truncated,
    warnings,
  };
}
