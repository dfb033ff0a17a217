/**
 * @flux/video for browsers (the package's "browser" export condition): turning RGB frames into model input. Decoding
 * files (ffmpeg), manifests and the Moving-MNIST writer need Node and are in the main entry; in a page, decode with a
 * video element and a canvas (see apps/web) and pass the RGB bytes here.
 */
export { framesToTensor, normalizeFrames, IMAGENET_MEAN, IMAGENET_STD, type Normalization } from './tensor.js';
