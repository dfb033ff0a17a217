#!/usr/bin/env node
// pnpm bench:setup-torch — PyTorch CPU for the benchmarks' side-by-side rows, in a venv of the project's
// (.flux-cache/torch-venv), with pip from whatever index pip is configured with. The benchmarks find it there
// (tooling/bench/torch.mjs). Version: FLUX_TORCH_VERSION (default 2.13.0).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const venv = path.join(root, '.flux-cache', 'torch-venv');
const version = process.env.FLUX_TORCH_VERSION ?? '2.13.0';
const py = process.env.FLUX_PYTHON ?? 'python3';
const say = (l) => process.stderr.write(`[bench:setup-torch] ${l}\n`);
const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit' }).status === 0;

if (!fs.existsSync(path.join(venv, 'bin', 'python'))) {
  say(`creating ${venv} with ${py}`);
  if (!run(py, ['-m', 'venv', venv])) {
    say(`could not create the venv (is ${py} with the venv module installed? Debian: apt-get install python3-venv)`);
    process.exit(1);
  }
}
say(`installing torch==${version} (CPU) with pip…`);
if (!run(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '-q', '--retries', '1', `torch==${version}`])) {
  say(`pip could not install torch==${version}; the benchmarks will skip their PyTorch rows`);
  process.exit(1);
}
const check = spawnSync(path.join(venv, 'bin', 'python'), ['-c', 'import torch; print(torch.__version__, torch.get_num_threads())'], { encoding: 'utf8' });
say(`ready: torch ${check.stdout.trim()} threads in ${venv}`);
