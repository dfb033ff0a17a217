/** Pretraining runs end to end on the engine (shared by backends): the double mask, leak, resume, official weights. */
import fs from 'node:fs';
import path from 'node:path';

import { parseSafetensors } from '@flux/core';
import { createFluxModel, initFromWeights, openDataset, readWeightsFile, resolveTuneConfig } from '@flux/train';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import { UmtObjective, createStudent, fluxViTTeacher, loadTeacher, pretrain } from '../src/index.js';
import { tinyPretrainConfig, tinyTeacherModel, tmpDir } from './helpers.js';

const GOLDEN_PTH = path.resolve(import.meta.dirname, '../../vit/test/fixtures/golden-weights.pth');
/** The architecture of @flux/vit's golden fixture (an official-code FluxViT saved by PyTorch). */
const GOLDEN_ARCH = { patchSize: 4, embedDim: 32, depth: 2, numHeads: 4, maxFrames: 8, maxGrid: 4, numClasses: 5, headTokenCounts: [64, 32, 16], clipEmbedDim: 24, clipNumHeads: 4 };

export function pretrainTests(): void {
  it('flux mode: the teacher sees K_t group-dynamic tokens of a larger pool, each student a per-group UMT subset of them', async () => {
    const cfg = tinyPretrainConfig();
    const teacherModel = tinyTeacherModel();
    const teacher = fluxViTTeacher(teacherModel);
    const student = createStudent(cfg);
    const obj = new UmtObjective(teacher, student, cfg, openDataset('train', { ...cfg, valClips: 1, valData: null, testData: null }));
    expect(obj.teacherLayers).toEqual([2, 1]);
    expect(obj.studentLayers).toEqual([1, 0]);
    let sawPool = false;
    for (let step = 0; step < 6; step++) {
      const b = await obj.batch(step);
      expect(b.teacherTokens).toBe(Math.min(16, b.poolTokens));
      if (b.poolTokens > 16) sawPool = true;
      for (const s of b.students) {
        const keep = s.indices.shape[1];
        expect(keep).toBeLessThan(b.teacherTokens);
        expect(s.targets.length).toBe(2);
        expect(s.targets[0]!.shape).toEqual([2, 1 + keep, 24]);
      }
      // The larger mask ratio keeps fewer tokens.
      expect(b.students[1]!.indices.shape[1]).toBeLessThan(b.students[0]!.indices.shape[1]);
      // The targets are the teacher's own K_t-token outputs (CLS, then the rows of the student's tokens).
      const direct = teacherModel.forward(b.video, { ...(b.poolTokens > 16 ? { k: 16 } : {}), returnLayers: [2] });
      const tIdx = direct.indices.arraySync() as number[][];
      const tOut = direct.layers![0]!.arraySync() as number[][][];
      const sIdx = b.students[0]!.indices.arraySync() as number[][];
      const got = b.students[0]!.targets[0]!.arraySync() as number[][][];
      for (let r = 0; r < 2; r++) {
        got[r]![0]!.forEach((v, c) => expect(v).toBeCloseTo(tOut[r]![0]![c]!, 4));
        sIdx[r]!.forEach((gi, j) => {
          const pos = tIdx[r]!.indexOf(gi);
          expect(pos).toBeGreaterThanOrEqual(0);
          got[r]![1 + j]!.forEach((v, c) => expect(v).toBeCloseTo(tOut[r]![1 + pos]![c]!, 4));
        });
      }
      tf.dispose([direct.logits, direct.pooled, direct.indices, ...direct.layers!]);
      obj.disposeBatch(b);
    }
    expect(sawPool).toBe(true);
    obj.heads.dispose();
    student.dispose();
    teacherModel.dispose();
  });

  it('vanilla mode: the teacher sees every token of the fixed grid; the student keeps L − ⌊ρL⌋ per frame', async () => {
    const cfg = tinyPretrainConfig({ mode: 'vanilla', maskRatios: null, teacherTokens: null });
    const teacherModel = tinyTeacherModel();
    const student = createStudent(cfg);
    const obj = new UmtObjective(fluxViTTeacher(teacherModel), student, cfg, openDataset('train', { ...cfg, valClips: 1, valData: null, testData: null }));
    expect(obj.ratios).toEqual([0.8]);
    const b = await obj.batch(0);
    expect([b.frames, b.size, b.poolTokens, b.teacherTokens]).toEqual([4, 32, 16, 16]);
    expect(b.students.length).toBe(1);
    const keep = b.students[0]!.indices.shape[1];
    expect(keep).toBe(4 * (4 - Math.floor(0.8 * 4))); // 4 frames × 1
    const idx = b.students[0]!.indices.arraySync() as number[][];
    for (const row of idx) expect(row.map((i) => Math.floor(i / 4))).toEqual([0, 1, 2, 3]);
    obj.disposeBatch(b);
    obj.heads.dispose();
    student.dispose();
    teacherModel.dispose();
  });

  it('trains: the alignment loss falls; no tensor leaks over 20 steps; student.safetensors loads into a tuning model', async () => {
    const cfg = tinyPretrainConfig({ steps: 20, checkpointEvery: 10, lr: 3e-3 });
    const teacherModel = tinyTeacherModel();
    const teacher = fluxViTTeacher(teacherModel);
    const counts: number[] = [];
    const out = tmpDir('train');
    const r = await pretrain(cfg, { out, teacher, quiet: true, onStep: () => counts.push(tf.memory().numTensors) });
    expect(r.steps).toBe(20);
    expect(counts.length).toBe(20);
    expect(new Set(counts.slice(1)).size).toBe(1);
    const first = r.losses.slice(0, 4).reduce((a, b) => a + b.loss, 0) / 4;
    const last = r.losses.slice(-4).reduce((a, b) => a + b.loss, 0) / 4;
    expect(last).toBeLessThan(first);
    expect(r.teacherMs).toBeGreaterThan(0);
    const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const step = metrics.find((m) => m.step === 1)!;
    expect(step.align).toHaveLength(2);
    expect(step.studentTokens).toHaveLength(2);
    // The student file: official names, no decoders; a tuning model of another head layout initialises from it.
    const sd = parseSafetensors(fs.readFileSync(r.studentFile!)).tensors;
    expect([...sd.keys()].some((k) => k.startsWith('clip_decoder.'))).toBe(false);
    expect(sd.has('blocks.1.attn.qkv.weight')).toBe(true);
    const tcfg = resolveTuneConfig({ modelOverrides: cfg.modelOverrides, tokenCounts: [12, 8, 4], frames: 4, size: 32, flexiFrames: [2, 8, 2], flexiSizes: [16, 32, 16], tokenThreshold: [8, 32] });
    const tuned = createFluxModel(tcfg, 8);
    const { file, tensors } = await readWeightsFile(out);
    expect(file).toBe(r.studentFile);
    const rep = initFromWeights(tuned, tensors, file);
    expect(rep.copiedFromProjector0.length).toBeGreaterThan(0);
    expect(rep.fresh.some((n) => n.startsWith('head.'))).toBe(true);
    const a = r.student.param('blocks.1.mlp.fc1.weight').dataSync();
    const b = tuned.param('blocks.1.mlp.fc1.weight').dataSync();
    expect([...b]).toEqual([...a]);
    expect([...tuned.param('clip_projector.2.cross_attn.proj.weight').dataSync()]).toEqual([...r.student.param('clip_projector.0.cross_attn.proj.weight').dataSync()]);
    tuned.dispose();
    r.student.dispose();
    teacherModel.dispose();
  }, 120_000);

  it('resume after an interruption is bit-exact (weights, decoders, optimizer, masks)', async () => {
    const cfg = tinyPretrainConfig({ steps: 6 });
    const teacherModel = tinyTeacherModel();
    const teacher = fluxViTTeacher(teacherModel);
    const full = await pretrain(cfg, { out: tmpDir('full'), teacher, quiet: true });
    const dir = tmpDir('cut');
    const part = await pretrain(cfg, { out: dir, teacher, quiet: true, stopAfter: 3 });
    expect(part.studentFile).toBeNull();
    part.student.dispose();
    const rest = await pretrain(cfg, { out: dir, teacher, quiet: true, resume: true });
    // The last checkpoint of the cut run is step 2 (checkpointEvery 2): steps 3–6 run again, bit for bit.
    expect(rest.losses.map((l) => l.step)).toEqual([3, 4, 5, 6]);
    expect(rest.losses.map((l) => l.loss)).toEqual(full.losses.slice(2).map((l) => l.loss));
    const a = fs.readFileSync(full.studentFile!);
    const b = fs.readFileSync(rest.studentFile!);
    expect(Buffer.compare(a, b)).toBe(0);
    full.student.dispose();
    rest.student.dispose();
    teacherModel.dispose();
  }, 120_000);

  it('an official .pth loads as the teacher and as the student init; a mismatched one is refused by name', async () => {
    // The golden fixture: FluxViT weights written by the official PyTorch code (patch 4, dim 32, depth 2).
    const cfg = tinyPretrainConfig({
      modelOverrides: { ...GOLDEN_ARCH, layerScaleInit: 1e-5, clipPool: 'attention' },
      teacher: GOLDEN_PTH,
      teacherOverrides: GOLDEN_ARCH,
      studentInit: GOLDEN_PTH,
      size: 16,
      frames: 4,
      flexiSizes: [8, 16, 4],
      tokenThreshold: [32, 64],
      teacherTokens: 32,
      steps: 2,
      lr: 1e-12,
      minLr: 0,
      weightDecay: 0,
      dropPath: 0,
    });
    const loaded = await loadTeacher(cfg);
    expect(loaded.model.config.depth).toBe(2);
    const r = await pretrain(cfg, { out: tmpDir('pth'), quiet: true });
    // lr ≈ 0: the student still holds the official weights it was initialised from.
    const ref = await readWeightsFile(GOLDEN_PTH);
    const w = ref.tensors.get('blocks.0.attn.proj.weight')!;
    const got = r.student.stateDict().get('blocks.0.attn.proj.weight')!;
    const wd = w.data as Float32Array;
    (got.data as Float32Array).forEach((x, i) => expect(x).toBeCloseTo(wd[i]!, 5));
    r.student.dispose();
    loaded.model.dispose();
    await expect(loadTeacher({ ...cfg, teacherOverrides: { ...GOLDEN_ARCH, embedDim: 48 } })).rejects.toThrow(/golden-weights\.pth/);
    await expect(loadTeacher({ ...cfg, teacher: '/nonexistent/t.pth' })).rejects.toThrow(/no such file/);
    // A teacher on another patch grid cannot share the double mask.
    const other = tinyTeacherModel();
    await expect(pretrain(tinyPretrainConfig({ modelOverrides: { ...tinyPretrainConfig().modelOverrides, patchSize: 8, maxGrid: 4 } }), { out: tmpDir('patch'), teacher: fluxViTTeacher(other), quiet: true })).rejects.toThrow(/patch size/);
    other.dispose();
  }, 120_000);
}
