// flux-setup-tfjs-node (bin/): finds tfjs-node under a project, links a cached build, and fails softly with the cause.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { nativeAvailable } from '@flux/vitest-config/backends';
import { afterAll, describe, expect, it } from 'vitest';

const script = path.resolve(__dirname, '../bin/flux-setup-tfjs-node.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-setup-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}) {
  // (no NODE_PATH: pnpm's runners point it at the workspace's hoisted packages, which hold tfjs-node)
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, NODE_PATH: '', ...env } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/**
 * A project whose node_modules holds a fresh copy of the tfjs-node package (no deps/, no addon), placed in
 * the real package's own node_modules folder so that its dependencies still resolve.
 */
function freshCopy(name: string): { project: string; pkg: string } {
  const real = fs.realpathSync(path.dirname(createRequire(path.join(__dirname, 'noop.js')).resolve('@tensorflow/tfjs-node/package.json')));
  const pkg = path.join(path.dirname(real), `tfjs-node-test-${name}-${process.pid}`);
  fs.rmSync(pkg, { recursive: true, force: true });
  fs.cpSync(real, pkg, { recursive: true, filter: (src) => !/[/\\](deps|lib|build)$/.test(src) });
  const project = path.join(tmp, name);
  fs.mkdirSync(path.join(project, 'node_modules', '@tensorflow'), { recursive: true });
  fs.symlinkSync(pkg, path.join(project, 'node_modules', '@tensorflow', 'tfjs-node'));
  return { project, pkg };
}

describe('flux-setup-tfjs-node', () => {
  it('does nothing, successfully, where tfjs-node is not a dependency', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    const r = run(['--dir', empty]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/is not installed under .*nothing to do/);
  });

  it('rejects an unknown --from', () => {
    const r = run(['--from', 'ftp']);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/--from must be auto, download or wheel, got "ftp"/);
  });

  it('a corrupt wheel: says which file and why, keeps the install green, and fails with --strict', () => {
    const { project, pkg } = freshCopy('corrupt');
    try {
      const wheel = path.join(tmp, 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl');
      fs.writeFileSync(wheel, 'PK\x03\x04 this is not a zip archive');
      const env = { FLUX_TF_WHEEL: wheel, FLUX_CACHE_DIR: path.join(tmp, 'cache-corrupt') };
      const soft = run(['--dir', project, '--from', 'wheel'], env);
      expect(soft.status).toBe(0);
      expect(soft.out).toContain(`cannot unpack ${wheel}`);
      expect(soft.out).toMatch(/BadZipFile|not a zip file/);
      expect(soft.out).toMatch(/Flux will run on the wasm backend instead/);
      const strict = run(['--dir', project, '--from', 'wheel', '--strict'], env);
      expect(strict.status).toBe(1);
      expect(fs.existsSync(path.join(pkg, 'lib', 'napi-v8', 'tfjs_binding.node'))).toBe(false);
    } finally {
      fs.rmSync(pkg, { recursive: true, force: true });
    }
  });

  it.skipIf(!nativeAvailable())('links the cached build into a fresh copy, which then loads (and a second run keeps it)', () => {
    const { project, pkg } = freshCopy('cached');
    try {
      // The build that `pnpm install` made is in the default cache; a wheel that does not exist proves no rebuild ran.
      const env = { FLUX_TF_WHEEL: path.join(tmp, 'missing.whl') };
      const first = run(['--dir', project, '--from', 'wheel'], env);
      expect(first.out).toMatch(/does not load yet/);
      expect(first.out).toMatch(/linked the cached build/);
      expect(first.status).toBe(0);
      const again = run(['--dir', project], env);
      expect(again.out).toMatch(/already works/);
      const probe = spawnSync(process.execPath, ['-e', `const tf = require(${JSON.stringify(pkg)}); console.log(tf.getBackend(), tf.backend().binding.TF_Version)`], {
        encoding: 'utf8',
        env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
      });
      expect(probe.stdout.trim()).toMatch(/^tensorflow 2\.\d+\.\d+$/);
    } finally {
      fs.rmSync(pkg, { recursive: true, force: true });
    }
  });
});
