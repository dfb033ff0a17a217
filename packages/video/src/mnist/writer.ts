/**
 * Writes Moving-MNIST clips to real video files plus manifests (Kinetics-style CSV, captions JSON, QA JSON,
 * class list), so the real-file path — manifest → ffmpeg decode → loader — runs end to end on the same data.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VideoDecodeError } from '../errors.js';
import { runTool, type ToolPaths } from '../ffmpeg.js';
import type { MovingMnist } from './moving-mnist.js';
import type { QaItem } from './text.js';

/** Options for {@link writeMovingMnist}. */
export interface WriteMovingMnistOptions extends ToolPaths {
  /** Clip indices to write (default 0..count−1 of the dataset, capped by `limit`). */
  indices?: readonly number[];
  /** Number of clips when `indices` is not given (default 100). */
  limit?: number;
  /** 'h264' (libx264, yuv420p; default), 'mpeg4', or 'ffv1' (lossless, .mkv). */
  codec?: 'h264' | 'mpeg4' | 'ffv1';
  /** x264 CRF (default 12; lower is closer to the pixels). */
  crf?: number;
  /** Encoders running at once (default 2). */
  concurrency?: number;
  timeoutMs?: number;
}

/** What was written. Paths in the manifests are relative to `dir`. */
export interface WrittenMovingMnist {
  dir: string;
  files: string[];
  /** `path label` per line (label = class index), loadable with `loadKineticsManifest`. */
  manifest: string;
  /** `[{video, captions}]`, loadable with `loadCaptionManifest`. */
  captions: string;
  /** `[{video, qa}]` multiple-choice items. */
  qa: string;
  /** Class names, one per line, in label order. */
  classes: string;
}

/** Encodes clips of `data` into `dir` (created if needed) and writes the manifests. */
export async function writeMovingMnist(data: MovingMnist, dir: string, options: WriteMovingMnistOptions = {}): Promise<WrittenMovingMnist> {
  await mkdir(dir, { recursive: true });
  const indices = options.indices ?? Array.from({ length: Math.min(options.limit ?? 100, data.count) }, (_, i) => i);
  const codec = options.codec ?? 'h264';
  const ext = codec === 'ffv1' ? '.mkv' : '.mp4';
  const S = data.size;
  const codecArgs =
    codec === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(options.crf ?? 12), '-pix_fmt', 'yuv420p', '-bf', '0']
      : codec === 'mpeg4'
        ? ['-c:v', 'mpeg4', '-q:v', '2', '-pix_fmt', 'yuv420p']
        : ['-c:v', 'ffv1', '-pix_fmt', 'bgr0'];
  const files: string[] = new Array(indices.length);
  const metas = new Array(indices.length);
  let next = 0;
  const worker = async () => {
    while (next < indices.length) {
      const k = next++;
      const index = indices[k];
      const meta = data.meta(index);
      const raw = new Uint8Array(data.length * S * S * 3);
      // Always encode RGB, whatever the dataset's channel count.
      const grey = new Uint8Array(data.length * S * S);
      const dataGrey = data.channels === 1 ? data : undefined;
      if (dataGrey) {
        data.renderInto(meta, Array.from({ length: data.length }, (_, i) => i), grey);
        for (let i = 0; i < grey.length; i++) raw[3 * i] = raw[3 * i + 1] = raw[3 * i + 2] = grey[i];
      } else {
        data.renderInto(meta, Array.from({ length: data.length }, (_, i) => i), raw);
      }
      const name = `${data.split}_${String(index).padStart(6, '0')}${ext}`;
      const path = join(dir, name);
      const tmp = join(dir, `.${name}.tmp${ext}`);
      const args = ['-nostdin', '-hide_banner', '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${S}x${S}`, '-r', String(data.fps), '-i', 'pipe:0', ...codecArgs, `file:${tmp}`];
      const res = await runTool('ffmpeg', args, { ...options, stdin: raw, timeoutMs: options.timeoutMs ?? 60_000 });
      if (res.code !== 0) throw new VideoDecodeError(path, res.timedOut ? 'timeout' : 'ffmpeg-failed', `encoding failed: ${res.stderr.trim().slice(-400)}`, { stderr: res.stderr });
      await rename(tmp, path);
      files[k] = name;
      metas[k] = meta;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
  const manifest = join(dir, 'manifest.csv');
  const captions = join(dir, 'captions.json');
  const qa = join(dir, 'qa.json');
  const classes = join(dir, 'classes.txt');
  await writeFile(manifest, files.map((f, k) => `${f} ${metas[k].label}`).join('\n') + '\n');
  await writeFile(captions, JSON.stringify(files.map((f, k) => ({ video: f, captions: metas[k].captions })), null, 1));
  await writeFile(qa, JSON.stringify(files.map((f, k) => ({ video: f, qa: metas[k].qa as QaItem[] })), null, 1));
  await writeFile(classes, data.classNames.join('\n') + '\n');
  return { dir, files: files.map((f) => join(dir, f)), manifest, captions, qa, classes };
}
