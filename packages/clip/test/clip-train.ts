/** Flux-CLIP training end to end on the engine (shared by backends): freezing schedule, leaks, resume, evaluation. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

import { parseSafetensors } from '@flux/core';

import { createClipModel, evaluateRetrieval, evaluateZeroShot, loadClipRun, motionPrompts, resolveClipConfig, trainClip, type ClipConfig } from '../src/index.js';

const tmp = (l: string) => fs.mkdtempSync(path.join(os.tmpdir(), `flux-clip-${l}-`));

export function tinyClipConfig(over: Partial<ClipConfig> = {}): ClipConfig {
  return resolveClipConfig(
    {
      modelOverrides: { patchSize: 16, embedDim: 16, depth: 1, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 2, layerScaleInit: 0, clipPool: 'max' },
      trainClips: 48,
      valClips: 8,
      frames: 4,
      size: 32,
      flexiFrames: [2, 8, 2],
      flexiSizes: [16, 32, 16],
      tokenThreshold: [8, 32],
      tokenCounts: [12, 8, 4],
      embedDim: 16,
      textWidth: 16,
      textLayers: 1,
      textHeads: 2,
      contextLength: 16,
      stage1Steps: 2,
      stage2Steps: 4,
      batchSize: 6,
      warmupSteps: 1,
      checkpointEvery: 2,
    },
    over,
  );
}


export function clipTrainTests(): void {
  it('stage 1 trains text + projections with the backbone frozen, stage 2 trains all; no tensor leaks per step', async () => {
    const cfg = tinyClipConfig();
    const counts: number[][] = [[], []];
    const out = tmp('stages');
    const r = await trainClip(cfg, { out, quiet: true, onStep: (rec) => counts[rec.stage - 1]!.push(tf.memory().numTensors) });
    expect(r.complete).toBe(true);
    expect(r.losses.map((l) => `${l.stage}:${l.step}`)).toEqual(['1:1', '1:2', '2:1', '2:2', '2:3', '2:4']);
    for (const c of counts) expect(new Set(c.slice(1)).size).toBe(1);
    const s1 = parseSafetensors(fs.readFileSync(path.join(out, 'stage1', 'checkpoints', 'step-000002', 'model.safetensors'))).tensors;
    const s2 = parseSafetensors(fs.readFileSync(path.join(out, 'model.safetensors'))).tensors;
    const freshModel = createClipModel(cfg, r.tokenizer, 8);
    const fresh = freshModel.stateDict();
    freshModel.dispose();
    const diff = (a: Map<string, { data: unknown }>, b: Map<string, { data: unknown }>, k: string) => (a.get(k)!.data as Float32Array).some((x, i) => x !== (b.get(k)!.data as Float32Array)[i]);
    // Stage 1: backbone as initialised, text tower and projections moved.
    expect(diff(s1, fresh, 'vision.blocks.0.attn.qkv.weight')).toBe(false);
    expect(diff(s1, fresh, 'vision.patch_embed.proj.weight')).toBe(false);
    expect(diff(s1, fresh, 'text.token_embedding.weight')).toBe(true);
    expect(diff(s1, fresh, 'vision.clip_projector.0.cross_attn.proj.weight')).toBe(true);
    expect(diff(s1, fresh, 'vision_align.linear.weight')).toBe(true);
    // Stage 2: the backbone moves too.
    expect(diff(s2, s1, 'vision.blocks.0.attn.qkv.weight')).toBe(true);
    r.model.dispose();
  }, 180_000);

  it('resume after an interruption in stage 2 is bit-exact', async () => {
    const cfg = tinyClipConfig();
    const full = await trainClip(cfg, { out: tmp('full'), quiet: true });
    const dir = tmp('cut');
    const part = await trainClip(cfg, { out: dir, quiet: true, stopAfter: { stage: 2, steps: 2 } });
    expect(part.complete).toBe(false);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
    part.model.dispose();
    const rest = await trainClip(cfg, { out: dir, quiet: true, resume: true });
    expect(rest.complete).toBe(true);
    expect(rest.losses.map((l) => `${l.stage}:${l.step}`)).toEqual(['2:3', '2:4']);
    expect(rest.losses.map((l) => l.loss)).toEqual(full.losses.slice(-2).map((l) => l.loss));
    expect(Buffer.compare(fs.readFileSync(path.join(full.out, 'model.safetensors')), fs.readFileSync(path.join(dir, 'model.safetensors')))).toBe(0);
    full.model.dispose();
    rest.model.dispose();
  }, 180_000);

  it('evaluates retrieval (plain and dual softmax, chance levels) and zero-shot at three budgets from the saved run', async () => {
    const cfg = tinyClipConfig({ mode: 'fixed' });
    const r = await trainClip(cfg, { out: tmp('eval'), quiet: true });
    r.model.dispose();
    const run = loadClipRun(r.out);
    const ret = await evaluateRetrieval(run, { clips: 24, fractions: [1, 0.5, 0.25] });
    expect(ret.map((x) => x.tokens)).toEqual([16, 8, 4]);
    for (const x of ret) {
      for (const m of [x.plain, x.dual]) {
        expect(m.t2v.n).toBe(24);
        for (const k of [1, 5, 10]) {
          expect(m.t2v.at[k]).toBeGreaterThanOrEqual(0);
          expect(m.t2v.at[k]).toBeLessThanOrEqual(1);
          expect(m.t2v.chance[k]).toBeGreaterThan(0);
        }
        expect(m.t2v.at[10]).toBeGreaterThanOrEqual(m.t2v.at[1]!);
      }
    }
    const zs = await evaluateZeroShot(run, { clips: 24, fractions: [1, 0.25] });
    expect(zs.map((z) => z.chance)).toEqual([1 / 8, 1 / 8]);
    expect(zs[0]!.n).toBe(24);
    expect(motionPrompts('up-left')).toContain('the digit 3 moves up and to the left quickly');
    expect(() => motionPrompts('sideways')).toThrow(/no prompt template/);
    run.model.dispose();
    // A broken run is refused by name.
    fs.writeFileSync(path.join(r.out, 'model.safetensors'), 'garbage');
    expect(() => loadClipRun(r.out)).toThrow(new RegExp(r.out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
  }, 180_000);
}
