/**
 * Layer-wise learning-rate decay for ViTs (BEiT / VideoMAE `optim_factory`, which the official FluxViT and
 * UMT tuning scripts use through `--layer_decay`): parameter groups by depth, each with lr scaled by
 * `decay^(depth + 1 − layer)`, so the head learns at the full rate and the embeddings at the smallest.
 */

/**
 * The layer of a parameter in a `depth`-block ViT, as `get_num_layer_for_vit`: `cls_token`, `mask_token`,
 * `pos_embed` and `patch_embed.*` → 0; `blocks.{i}.*` → i + 1; everything else (projectors, heads, norms after
 * the blocks, the positional-embedding projection) → depth + 1. A `module.` / `backbone.` prefix is ignored.
 */
export function vitLayerId(name: string, depth: number): number {
  const n = name.replace(/^(module\.|backbone\.|encoder\.)+/, '');
  if (n === 'cls_token' || n === 'mask_token' || n === 'pos_embed') return 0;
  if (n.startsWith('patch_embed.')) return 0;
  const m = /^blocks\.(\d+)\./.exec(n);
  if (m) {
    const i = Number(m[1]);
    if (i >= depth) throw new RangeError(`vitLayerId: ${name} names block ${i} of a ${depth}-block model`);
    return i + 1;
  }
  return depth + 1;
}

/**
 * The learning-rate multiplier of each parameter under layer-wise decay `decay` ∈ (0, 1]
 * (`decay^(depth + 1 − layer)`; 1 turns it off). Pass it as AdamW's `lrScale`.
 */
export function vitLayerDecay(depth: number, decay: number): (name: string) => number {
  if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`vitLayerDecay: depth must be an integer ≥ 1, got ${depth}`);
  if (!(decay > 0 && decay <= 1)) throw new RangeError(`vitLayerDecay: decay must be in (0, 1], got ${decay}`);
  return (name) => decay ** (depth + 1 - vitLayerId(name, depth));
}
