/**
 * @flux/video for browsers (the package's "browser" export condition): decoding frames with a video element and a
 * canvas, and turning RGB frames into model input. ffmpeg decoding, manifests and the Moving-MNIST writer need Node
 * and are in the main entry.
 */
export { framesToTensor, normalizeFrames, IMAGENET_MEAN, IMAGENET_STD, type Normalization } from './tensor.js';
export { openBrowserVideo, readBrowserFrames, type BrowserVideo } from './browser-decode.js';
