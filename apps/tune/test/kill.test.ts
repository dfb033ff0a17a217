/**
 * flux-tune killed with SIGKILL at random moments (mid-step, mid-checkpoint, mid-write), then resumed, until the
 * run finishes: the metrics log has every step exactly once, no temporary files remain, and the losses are bit for
 * bit those of an uninterrupted run.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Rng, readMetrics } from '@flux/core';
import { describe, expect, it } from 'vitest';

import { tmpDir } from './helpers.js';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const STEPS = 60;

function writeConfig(dir: string): string {
  const file = path.join(dir, 'tiny.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      mode: 'multi',
      modelOverrides: { patchSize: 16, embedDim: 16, depth: 1, numHeads: 2, clipEmbedDim: 16, clipNumHeads: 2, maxFrames: 8, maxGrid: 2 },
      trainClips: 64,
      valClips: 8,
      evalClips: 8,
      frames: 4,
      size: 32,
      flexiFrames: [2, 8, 2],
      flexiSizes: [16, 32, 16],
      tokenThreshold: [8, 32],
      tokenCounts: [12, 8, 4],
      steps: STEPS,
      batchSize: 2,
      warmupSteps: 2,
      checkpointEvery: 3,
    }),
  );
  return file;
}

/** Runs flux-tune; kills it with SIGKILL after `killAfterMs` (if given). Resolves with the exit code (null: killed). */
function run(args: string[], killAfterMs?: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cli, ...args, '--backend', 'cpu', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = killAfterMs !== undefined ? setTimeout(() => p.kill('SIGKILL'), killAfterMs) : undefined;
    p.on('error', reject);
    p.on('exit', (code) => {
      if (timer) clearTimeout(timer);
      if (code !== null && code !== 0) reject(new Error(`flux-tune exited with ${code}: ${err}`));
      else resolve(code);
    });
  });
}

function temps(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (/\.(tmp|old)-\d+/.test(e.name)) out.push(path.join(d, e.name));
      if (e.isDirectory()) walk(path.join(d, e.name));
    }
  };
  walk(dir);
  return out;
}

const stepLosses = (dir: string) =>
  readMetrics(path.join(dir, 'metrics.jsonl'))
    .filter((m) => m.event === undefined)
    .map((m) => [m.step as number, m.loss as number] as const);

describe('flux-tune under kill -9', () => {
  it('every resume continues; the log has no gap or duplicate; no temporary file remains; losses equal the uninterrupted run', async () => {
    const root = tmpDir('kill');
    const config = writeConfig(root);
    const ref = path.join(root, 'reference');
    const t0 = performance.now();
    expect(await run(['--config', config, '--out', ref])).toBe(0);
    // Kill moments scale with this machine's speed: anywhere from start-up to ~60 % of an uninterrupted run, so most attempts die before they finish.
    const full = performance.now() - t0;

    const dir = path.join(root, 'killed');
    const rng = new Rng('kill-times');
    let kills = 0;
    const attempts: string[] = [];
    let done = false;
    for (let attempt = 0; attempt < 12 && !done; attempt++) {
      const resume = fs.existsSync(path.join(dir, 'config.json')) ? ['--resume'] : [];
      const code = await run(['--config', config, '--out', dir, ...resume], Math.floor(300 + rng.next() * 0.6 * full));
      if (code === null) kills++;
      else done = true;
      attempts.push(`${code === null ? 'killed' : 'finished'} at ${fs.existsSync(path.join(dir, 'metrics.jsonl')) ? stepLosses(dir).length : 0} steps`);
    }
    if (!done) expect(await run(['--config', config, '--out', dir, '--resume'])).toBe(0);
    expect(kills, attempts.join(", ")).toBeGreaterThanOrEqual(3);
    console.log(`kill -9 loop: ${attempts.join(", ")}`);

    const got = stepLosses(dir);
    expect(got.map(([s]) => s)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(got).toEqual(stepLosses(ref));
    expect(temps(dir)).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'result.json'), 'utf8')).finalLoss).toBe(got.at(-1)![1]);
  }, 240_000);
});

describe('FLUX_BACKEND reaches the CLI', () => {
  it('an unknown FLUX_BACKEND stops flux-tune with the variable named (it used to be ignored)', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [cli, '--steps', '1', '--out', path.join(tmpDir('env'), 'run'), '--quiet'], { env: { ...process.env, FLUX_BACKEND: 'quantum' }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Unknown backend "quantum"/);
  }, 60_000);
});
