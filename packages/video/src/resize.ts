/**
 * In-memory frame selection, crop, resize and flip: the same contract as `decodeFrames`, for clips that are already
 * pixels (the embedded Moving-MNIST data), so synthetic and real clips flow through one loader.
 */
import { frameSize, resolveCrop, type CropRect, type Fit, type FrameSize, type Interpolation } from './decode.js';

/** Options for {@link sampleFrames}. */
export interface SampleFramesOptions {
  crop?: CropRect;
  flip?: boolean;
  fit?: Fit;
  interpolation?: Interpolation;
}

/**
 * Picks `indices` (clamped to the clip) from frames laid out [T, H, W, C] and resizes them to `size` with
 * half-pixel-centred bilinear (or nearest) sampling. Returns [F, h, w, C] and the indices used.
 */
export function sampleFrames(
  src: Uint8Array,
  shape: readonly [number, number, number, number],
  indices: readonly number[],
  size: FrameSize,
  options: SampleFramesOptions = {},
): { data: Uint8Array; shape: [number, number, number, number]; indices: number[] } {
  const [T, H, W, C] = shape;
  if (src.length !== T * H * W * C) throw new RangeError(`sampleFrames: shape [${shape.join(',')}] does not match ${src.length} bytes`);
  const out = frameSize(size);
  const crop = resolveCrop(W, H, out, options.crop, options.fit ?? 'cover') ?? { x: 0, y: 0, width: W, height: H };
  const used = indices.map((i) => Math.min(Math.max(0, i), T - 1));
  const ow = out.width;
  const oh = out.height;
  const data = new Uint8Array(used.length * oh * ow * C);
  const frame = H * W * C;
  const flip = options.flip ?? false;
  const identity = crop.width === ow && crop.height === oh;
  const nearest = options.interpolation === 'neighbor';
  // Precompute source coordinates and weights per output column/row.
  const sx = crop.width / ow;
  const sy = crop.height / oh;
  const x0 = new Int32Array(ow), x1 = new Int32Array(ow), wx = new Float32Array(ow);
  for (let x = 0; x < ow; x++) {
    const xs = flip ? ow - 1 - x : x;
    let fx = (xs + 0.5) * sx - 0.5;
    if (nearest) fx = Math.min(crop.width - 1, Math.floor((xs + 0.5) * sx));
    fx = Math.min(Math.max(fx, 0), crop.width - 1);
    const i0 = Math.floor(fx);
    x0[x] = crop.x + i0;
    x1[x] = crop.x + Math.min(i0 + 1, crop.width - 1);
    wx[x] = fx - i0;
  }
  const y0 = new Int32Array(oh), y1 = new Int32Array(oh), wy = new Float32Array(oh);
  for (let y = 0; y < oh; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (nearest) fy = Math.min(crop.height - 1, Math.floor((y + 0.5) * sy));
    fy = Math.min(Math.max(fy, 0), crop.height - 1);
    const i0 = Math.floor(fy);
    y0[y] = crop.y + i0;
    y1[y] = crop.y + Math.min(i0 + 1, crop.height - 1);
    wy[y] = fy - i0;
  }
  for (let p = 0; p < used.length; p++) {
    const base = used[p] * frame;
    const dst = p * oh * ow * C;
    if (identity && !flip && crop.x === 0 && crop.y === 0 && W === ow && H === oh) {
      data.set(src.subarray(base, base + frame), dst);
      continue;
    }
    let o = dst;
    for (let y = 0; y < oh; y++) {
      const r0 = base + y0[y] * W * C;
      const r1 = base + y1[y] * W * C;
      const ty = wy[y];
      for (let x = 0; x < ow; x++) {
        const a = x0[x] * C;
        const b = x1[x] * C;
        const tx = wx[x];
        for (let c = 0; c < C; c++) {
          const top = src[r0 + a + c] + (src[r0 + b + c] - src[r0 + a + c]) * tx;
          const bot = src[r1 + a + c] + (src[r1 + b + c] - src[r1 + a + c]) * tx;
          data[o++] = Math.round(top + (bot - top) * ty);
        }
      }
    }
  }
  return { data, shape: [used.length, oh, ow, C], indices: used };
}
