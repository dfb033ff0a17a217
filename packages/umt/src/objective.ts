/**
 * The Flux-UMT objective on @flux/train's loop. Each batch: a clip (flexi-sampled in `flux` mode, a fixed grid
 * in `vanilla`), the teacher's forward pass on K_t tokens (outside the gradient tape), and one UMT student mask
 * per mask ratio — the Flux-Multi student counts all share that one teacher pass. The loss of each student
 * forward: the mean over aligned layers of 2 − 2·cos(decoder_i(student layer), teacher layer) on the student's
 * visible tokens (CLS included) plus the same on the final pooled feature; the counts' losses are summed.
 */
import { Rng, gatherRows, type TensorRecord } from '@flux/core';
import { ClipBatcher, gridSampling, type ClipDataset, type ClipSampling, type NamedParam, type Objective, type StepLoss } from '@flux/train';
import type { FluxViT } from '@flux/vit';
import * as tf from '@tensorflow/tfjs-core';

import { maskRatiosOf, studentPatchSize, teacherTokensOf, type PretrainConfig } from './config.js';
import { AlignmentHeads, cosineAlignmentLoss } from './decoder.js';
import { studentLayers, teacherLayers } from './layers.js';
import { studentMask, type MaskSegments } from './mask.js';
import type { Teacher } from './teacher.js';

/** One student view of a batch. */
export interface StudentView {
  /** Mask ratio of this view. */
  ratio: number;
  /** The student's tokens: int32 [B, Ks] into F·L. */
  indices: tf.Tensor2D;
  /** Teacher targets at the student's tokens, CLS first: one [B, 1 + Ks, C_t] per aligned layer. */
  targets: tf.Tensor3D[];
}

export interface UmtBatch {
  video: tf.Tensor5D;
  frames: number;
  size: number;
  /** Tokens of the sampled clip (the pool). */
  poolTokens: number;
  /** Tokens the teacher saw. */
  teacherTokens: number;
  /** The teacher's pooled feature [B, D_t]. */
  pooled: tf.Tensor2D;
  students: StudentView[];
  /** Wall time of the teacher's forward pass (selection included) on this batch. */
  teacherMs: number;
  /** Wall time of the student masks and the target gathers (one per student count). */
  maskMs: number;
}

/** Names of the student parameters that pretraining trains: the backbone and the first projector (the classifier heads and other projectors are not on the loss path). */
export function pretrainedParamFilter(name: string): boolean {
  if (/^head\.|^fc_norm\.|^final_clip_decoder_for_projs\./.test(name)) return false;
  const m = /^clip_projector\.(\d+)\./.exec(name);
  return !m || m[1] === '0';
}

/** The sampling of a pretraining run: flexi-sampled pools (flux) or the fixed grid (vanilla). */
export function pretrainSampling(cfg: PretrainConfig): ClipSampling {
  return gridSampling({ ...cfg, fixed: cfg.mode === 'vanilla', patch: studentPatchSize(cfg) });
}

export class UmtObjective implements Objective<UmtBatch> {
  readonly batcher: ClipBatcher;
  readonly heads: AlignmentHeads;
  readonly teacherLayers: number[];
  readonly studentLayers: number[];
  readonly ratios: number[];
  readonly kt: number;
  private readonly patch: number;

  constructor(
    readonly teacher: Teacher,
    readonly student: FluxViT,
    readonly cfg: PretrainConfig,
    readonly trainSet: ClipDataset,
  ) {
    this.patch = studentPatchSize(cfg);
    if (student.config.patchSize !== this.patch) throw new Error(`student patch size ${student.config.patchSize} differs from the config's ${this.patch}`);
    if (teacher.patchSize !== this.patch) {
      throw new Error(`the teacher's patch size ${teacher.patchSize} differs from the student's ${this.patch}: the double mask needs both on the same patch grid`);
    }
    const n = Math.min(cfg.alignLayers, teacher.depth, student.config.depth);
    this.teacherLayers = teacherLayers(teacher.depth, n, cfg.teacherInterval ?? undefined);
    this.studentLayers = studentLayers(student.config.depth, n);
    this.ratios = maskRatiosOf(cfg);
    this.kt = teacherTokensOf(cfg);
    this.heads = new AlignmentHeads({
      layers: n,
      studentDim: student.config.embedDim,
      teacherDim: teacher.embedDim,
      studentPooledDim: student.config.clipEmbedDim,
      teacherPooledDim: teacher.pooledDim,
      seed: cfg.seed,
    });
    this.batcher = new ClipBatcher(pretrainSampling(cfg), trainSet);
    if (cfg.mode === 'flux') {
      const small = this.batcher.grids.filter((g) => g.tokens < this.kt);
      if (small.length === this.batcher.grids.length) {
        throw new Error(`no sampled grid holds K_t = ${this.kt} tokens (largest ${Math.max(...this.batcher.grids.map((g) => g.tokens))}): raise tokenThreshold or flexiSizes/flexiFrames, or lower teacherTokens`);
      }
    }
  }

  params(): NamedParam[] {
    const names = this.student.trainableNames(pretrainedParamFilter);
    const vars = this.student.trainableVariables(pretrainedParamFilter);
    return [...names.map((name, i) => ({ name, variable: vars[i]! })), ...[...this.heads.params].map(([name, variable]) => ({ name, variable }))];
  }

  async batch(step: number): Promise<UmtBatch> {
    const tb = await this.batcher.batch(step);
    tb.labels.dispose(); // pretraining never reads labels
    const t0 = performance.now();
    const l = (tb.size / this.patch) ** 2;
    const n = tb.frames * l;
    const kt = Math.min(this.kt, n);
    const out = this.teacher.forward(tb.video, { layers: this.teacherLayers, ...(kt < n ? { k: kt } : {}), selector: { method: this.cfg.selector as 'group-dynamic' } });
    try {
      const teacherIdx = out.indices.dataSync() as Int32Array;
      const attention = out.clsAttention.dataSync();
      for (const t of out.layers) t.dataSync(); // finish the teacher's forward before timing it (async backends)
      const t1 = performance.now();
      const segments: MaskSegments = this.cfg.maskSegments === 'auto' ? (kt === n ? 'frame' : 'group') : this.cfg.maskSegments;
      const students = this.ratios.map((ratio, c) => {
        const m = studentMask(teacherIdx, kt, attention, { ratio, frames: tb.frames, patchesPerFrame: l, segments, rng: new Rng(`umt-mask/${this.cfg.seed}/${step}/${c}`) });
        return tf.tidy(() => {
          // Teacher rows of the student's tokens: CLS (row 0), then 1 + position.
          const rows = new Int32Array(m.batch * (1 + m.keep));
          for (let r = 0; r < m.batch; r++) {
            rows[r * (1 + m.keep)] = 0;
            for (let j = 0; j < m.keep; j++) rows[r * (1 + m.keep) + 1 + j] = 1 + m.positions[r * m.keep + j]!;
          }
          const rowT = tf.tensor2d(rows, [m.batch, 1 + m.keep], 'int32');
          return {
            ratio,
            indices: tf.tensor2d(m.indices, [m.batch, m.keep], 'int32'),
            targets: out.layers.map((t) => gatherRows(t, rowT)),
          };
        });
      });
      return { video: tb.video, frames: tb.frames, size: tb.size, poolTokens: n, teacherTokens: kt, pooled: out.pooled, students, teacherMs: t1 - t0, maskMs: performance.now() - t1 };
    } catch (err) {
      out.pooled.dispose();
      tb.video.dispose();
      throw err;
    } finally {
      tf.dispose([...out.layers, out.clsAttention, out.indices]);
    }
  }

  loss(b: UmtBatch, ctx: { rng: Rng }): StepLoss {
    const { cfg, heads } = this;
    const layerParts: tf.Scalar[] = [];
    const pooledParts: tf.Scalar[] = [];
    let total: tf.Scalar | null = null;
    for (const s of b.students) {
      const out = this.student.forward(b.video, { indices: s.indices, head: 0, training: true, rng: ctx.rng, returnLayers: this.studentLayers });
      const perLayer = out.layers!.map((x, i) => cosineAlignmentLoss(heads.decodeLayer(i, x), s.targets[i]!));
      const layer = tf.mean(tf.stack(perLayer)) as tf.Scalar;
      const pooled = cosineAlignmentLoss(heads.decodePooled(out.pooled), b.pooled);
      layerParts.push(layer);
      pooledParts.push(pooled);
      const term = tf.add(tf.mul(layer, cfg.layerWeight), tf.mul(pooled, cfg.pooledWeight)) as tf.Scalar;
      total = total ? (tf.add(total, term) as tf.Scalar) : term;
    }
    return { total: total!, parts: { align: layerParts, pooled: pooledParts } };
  }

  disposeBatch(b: UmtBatch): void {
    b.video.dispose();
    b.pooled.dispose();
    for (const s of b.students) tf.dispose([s.indices, ...s.targets]);
  }

  describeBatch(b: UmtBatch): Record<string, number | number[]> {
    return { frames: b.frames, size: b.size, tokens: b.poolTokens, teacherTokens: b.teacherTokens, studentTokens: b.students.map((s) => s.indices.shape[1]), teacherMs: Math.round(b.teacherMs * 10) / 10, maskMs: Math.round(b.maskMs * 10) / 10 };
  }

  /** The student (official names) and the alignment heads (`clip_decoder.*`, `final_clip_decoder.*`). */
  stateDict(): Map<string, TensorRecord> {
    const out = new Map<string, TensorRecord>();
    for (const [k, v] of this.student.stateDict()) out.set(k, v);
    for (const [k, v] of this.heads.stateDict()) out.set(k, v);
    return out;
  }

  loadStateDict(tensors: Map<string, TensorRecord>, file: string): void {
    const mine = new Set(this.heads.names());
    const heads = new Map([...tensors].filter(([k]) => mine.has(k)));
    const student = new Map([...tensors].filter(([k]) => !mine.has(k)));
    try {
      this.student.loadStateDict(student, { strict: true });
    } catch (e) {
      if (e instanceof Error) e.message = `${file}: ${e.message}`;
      throw e;
    }
    this.heads.loadStateDict(heads, file);
  }
}
