import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { buildEvalCommand, evalOptionsFromCli } from '../src/cli.js';
import { buildMainCommand } from '../src/main-job.js';

function run(cmd: ReturnType<typeof buildEvalCommand>, args: string[]) {
  let out = '';
  let err = '';
  let code: number | undefined;
  cmd.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  try {
    cmd.parse(['node', cmd.name(), ...args]);
  } catch (e) {
    code = (e as { exitCode?: number }).exitCode;
  }
  return { out, err, code };
}

describe('flux-eval / flux-main CLIs', () => {
  it('flux-eval --help documents runs, budgets, TO and the report', () => {
    const { out, code } = run(buildEvalCommand(), ['--help']);
    expect(code).toBe(0);
    for (const s of ['Usage: flux-eval', '<runs...>', '--fractions', '--no-token-optimization', 'Token Optimization', 'report.md', 'Examples:']) expect(out).toContain(s);
  });

  it('flux-eval rejects missing runs and bad numbers', () => {
    expect(run(buildEvalCommand(), []).err).toMatch(/missing required argument 'runs'/);
    expect(run(buildEvalCommand(), ['r', '--test-clips', 'x']).err).toMatch(/expected an integer/);
    expect(run(buildEvalCommand(), ['r', '--frames', '4,a']).err).toMatch(/comma-separated positive integers/);
    expect(() => evalOptionsFromCli({ fractions: [0, 1] })).toThrow(/fractions/);
    // Absurd numbers: refused with the option named, from flags and from a config file alike.
    expect(run(buildEvalCommand(), ['r', '--batch-size', '100000000000000000000']).err).toMatch(/--batch-size.*too large/s);
    expect(() => evalOptionsFromCli({ batchSize: 1e9 })).toThrow(/batchSize must be an integer in \[1, 65536\]/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-eval-cfg-'));
    const file = path.join(dir, 'e.json');
    fs.writeFileSync(file, JSON.stringify({ testClips: 1e20 }));
    expect(() => evalOptionsFromCli({ config: file })).toThrow(/testClips must be an integer .* \(in .*e\.json or the flags\)/);
    fs.writeFileSync(file, JSON.stringify({ frames: 'all' }));
    expect(() => evalOptionsFromCli({ config: file })).toThrow(/frames must be a list/);
    fs.writeFileSync(file, '{ broken');
    expect(() => evalOptionsFromCli({ config: file })).toThrow(/e\.json is not valid JSON/);
    fs.writeFileSync(file, JSON.stringify({ __proto__: 1, constructor: 2 }));
    expect(() => evalOptionsFromCli({ config: file })).toThrow(/unknown evaluation option\(s\).*constructor/);
  });

  it('flux-main --help explains the job', () => {
    const { out, code } = run(buildMainCommand(), ['--help']);
    expect(code).toBe(0);
    for (const s of ['Usage: flux-main', 'baseline', 'Flux-Multi', '--time-budget', '--lrs']) expect(out).toContain(s);
  });
});

describe('FLUX_BACKEND reaches flux-eval and flux-main', () => {
  it('an unknown FLUX_BACKEND stops them with the variable named (it used to be ignored)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
    const run = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-eval-env-'));
    fs.writeFileSync(path.join(run, 'config.json'), '{}');
    for (const args of [[path.join(dist, 'cli.js'), run], [path.join(dist, 'main-job.js'), '--out', path.join(run, 'main')]]) {
      const r = spawnSync(process.execPath, args, { env: { ...process.env, FLUX_BACKEND: 'quantum' }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/Unknown backend "quantum"/);
    }
  }, 60_000);
});
