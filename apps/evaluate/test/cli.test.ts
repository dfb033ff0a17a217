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
  });

  it('flux-main --help explains the job', () => {
    const { out, code } = run(buildMainCommand(), ['--help']);
    expect(code).toBe(0);
    for (const s of ['Usage: flux-main', 'baseline', 'Flux-Multi', '--time-budget', '--lrs']) expect(out).toContain(s);
  });
});
