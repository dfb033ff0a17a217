#!/usr/bin/env node
/**
 * Regenerates test/fixtures/tiny-mnist.safetensors, the tiny checkpoint the browser end-to-end test loads: a
 * Flux-Multi FluxViT (width 48, 2 blocks, patch 16) tuned with @flux/train on the embedded Moving-MNIST
 * `directions` task (8 × 64² frames, heads for 128/64/32 tokens). flux-tune writes the model config, class names
 * and grid into the safetensors metadata, so the page needs nothing else. About 4 minutes on 2 cores.
 *
 *   pnpm --filter @flux/web make-fixture
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { initBackend } from '@flux/core';
import { createFluxModel, resolveTuneConfig, tune } from '@flux/train';

const here = path.dirname(fileURLToPath(import.meta.url));
const target = path.join(here, '..', 'test', 'fixtures', 'tiny-mnist.safetensors');
await initBackend({ log: false });
const cfg = resolveTuneConfig({
  steps: 900,
  batchSize: 16,
  lr: 2e-3,
  trainClips: 4000,
  valClips: 128,
  evalClips: 128,
  checkpointEvery: 1000,
  tokenCounts: [128, 64, 32],
  tokenThreshold: [32, 256],
  modelOverrides: { embedDim: 48, depth: 2, numHeads: 4, clipEmbedDim: 48, clipNumHeads: 2 },
});
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-web-fixture-'));
const r = await tune(cfg, { out, overwrite: true, createModel: createFluxModel });
r.model.dispose();
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.copyFileSync(path.join(out, 'model.safetensors'), target);
fs.writeFileSync(path.join(path.dirname(target), 'tiny-mnist.result.json'), fs.readFileSync(path.join(out, 'result.json')));
fs.rmSync(out, { recursive: true, force: true });
console.log(`wrote ${path.relative(process.cwd(), target)} (${fs.statSync(target).size} bytes; val: ${JSON.stringify(r.val.map((v) => [v.k, v.top1]))})`);
