/**
 * Decoding in a browser (the browser entry): a <video> element seeked to each requested frame, drawn on a canvas
 * (centre square, scaled to R×R by the browser), read back as RGB uint8 [F, R, R, 3] — the layout `decodeFrames`
 * gives in Node. The frame is exact (the seek waits for the frame whose media time is the index's); the pixels can
 * differ from ffmpeg's by the rounding of the browser's YUV→RGB conversion, and at other sizes by its scaling.
 */
export interface BrowserVideo {
  element: HTMLVideoElement;
  width: number;
  height: number;
  fps: number;
  /** Frames in the video (duration × fps). */
  frames: number;
}

function once(el: HTMLElement, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = () => {
      el.removeEventListener('error', bad);
      resolve();
    };
    const bad = () => {
      el.removeEventListener(event, ok);
      reject(new Error(`the browser cannot decode this video (${(el as HTMLVideoElement).error?.message ?? 'media error'})`));
    };
    el.addEventListener(event, ok, { once: true });
    el.addEventListener('error', bad, { once: true });
  });
}

type FrameCallback = (now: number, meta: { mediaTime: number; presentedFrames: number }) => void;
type VideoWithFrames = HTMLVideoElement & { requestVideoFrameCallback?: (cb: FrameCallback) => number };

/** Frame rate from the media times of frames presented while the video plays (muted) for a moment. */
async function measureFps(v: VideoWithFrames): Promise<number> {
  if (!v.requestVideoFrameCallback) throw new Error('this browser has no requestVideoFrameCallback, needed to find the frame rate');
  const times: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => resolve(), 3000);
    const cb: FrameCallback = (_now, meta) => {
      times.push(meta.mediaTime);
      if (times.length >= 5 || v.ended) {
        clearTimeout(timer);
        resolve();
      } else v.requestVideoFrameCallback!(cb);
    };
    v.requestVideoFrameCallback!(cb);
    v.play().catch(reject);
  });
  v.pause();
  const diffs = times.slice(1).map((t, i) => t - times[i]!).filter((d) => d > 1e-4);
  if (!diffs.length) throw new Error('could not measure the frame rate of this video (no two frames were presented)');
  return 1 / Math.min(...diffs);
}

/** Loads a video (a URL or a Blob/File) into a muted video element under `host` and measures its frame rate and frame count. */
export async function openBrowserVideo(src: string | Blob, host: HTMLElement): Promise<BrowserVideo> {
  const v = document.createElement('video') as VideoWithFrames;
  v.muted = true;
  v.playsInline = true;
  v.preload = 'auto';
  v.src = typeof src === 'string' ? src : URL.createObjectURL(src);
  host.replaceChildren(v);
  await once(v, 'loadeddata');
  const fps = await measureFps(v);
  const frames = Math.max(1, Math.round(v.duration * fps));
  return { element: v, width: v.videoWidth, height: v.videoHeight, fps, frames };
}

/**
 * Seeks to frame `index` and waits until the compositor presents it: a video frame callback whose media time is that
 * frame's (a 'seeked' event alone can come before the new frame is drawable on a loaded machine).
 */
async function seekToFrame(v: VideoWithFrames, index: number, fps: number): Promise<void> {
  const target = index / fps;
  const t = (index + 0.5) / fps;
  if (!v.requestVideoFrameCallback) throw new Error('this browser has no requestVideoFrameCallback, needed to read exact frames');
  const presented = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`frame ${index} was not presented within 10 s of seeking`)), 10_000);
    const cb: FrameCallback = (_now, meta) => {
      if (Math.abs(meta.mediaTime - target) < 0.5 / fps) {
        clearTimeout(timer);
        resolve();
      } else v.requestVideoFrameCallback!(cb);
    };
    v.requestVideoFrameCallback!(cb);
  });
  const seeked = once(v, 'seeked');
  v.currentTime = t;
  await seeked;
  await presented;
}

/** RGB uint8 [F, R, R, 3] of frames `indices`: the centred square of each frame, scaled to R×R. */
export async function readBrowserFrames(video: BrowserVideo, indices: readonly number[], size: number): Promise<Uint8Array> {
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'medium';
  const side = Math.min(video.width, video.height);
  const sx = (video.width - side) / 2;
  const sy = (video.height - side) / 2;
  const out = new Uint8Array(indices.length * size * size * 3);
  for (let f = 0; f < indices.length; f++) {
    await seekToFrame(video.element, indices[f]!, video.fps);
    ctx.drawImage(video.element, sx, sy, side, side, 0, 0, size, size);
    const rgba = ctx.getImageData(0, 0, size, size).data;
    const o = f * size * size * 3;
    for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
      out[o + j] = rgba[i]!;
      out[o + j + 1] = rgba[i + 1]!;
      out[o + j + 2] = rgba[i + 2]!;
    }
  }
  return out;
}
