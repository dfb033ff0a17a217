/**
 * `flux-eval probe`: the chat probe. With no runs it is the embedded job:
 * 1. two encoders tuned with flux-tune's `tune` on the embedded Moving-MNIST — the fixed-grid baseline and
 *    Flux-Multi (the same model, steps and schedule);
 * 2. two frozen LMs — stories260K (a real pretrained Llama, shipped with @flux/chat-probe) and a built-in small
 *    Llama trained on the probe's own language (captions and question/answer lines of the train split);
 * 3. a projector per (encoder, LM), trained with both frozen on captions and questions at every budget;
 * 4. MC-QA accuracy and caption event F1 on held-out clips at full, 50 % and 25 % tokens, with a report.
 */
import fs from 'node:fs';
import path from 'node:path';

import { STORIES260K_DIR, createTinyLlama, wordLevelTokenizer, datasetText, evaluateProbe, loadLlama, loadTokenizer, probeCorpus, trainLanguageModel, trainProbe, writeProbeReport, type LanguageModel, type ProbeRunResult, type VisualMode } from '@flux/chat-probe';
import { createFluxModel, gridTokens, loadRun, openDataset, patchSizeOf, resolveTuneConfig, tune, type TuneConfig } from '@flux/train';

export interface ProbeStudyOptions {
  out: string;
  /** Encoder runs (flux-tune run directories); empty: tune the two embedded encoders. */
  encoders: string[];
  /** Encoder tuning when `encoders` is empty. */
  encoderTune: Partial<TuneConfig>;
  /** LMs: 'stories260k', 'builtin', or Llama folders. */
  lms: string[];
  builtinSteps: number;
  probeSteps: number;
  batchSize: number;
  visual: VisualMode;
  testClips: number;
  fractions: number[];
  maxCaptionTokens: number;
  resume: boolean;
  overwrite: boolean;
  quiet: boolean;
}

export const DEFAULT_PROBE_STUDY: ProbeStudyOptions = {
  out: 'runs/probe',
  encoders: [],
  encoderTune: { task: 'directions', steps: 300 },
  lms: ['stories260k', 'builtin'],
  builtinSteps: 2000,
  probeSteps: 600,
  batchSize: 16,
  visual: 'pooled',
  testClips: 120,
  fractions: [1, 0.5, 0.25],
  maxCaptionTokens: 20,
  resume: false,
  overwrite: false,
  quiet: false,
};

const log = (q: boolean, m: string) => {
  if (!q) process.stderr.write(`flux-eval probe: ${m}\n`);
};

export async function runProbeStudy(o: ProbeStudyOptions): Promise<{ report: string; runs: ProbeRunResult[]; minutes: Record<string, number> }> {
  const t0 = performance.now();
  const minutes: Record<string, number> = {};
  fs.mkdirSync(o.out, { recursive: true });
  const flags = (dir: string) => ({ resume: o.resume && fs.existsSync(path.join(dir, 'config.json')), overwrite: o.overwrite });

  // 1. Encoders.
  let encoders = o.encoders.map((d) => ({ name: path.basename(path.resolve(d)), dir: d }));
  if (!encoders.length) {
    const ts = performance.now();
    encoders = [];
    for (const mode of ['fixed', 'multi'] as const) {
      const dir = path.join(o.out, `encoder-${mode}`);
      const cfg = resolveTuneConfig(o.encoderTune, { mode });
      log(o.quiet, `encoder (${mode === 'fixed' ? 'fixed grid' : 'Flux-Multi'}): flux-tune ${cfg.steps} steps → ${dir}`);
      const r = await tune(cfg, { out: dir, ...flags(dir), createModel: createFluxModel, quiet: o.quiet });
      r.model.dispose();
      encoders.push({ name: mode === 'fixed' ? 'fixed-grid encoder' : 'Flux-Multi encoder', dir });
    }
    minutes.encoders = (performance.now() - ts) / 60_000;
  }

  // 2. Language models (frozen during the probe).
  const lmDirs: { name: string; dir: string }[] = [];
  for (const lm of o.lms) {
    if (lm === 'stories260k') lmDirs.push({ name: 'stories260K', dir: STORIES260K_DIR });
    else if (lm === 'builtin') {
      const ts = performance.now();
      const dir = path.join(o.out, 'lm-builtin');
      const train = openDataset('train', resolveTuneConfig(o.encoderTune));
      const texts = await probeCorpus(train, 4000);
      const tokenizer = wordLevelTokenizer(texts);
      log(o.quiet, `built-in LM: ${o.builtinSteps} steps on ${texts.length} caption-grounded caption and question lines (${tokenizer.vocabSize} word tokens) → ${dir}`);
      const model = createTinyLlama({ vocabSize: tokenizer.vocabSize, seed: 0 });
      const r = await trainLanguageModel(model, texts, tokenizer, { steps: o.builtinSteps, batchSize: 32, lr: 3e-3, seqLen: 64, out: dir, ...flags(dir), quiet: o.quiet });
      model.dispose();
      if (!r.modelDir) throw new Error(`built-in LM training did not finish (${dir})`);
      lmDirs.push({ name: 'built-in LM', dir: r.modelDir });
      minutes.lm = (performance.now() - ts) / 60_000;
    } else lmDirs.push({ name: path.basename(path.resolve(lm)), dir: lm });
  }

  // 3–4. Probes and their evaluation.
  const runs: ProbeRunResult[] = [];
  const tp = performance.now();
  for (const enc of encoders) {
    for (const lmd of lmDirs) {
      const run = loadRun(enc.dir, enc.name);
      const lm: LanguageModel = await loadLlama(lmd.dir);
      const tokenizer = loadTokenizer(lmd.dir);
      try {
        const cfg = run.cfg;
        const patch = patchSizeOf(cfg);
        const fullTokens = gridTokens(cfg.frames, cfg.size, patch);
        const budgets = o.fractions.map((f) => Math.max(1, Math.round(f * fullTokens)));
        const train = openDataset('train', cfg);
        const test = openDataset('test', cfg, { testClips: o.testClips });
        const dir = path.join(o.out, `probe-${path.basename(enc.dir)}-${lmd.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`);
        log(o.quiet, `probe: ${enc.name} + ${lmd.name}, ${o.probeSteps} steps → ${dir}`);
        const pr = await trainProbe({ encoder: run.model, lm, tokenizer, data: train, text: datasetText(train), cfg: { frames: cfg.frames, size: cfg.size, patch, budgets, visual: o.visual, batchSize: o.batchSize, captionFraction: 0.5, seed: 0 }, steps: o.probeSteps, out: dir, ...flags(dir), quiet: o.quiet });
        // Long enough for the longest reference caption in this LM's tokens (stories260K's are near character level).
        const refs = await train.captions!(Array.from({ length: Math.min(500, train.count) }, (_, i) => i));
        const maxCaptionTokens = Math.max(o.maxCaptionTokens, ...refs.map((c) => tokenizer.encode(` ${c}`, { addBos: false }).length + 2));
        const res = await evaluateProbe({ encoder: run.model, lm, tokenizer, projector: pr.projector }, test, datasetText(test), { frames: cfg.frames, size: cfg.size, patch, budgets, visual: o.visual, clips: o.testClips, maxCaptionTokens });
        pr.projector.dispose();
        runs.push({ encoder: enc.name, lm: lmd.name, fullTokens, budgets: res });
      } finally {
        run.model.dispose();
        lm.dispose();
      }
    }
  }
  minutes.probes = (performance.now() - tp) / 60_000;
  minutes.total = (performance.now() - t0) / 60_000;
  const report = writeProbeReport(o.out, runs, [
    `The vision encoder and the LM stay frozen; only an MLP projector (one hidden layer) between them is trained, on captions and multiple-choice questions, at every budget in turn (visual tokens: ${o.visual === 'tokens' ? "the encoder's last-block outputs at the kept tokens" : 'the pooled feature'}). Tokens at test: kept by the group-dynamic selector on the fixed grid.`,
    `Time (minutes): ${Object.entries(minutes).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}.`,
  ]);
  return { report, runs, minutes };
}
