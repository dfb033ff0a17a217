/**
 * Analytic FLOP counts (multiply-add = 2 FLOPs) of a FluxViT forward pass, for benchmarks. Counts the
 * matmuls (patch projection, qkv, attention scores and context, proj, MLP, projector, head); elementwise
 * work is left out, as is customary.
 */
import { type FluxViTConfig, mlpHidden } from './config.js';

/** FLOPs of one forward pass over `batch` clips with `tokens` kept patch tokens (CLS added here). */
export function flopsForward(c: FluxViTConfig, batch: number, tokens: number, totalPatches = tokens): number {
  const C = c.embedDim;
  const n = tokens + 1;
  const hid = mlpHidden(c);
  const patch = 2 * totalPatches * c.patchSize * c.patchSize * 3 * C;
  const perBlock = 2 * n * C * 3 * C + 2 * 2 * n * n * C + 2 * n * C * C + 2 * 2 * n * C * hid;
  const kv = c.clipPool === 'max' ? 2 * C * C : 2 * (2 * n * C * C) + 2 * C * C + 2 * 2 * n * C; // max pool: v of one vector
  const pool = kv + 2 * C * c.clipEmbedDim + 2 * c.clipEmbedDim * c.numClasses;
  return batch * (patch + c.depth * perBlock + pool);
}

/** FLOPs of forward + backward (backward ≈ 2× forward: gradients w.r.t. inputs and weights). */
export function flopsTrainStep(c: FluxViTConfig, batch: number, tokens: number, totalPatches = tokens): number {
  return 3 * flopsForward(c, batch, tokens, totalPatches);
}
