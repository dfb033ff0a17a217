/** Loading a self-describing Flux checkpoint from bytes (a fetched `model.safetensors`): no file system. */
import { parseSafetensors } from '@flux/core';
import { createModel, type FluxViTName } from '@flux/vit';

import { PredictInputError, readCheckpointMetadata, type PredictorInfo } from './core.js';

/**
 * A predictor from the bytes of a `model.safetensors` that flux-tune wrote (its metadata holds the model config,
 * class names and grid). Loading is strict: a missing, unexpected or misshapen tensor throws, naming it.
 */
export function predictorFromSafetensors(bytes: Uint8Array, name = 'model.safetensors'): PredictorInfo {
  let parsed;
  try {
    parsed = parseSafetensors(bytes, { name });
  } catch (e) {
    throw new PredictInputError(name, `not a readable safetensors checkpoint (${(e as Error).message})`);
  }
  const meta = readCheckpointMetadata(parsed.metadata, name);
  if (!meta) throw new PredictInputError(name, 'has no Flux metadata (flux.config): re-save it with flux-tune, or predict in Node with a run directory or --model-config');
  const model = createModel(meta.model as FluxViTName, meta.config, 0);
  try {
    model.loadStateDict(parsed.tensors, { strict: true });
  } catch (e) {
    model.dispose();
    throw new PredictInputError(name, (e as Error).message);
  }
  return { model, classNames: meta.classNames.length ? meta.classNames : Array.from({ length: meta.config.numClasses }, (_, i) => `class ${i}`), frames: meta.grid.frames, size: meta.grid.size };
}
