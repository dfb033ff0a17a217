/**
 * @flux/core for browsers (the package's "browser" export condition): the fused ops, the RNG and weights parsing
 * from bytes — nothing that reaches the file system, child processes or Node's native tfjs backend. Fetch a
 * checkpoint and call {@link parseSafetensors} on its bytes. The file functions the Node entry has keep their
 * names here (so a package importing them still bundles) and throw {@link BrowserUnsupportedError} when called.
 */
import type { PthCheckpoint, PthOptions } from './io/pth.js';
import type { SafetensorsFile, TensorsInput } from './io/safetensors-format.js';

export * from './ops/fused.js';
export * as reference from './ops/reference.js';
export * as composed from './ops/composed.js';
export { Rng, type RngState } from './run/rng.js';
export { WeightsFormatError } from './io/errors.js';
export * from './io/dtypes.js';
export { type TensorRecord, type StateDict, shapeSize, makeRecord, recordToFloat32, recordToInt32 } from './io/record.js';
export { tfDTypeOf, recordToTensor, tensorToRecord, stateDictToTensors, tensorsToStateDict, torchLayoutRecords, torchLayoutProblems, assignTorchLayout } from './io/tfjs.js';
export * from './io/safetensors-format.js';
export type { PthOptions, PthCheckpoint };

/** A file-system function of @flux/core called in a browser. */
export class BrowserUnsupportedError extends Error {
  constructor(what: string, instead: string) {
    super(`@flux/core: ${what} needs Node (a file system); in a browser ${instead}`);
    this.name = 'BrowserUnsupportedError';
  }
}

export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  throw new BrowserUnsupportedError(`readSafetensors('${path}')`, 'fetch the file and call parseSafetensors(new Uint8Array(await response.arrayBuffer()))');
}

export async function writeSafetensors(path: string, _tensors: TensorsInput, _metadata?: Record<string, string>): Promise<void> {
  throw new BrowserUnsupportedError(`writeSafetensors('${path}')`, 'there is nowhere to write it');
}

export async function readPth(path: string, _options: PthOptions = {}): Promise<PthCheckpoint> {
  throw new BrowserUnsupportedError(`readPth('${path}')`, 'convert the checkpoint to safetensors in Node first (flux-eval predict reads .pth)');
}
