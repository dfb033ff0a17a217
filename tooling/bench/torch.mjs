// The PyTorch side of `pnpm bench`: finds a Python whose torch the comparisons run on.
// Order: FLUX_TORCH_PYTHON, the project's venv (.flux-cache/torch-venv, made by `pnpm bench:setup-torch`,
// PyTorch 2.x with MKL + oneDNN from pip), then python3 on PATH and Debian's /usr/bin/python3 (python3-torch).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** { python, version, threads } of the first Python that imports torch, or null. */
export function findTorch() {
  const candidates = [process.env.FLUX_TORCH_PYTHON, path.join(root, '.flux-cache', 'torch-venv', 'bin', 'python'), 'python3', '/usr/bin/python3'];
  for (const py of candidates) {
    if (!py || (py.includes('/') && !fs.existsSync(py))) continue;
    try {
      const out = execFileSync(py, ['-c', 'import torch; print(torch.__version__, torch.get_num_threads())'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const [version, threads] = out.trim().split(/\s+/);
      return { python: py, version, threads: Number(threads) };
    } catch {
      /* next */
    }
  }
  return null;
}

export const TORCH_MISSING =
  'PyTorch comparison skipped: no Python with torch found (run `pnpm bench:setup-torch` to install PyTorch 2.13 CPU with pip into .flux-cache/torch-venv, or set FLUX_TORCH_PYTHON).';

/** Runs a torch bench script; returns its stdout lines parsed as JSON where they are JSON. */
export function runTorch(torch, script, args) {
  const out = execFileSync(torch.python, [script, ...args.map(String)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONWARNINGS: 'ignore' },
    maxBuffer: 1 << 24,
  });
  return out
    .trim()
    .split('\n')
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return l;
      }
    });
}
