/**
 * The Flux-CLIP objective on @flux/train's loop: batches of clips (flexi-sampled for Flux-Multi, a fixed grid
 * otherwise) with their captions tokenized; the loss is the VTC of each token count (Flux-Multi: plus the
 * self-distillation of the smaller counts to the largest). Stage 1 trains the text tower, the vision
 * projectors (`clip_projector.*`), `vision_align` and the temperature with the vision backbone frozen; stage 2
 * trains everything.
 */
import type { Rng, TensorRecord } from '@flux/core';
import { ClipBatcher, gridSampling, type ClipDataset, type NamedParam, type Objective, type StepLoss } from '@flux/train';
import * as tf from '@tensorflow/tfjs-core';

import { clipPatchSize, type ClipConfig } from './config.js';
import type { ClipModel } from './model.js';
import type { ClipTokenizer } from './tokenizer.js';
import { captionGroups, fluxMultiVtcLoss, vtcLoss } from './vtc.js';

export interface ClipBatch {
  video: tf.Tensor5D;
  ids: tf.Tensor2D;
  eot: Int32Array;
  groups: Int32Array;
  frames: number;
  size: number;
  tokens: number;
}

/** Vision parameters stage 1 trains (the projectors; the backbone stays frozen). */
export function isVisionProjection(name: string): boolean {
  return name.startsWith('clip_projector.');
}

export class ClipObjective implements Objective<ClipBatch> {
  readonly batcher: ClipBatcher;

  constructor(
    readonly model: ClipModel,
    readonly tokenizer: ClipTokenizer,
    readonly cfg: ClipConfig,
    readonly trainSet: ClipDataset,
    readonly stage: 1 | 2,
  ) {
    if (!trainSet.captions) throw new Error('the training data has no captions (video-text training needs a captioned dataset: the embedded Moving-MNIST, or a manifest with captions)');
    this.batcher = new ClipBatcher(gridSampling({ ...cfg, fixed: cfg.mode === 'fixed', patch: clipPatchSize(cfg) }), trainSet);
  }

  params(): NamedParam[] {
    const v = this.model.vision;
    const filter = this.stage === 1 ? isVisionProjection : () => true;
    // The classifier heads and Flux-FT decoders are not on the VTC's path.
    const vNames = v.trainableNames(filter).filter((n) => !/^head\.|^fc_norm\.|^final_clip_decoder_for_projs\./.test(n));
    const out: NamedParam[] = vNames.map((n) => ({ name: `vision.${n}`, variable: v.param(n) }));
    for (const [n, variable] of this.model.text.params) out.push({ name: `text.${n}`, variable });
    for (const [n, variable] of this.model.extra) out.push({ name: n, variable });
    return out;
  }

  async batch(step: number): Promise<ClipBatch> {
    const tb = await this.batcher.batch(step);
    tb.labels.dispose();
    const captions = await this.trainSet.captions!(tb.clipIndices);
    const enc = this.tokenizer.encodeBatch(captions, this.cfg.contextLength);
    return {
      video: tb.video,
      ids: tf.tensor2d(enc.ids, [captions.length, this.cfg.contextLength], 'int32'),
      eot: enc.eotIndex,
      groups: captionGroups(captions),
      frames: tb.frames,
      size: tb.size,
      tokens: tb.tokens,
    };
  }

  loss(b: ClipBatch, ctx: { rng: Rng }): StepLoss {
    const m = this.model;
    const text = m.encodeText(b.ids, b.eot);
    if (this.cfg.mode === 'fixed') {
      const v = m.encodeVideo(b.video, { head: 0, training: true, rng: ctx.rng });
      const l = vtcLoss(v, text, m.temperature, b.groups);
      return { total: l, parts: { vtc: [l] } };
    }
    const videos = this.cfg.tokenCounts.map((k, j) => m.encodeVideo(b.video, { k, head: j, training: true, rng: ctx.rng }));
    const p = fluxMultiVtcLoss(videos, text, m.temperature, b.groups, this.cfg.distillWeight);
    return { total: p.total, parts: { vtc: p.vtc, distill: p.distill } };
  }

  disposeBatch(b: ClipBatch): void {
    b.video.dispose();
    b.ids.dispose();
  }

  describeBatch(b: ClipBatch): Record<string, number> {
    return { frames: b.frames, size: b.size, tokens: b.tokens, temperature: this.model.temperature.dataSync()[0]!, uniqueCaptions: new Set(b.groups).size };
  }

  stateDict(): Map<string, TensorRecord> {
    return this.model.stateDict();
  }

  loadStateDict(tensors: Map<string, TensorRecord>, file: string): void {
    this.model.loadStateDict(tensors, file);
  }
}
