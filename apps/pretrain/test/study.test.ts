import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { initBackend } from '@flux/core';
import { beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_STUDY, buildPretrainCommand, clipStudyFromCli, runClipStudy, runStudy, studyFromCli, type StudyOptions } from '../src/index.js';

const tmp = (l: string) => fs.mkdtempSync(path.join(os.tmpdir(), `flux-pretrain-${l}-`));

const TINY = { patchSize: 16, embedDim: 16, depth: 2, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 2, layerScaleInit: 0, clipPool: 'max' };
const DATA = { task: 'directions', trainClips: 64, valClips: 16, evalClips: 8, frames: 4, size: 32, flexiFrames: [4, 8, 2] as [number, number, number], flexiSizes: [16, 32, 16] as [number, number, number], batchSize: 2, warmupSteps: 1, checkpointEvery: 2 };

/** The study shrunk to seconds: dim 16 students, a dim 24 teacher, 4×32² clips (16 tokens), a few steps each. */
function tinyStudy(out: string, over: Partial<StudyOptions> = {}): StudyOptions {
  return {
    ...DEFAULT_STUDY,
    out,
    teacherTune: { ...DATA, modelOverrides: { ...TINY, embedDim: 24, depth: 3 }, tokenCounts: [12, 8, 4], tokenThreshold: [8, 32], steps: 4 },
    pretrain: { steps: 4, batchSize: 2, warmupSteps: 1, checkpointEvery: 2, flexiFrames: [4, 8, 2], flexiSizes: [16, 32, 16], tokenThreshold: [16, 32] },
    tune: { ...DATA, modelOverrides: TINY, tokenCounts: [12, 8, 4], tokenThreshold: [8, 32], steps: 4, evalEvery: 2 },
    labelFraction: 0.25,
    testClips: 24,
    quiet: true,
    ...over,
  };
}

beforeAll(() => initBackend({ backend: 'cpu', log: false }));

describe('the study', () => {
  it('teacher → Flux-UMT and vanilla UMT students → label-scarce tuning → report; resume keeps finished stages', async () => {
    const out = tmp('study');
    const r = await runStudy(tinyStudy(out));
    expect(r.arms.map((a) => a.name)).toEqual(['Flux-UMT', 'vanilla UMT', 'from scratch']);
    for (const a of r.arms) {
      expect(a.top1.map((x) => x.tokens)).toEqual([16, 8, 4]);
      for (const x of a.top1) {
        expect(x.correct.length).toBe(24);
        expect(x.top1).toBeCloseTo(x.correct.reduce((s, v) => s + v, 0) / 24, 10);
      }
    }
    // Students were tuned from their pretraining runs, on a quarter of the labels; the scratch arm from nothing.
    const tcfg = (dir: string) => JSON.parse(fs.readFileSync(path.join(out, dir, 'config.json'), 'utf8')) as { init: string | null; trainClips: number };
    expect(tcfg('tune-flux').init).toBe(path.join(out, 'pretrain-flux'));
    expect(tcfg('tune-vanilla').init).toBe(path.join(out, 'pretrain-vanilla'));
    expect(tcfg('tune-scratch').init).toBeNull();
    expect(tcfg('tune-flux').trainClips).toBe(16);
    const pcfg = JSON.parse(fs.readFileSync(path.join(out, 'pretrain-flux', 'config.json'), 'utf8')) as { trainClips: number; teacher: string; mode: string };
    expect(pcfg).toMatchObject({ trainClips: 64, teacher: path.join(out, 'teacher'), mode: 'flux' });
    expect(fs.existsSync(path.join(out, 'pretrain-vanilla', 'student.safetensors'))).toBe(true);
    const md = fs.readFileSync(r.report!, 'utf8');
    expect(md).toMatch(/\| Flux-UMT \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
    expect(md).toMatch(/\| Flux-UMT − vanilla UMT \|/);
    expect(md).toMatch(/Teacher cost per batch[\s\S]*ratio \d\.\d\d/);
    for (const f of ['accuracy-vs-tokens.svg', 'pretraining-loss.svg', 'study.json']) expect(fs.existsSync(path.join(out, f))).toBe(true);
    expect(r.teacherMs.flux).toBeGreaterThan(0);

    // Resume: every stage is finished, so nothing retrains and the numbers are the same.
    const mtime = fs.statSync(path.join(out, 'pretrain-flux', 'student.safetensors')).mtimeMs;
    const again = await runStudy(tinyStudy(out, { resume: true }));
    expect(fs.statSync(path.join(out, 'pretrain-flux', 'student.safetensors')).mtimeMs).toBe(mtime);
    expect(again.arms.map((a) => a.top1.map((x) => x.top1))).toEqual(r.arms.map((a) => a.top1.map((x) => x.top1)));
    // Without --resume or --overwrite an existing study is not touched.
    await expect(runStudy(tinyStudy(out))).rejects.toThrow(/already|exists|--resume|--overwrite/i);
  }, 240_000);

  it('one arm with a given teacher, and --no-tune stops after pretraining', async () => {
    const first = tmp('teacher');
    await runStudy(tinyStudy(first, { modes: [], tuneStudents: true }));
    const out = tmp('given');
    const r = await runStudy(tinyStudy(out, { modes: ['flux'], teacher: path.join(first, 'teacher'), tuneStudents: false }));
    expect(r.report).toBeNull();
    expect(fs.existsSync(path.join(out, 'teacher'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'pretrain-flux', 'student.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'pretrain-vanilla'))).toBe(false);
  }, 240_000);
});

describe('flux-pretrain options', () => {
  const parse = (args: string[]) => {
    const cmd = buildPretrainCommand().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    cmd.parse(['node', 'flux-pretrain', ...args]);
    return studyFromCli(cmd.opts());
  };
  it('maps flags onto the study', () => {
    const s = parse(['--mode', 'vanilla', '--steps', '50', '--tune-steps', '20', '--teacher-steps', '30', '--labels', '0.1', '--mask-ratios', '0.7', '--no-tune']);
    expect(s.modes).toEqual(['vanilla']);
    expect(s.pretrain.steps).toBe(50);
    expect(s.pretrain.maskRatios).toEqual([0.7]);
    expect(s.tune.steps).toBe(20);
    expect(s.teacherTune.steps).toBe(30);
    expect(s.labelFraction).toBe(0.1);
    expect(s.tuneStudents).toBe(false);
    expect(parse([]).modes).toEqual(['flux', 'vanilla']);
  });
  it('refuses absurd options with the option named', () => {
    expect(() => parse(['--mode', 'both'])).toThrow(/mode/);
    expect(() => parse(['--steps', '-3'])).toThrow(/steps|integer/i);
    expect(() => parse(['--labels', '7'])).toThrow(/labels|≤ 1|1\b/);
    expect(() => parse(['--mask-ratios', '1.5'])).toThrow(/maskRatios/);
    const bad = path.join(tmp('cfg'), 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ stepz: 3 }));
    expect(() => parse(['--config', bad])).toThrow(/unknown pretrain config key 'stepz'/);
  });
});

describe('flux-pretrain --mode clip', () => {
  it('maps flags onto the Flux-CLIP study and trains + evaluates both arms into one report', async () => {
    const cmd = buildPretrainCommand().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    cmd.parse(['node', 'flux-pretrain', '--mode', 'clip', '--steps', '7', '--student-init', 'runs/x', '--test-clips', '30']);
    const s = clipStudyFromCli(cmd.opts());
    expect(s.clip).toMatchObject({ stage2Steps: 7, visionInit: 'runs/x' });
    expect(s.testClips).toBe(30);
    expect(s.modes).toEqual(['multi', 'fixed']);
    const out = tmp('clip');
    const r = await runClipStudy({
      ...s,
      out,
      quiet: true,
      testClips: 16,
      clip: {
        modelOverrides: TINY,
        trainClips: 32,
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
        stage1Steps: 1,
        stage2Steps: 2,
        batchSize: 4,
        checkpointEvery: 2,
      },
    });
    expect(r.evals.map((e) => e.name)).toEqual(['Flux-Multi CLIP', 'fixed-grid CLIP']);
    expect(r.evals[0]!.retrieval!.map((x) => x.tokens)).toEqual([16, 8, 4]);
    const md = fs.readFileSync(r.report, 'utf8');
    expect(md).toMatch(/\| Flux-Multi CLIP \| 4 \(25 %\) \|/);
    expect(md).toMatch(/Zero-shot classification[\s\S]*Chance 12\.5 %/);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'clip-fixed', 'config.json'), 'utf8')) as { mode: string };
    expect(cfg.mode).toBe('fixed');
  }, 240_000);
});
