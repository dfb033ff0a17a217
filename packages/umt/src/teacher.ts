/**
 * The teacher of masked distillation: any frozen model behind a small interface. A clip goes in; out come the
 * outputs of the requested blocks, the final pooled feature and the CLS→patch attention of the last block. It
 * runs outside any gradient tape (the objective calls it while building a batch), so its cost is one forward
 * pass and it holds no activations for a backward pass.
 */
import type { SelectorOptions } from '@flux/selector';
import type { FluxViT } from '@flux/vit';
import * as tf from '@tensorflow/tfjs-core';

/** What the teacher returns for a clip. The caller owns every tensor. */
export interface TeacherOutput {
  /** Outputs of the requested blocks, in request order: [B, 1 + K, C] each (CLS first, then the K kept tokens). */
  layers: tf.Tensor3D[];
  /** The final pooled feature [B, D]. */
  pooled: tf.Tensor2D;
  /** CLS→patch attention of the last block, mean over heads, [B, F, L] (zeros at tokens the teacher did not see). */
  clsAttention: tf.Tensor3D;
  /** The tokens the teacher saw: int32 [B, K] indices into the clip's F·L patches. */
  indices: tf.Tensor2D;
}

export interface TeacherForwardOptions {
  /** Blocks (0-based) whose outputs to return. */
  layers: number[];
  /** Tokens to keep by selection (K_t); default: every token of the clip. */
  k?: number;
  /** Selector used when k < F·L (default group-dynamic). */
  selector?: SelectorOptions;
}

/** A frozen teacher. */
export interface Teacher {
  /** Number of blocks (for {@link teacherLayers}). */
  readonly depth: number;
  /** Width of the block outputs. */
  readonly embedDim: number;
  /** Width of the pooled feature. */
  readonly pooledDim: number;
  /** Patch size: the clip's sides must be multiples of it. */
  readonly patchSize: number;
  forward(video: tf.Tensor5D, options: TeacherForwardOptions): TeacherOutput;
  dispose?(): void;
}

/**
 * A FluxViT as a teacher: its block outputs, the pooled feature of its projector (the head whose token count
 * is nearest K_t) and the last block's CLS attention. The model is frozen (`freeze()`); its weights are never
 * updated. Official `.pth` checkpoints load into the FluxViT first (`model.load(file)`).
 */
export function fluxViTTeacher(model: FluxViT): Teacher {
  model.freeze();
  const c = model.config;
  return {
    depth: c.depth,
    embedDim: c.embedDim,
    pooledDim: c.clipEmbedDim,
    patchSize: c.patchSize,
    forward(video, options) {
      const r = model.forward(video, {
        ...(options.k !== undefined ? { k: options.k } : {}),
        selector: options.selector ?? { method: 'group-dynamic' },
        returnLayers: options.layers,
        returnAttention: true,
        training: false,
        reuseEmbedding: true,
      });
      r.logits.dispose();
      return { layers: r.layers ?? [], pooled: r.pooled, clsAttention: r.clsAttention!, indices: r.indices };
    },
    dispose: () => model.dispose(),
  };
}
