import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { buildTuneCommand, configFromCli } from '../src/cli.js';
import { ConfigError } from '@flux/train';
import { tmpDir } from './helpers.js';

function run(args: string[]): { out: string; err: string; code: number | undefined } {
  const cmd = buildTuneCommand();
  let out = '';
  let err = '';
  let code: number | undefined;
  cmd.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  try {
    cmd.parse(['node', 'flux-tune', ...args]);
  } catch (e) {
    code = (e as { exitCode?: number }).exitCode;
  }
  return { out, err, code };
}

describe('flux-tune CLI', () => {
  it('--help reads like a manual', () => {
    const { out, code } = run(['--help']);
    expect(code).toBe(0);
    for (const s of ['Usage: flux-tune', '--mode', 'fixed', 'multi', '--config', '--resume', '--lr', '--weight-decay', '--clip-grad', '--label-smoothing', 'Examples:', 'NaN']) expect(out).toContain(s);
  });

  it('rejects bad arguments with a readable error', () => {
    expect(run(['--steps', 'abc']).err).toMatch(/--steps.*expected an integer, got 'abc'/s);
    expect(run(['--mode', 'banana']).err).toMatch(/Allowed choices are fixed, single, multi/);
    expect(run(['--lr', '-1']).err).toMatch(/must be in \[0/);
    expect(run(['--grid', '8by64']).err).toMatch(/FRAMESxSIZE/);
    expect(run(['--bogus']).err).toMatch(/unknown option '--bogus'/);
  });

  it('merges --config with flags (flags win) and validates', () => {
    const dir = tmpDir('cli');
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ steps: 50, lr: 0.01, mode: 'fixed' }));
    const cmd = buildTuneCommand();
    cmd.parse(['node', 'flux-tune', '--config', file, '--lr', '0.002', '--dim', '32']);
    const cfg = configFromCli(cmd.opts());
    expect(cfg.steps).toBe(50);
    expect(cfg.lr).toBe(0.002);
    expect(cfg.mode).toBe('fixed');
    expect(cfg.modelOverrides.embedDim).toBe(32);
    expect(cfg.modelOverrides.patchSize).toBe(16); // default overrides kept
    expect(cfg.modelOverrides.clipPool).toBe('max');
    const attn = buildTuneCommand();
    attn.parse(['node', 'flux-tune', '--pool', 'attention']);
    expect(configFromCli(attn.opts()).modelOverrides.clipPool).toBe('attention');
    expect(() => buildTuneCommand().exitOverride().configureOutput({ writeErr: () => {} }).parse(['node', 'flux-tune', '--pool', 'mean'])).toThrow(/invalid/i);
    fs.writeFileSync(file, JSON.stringify({ stepz: 5 }));
    expect(() => configFromCli({ config: file })).toThrow(/unknown config key 'stepz'/);
    fs.writeFileSync(file, '{ nope');
    expect(() => configFromCli({ config: file })).toThrow(ConfigError);
    expect(() => configFromCli({ tokens: [4, 8] })).toThrow(/strictly decreasing/);
    fs.writeFileSync(file, '[1, 2]');
    expect(() => configFromCli({ config: file })).toThrow(/must hold a JSON object/);
    fs.writeFileSync(file, JSON.stringify({ constructor: 1 }));
    expect(() => configFromCli({ config: file })).toThrow(/unknown config key 'constructor'/);
  });

  it('--data / --val-data, a @flux/sampling --flexi-preset under the flags, and --layer-decay', () => {
    const cmd = buildTuneCommand();
    cmd.parse(['node', 'flux-tune', '--data', 'train.csv', '--val-data', 'val.csv', '--flexi-preset', 'moving-mnist', '--flexi-frames', '4:8:2', '--layer-decay', '0.75']);
    const cfg = configFromCli(cmd.opts());
    expect(cfg.data).toBe('train.csv');
    expect(cfg.valData).toBe('val.csv');
    // The preset (F 4..16:2, R 32..64:8, T 128–512, patch 8), with --flexi-frames overriding its frames.
    expect(cfg.flexiFrames).toEqual([4, 8, 2]);
    expect(cfg.flexiSizes).toEqual([32, 64, 8]);
    expect(cfg.tokenThreshold).toEqual([128, 512]);
    expect(cfg.modelOverrides.patchSize).toBe(8);
    expect(cfg.layerDecay).toBe(0.75);
    expect(run(['--flexi-preset', 'nope']).err).toMatch(/Allowed choices are paper-ablation, official-tuning, flux-clip, moving-mnist/);
    expect(run(['--layer-decay', '2']).err).toMatch(/--layer-decay.*must be in/s);
  });
});
