/**
 * flux-tune killed with SIGKILL four times at seeded moments (mid-step, mid-checkpoint, mid-write), each time
 * resumed, then run to the end: the metrics log has every step exactly once, no temporary files remain, and the losses are bit for
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

/**
 * Runs flux-tune. With `kill`, it is killed with SIGKILL `extraMs` after `metrics.jsonl` in `killDir` first holds
 * `afterSteps` step records — so the kill lands mid-run (mid-step, mid-checkpoint or mid-write) whatever the
 * machine's speed. Resolves with the exit code (null: killed).
 */
function run(args: string[], kill?: { dir: string; afterSteps: number; extraMs: number }): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cli, ...args, '--backend', 'cpu', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let timer: NodeJS.Timeout | undefined;
    const poll = kill
      ? setInterval(() => {
          const file = path.join(kill.dir, 'metrics.jsonl');
          const n = fs.existsSync(file) ? stepLosses(kill.dir).length : 0;
          if (n >= kill.afterSteps && !timer) {
            clearInterval(poll);
            timer = setTimeout(() => p.kill('SIGKILL'), kill.extraMs);
          }
        }, 10)
      : undefined;
    p.on('error', reject);
    p.on('exit', (code) => {
      if (poll) clearInterval(poll);
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
    expect(await run(['--config', config, '--out', ref])).toBe(0);

    const dir = path.join(root, 'killed');
    const rng = new Rng('kill-times');
    const attempts: string[] = [];
    // Four kills at seeded moments: a few steps past the progress so far (resumed runs restart from the last
    // checkpoint, every 3 steps), plus 0–150 ms so the kill falls anywhere inside a step or a checkpoint write.
    for (let k = 0; k < 4; k++) {
      const resume = fs.existsSync(path.join(dir, 'config.json')) ? ['--resume'] : [];
      const progress = fs.existsSync(path.join(dir, 'metrics.jsonl')) ? stepLosses(dir).length : 0;
      const afterSteps = Math.min(STEPS - 10, progress + 2 + rng.int(12));
      const code = await run(['--config', config, '--out', dir, ...resume], { dir, afterSteps, extraMs: rng.int(150) });
      attempts.push(`${code === null ? 'killed' : 'finished'} after ${afterSteps} steps logged`);
      expect(code, attempts.join(', ')).toBeNull();
    }
    expect(await run(['--config', config, '--out', dir, '--resume'])).toBe(0);
    console.log(`kill -9 loop: ${attempts.join(', ')}, then resumed to the end`);

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
