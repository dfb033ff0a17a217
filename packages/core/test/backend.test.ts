// Backend choice. One process, in order: the calls below change the global tfjs backend.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nativeAvailable } from '@flux/vitest-config/backends';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { backendReport, duplicateCopiesMessage, initBackend, loadedCopies, requestedBackend } from '../src/index.js';

// A package left broken in node_modules, as pnpm leaves @tensorflow/tfjs-node when its install script fails.
const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-broken-'));
for (const name of ['tfjs-node', 'tfjs-node-gpu']) {
  const dir = path.join(broken, 'node_modules', '@tensorflow', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `@tensorflow/${name}`, version: '4.22.0', main: 'index.js' }));
  fs.writeFileSync(
    path.join(dir, 'index.js'),
    `throw new Error("Cannot find module '${dir}/lib/napi-v8/tfjs_binding.node'");\n`,
  );
}
afterAll(() => fs.rmSync(broken, { recursive: true, force: true }));

describe('initBackend', () => {
  it('rejects an unknown backend name, naming where it came from', async () => {
    await expect(initBackend({ backend: 'tpu', log: false })).rejects.toThrow(/Unknown backend "tpu" \(from options.backend\).*wasm-threads/);
    process.env.FLUX_BACKEND = 'quantum';
    try {
      await expect(initBackend({ log: false })).rejects.toThrow(/"quantum" \(from FLUX_BACKEND\)/);
      // What a CLI does: FLUX_BACKEND passed on as options.backend is still named as the variable.
      await expect(initBackend({ backend: requestedBackend(undefined), log: false })).rejects.toThrow(/"quantum" \(from FLUX_BACKEND\)/);
    } finally {
      delete process.env.FLUX_BACKEND;
    }
    await expect(initBackend({ backend: 'cpu', threads: 0, log: false })).rejects.toThrow(/threads must be a positive integer/);
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])(
    'FLUX_BACKEND=%s is an unknown backend, not a prototype lookup',
    async (name) => {
      const lower = name.toLowerCase();
      process.env.FLUX_BACKEND = name;
      try {
        await expect(initBackend({ log: false })).rejects.toThrow(new RegExp(`^Unknown backend "${lower}" \\(from FLUX_BACKEND\\); expected one of: auto,`));
      } finally {
        delete process.env.FLUX_BACKEND;
      }
      await expect(initBackend({ backend: name, log: false })).rejects.toThrow(new RegExp(`^Unknown backend "${lower}" \\(from options.backend\\)`));
    },
  );

  it('a named backend that cannot load is an error that says why', async () => {
    await expect(initBackend({ backend: 'tensorflow', resolveFrom: [broken], log: false })).rejects.toThrow(
      /tensorflow: @tensorflow\/tfjs-node: Cannot find module .*tfjs_binding\.node/,
    );
  });

  it('auto survives broken native packages and picks threaded SIMD wasm with every core', async () => {
    const lines: string[] = [];
    const report = await initBackend({ resolveFrom: [broken], log: (l) => lines.push(l) });
    expect(report.kind).toBe('wasm-threads');
    expect(tf.getBackend()).toBe('wasm');
    expect(report.simd).toBe(true);
    expect(report.fastKernels).toBe(true);
    const cores = os.availableParallelism();
    expect(report.threads).toBe(cores);
    expect(report.skipped.map((s) => s.kind)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(report.skipped[1]!.reason).toMatch(/tfjs_binding\.node.*\(build it with `npx flux-setup-tfjs-node`\)$/);
    expect(lines).toEqual([report.summary]);
    expect(report.summary).toMatch(new RegExp(`^backend wasm-threads \\(tfjs "wasm", ${cores} threads?, SIMD, fast kernels\\); skipped tensorflow-gpu`));
    expect(backendReport()).toBe(report);
    // The threaded build computes correctly.
    const y = tf.matMul(tf.ones([64, 32]), tf.ones([32, 16]));
    expect(Array.from(y.dataSync()).every((v) => v === 32)).toBe(true);
    y.dispose();
  });

  it('FLUX_BACKEND selects the backend, and the report follows', async () => {
    process.env.FLUX_BACKEND = 'cpu';
    try {
      const report = await initBackend({ log: false });
      expect(report.kind).toBe('cpu');
      expect(tf.getBackend()).toBe('cpu');
      expect(report.skipped).toEqual([]);
      expect(report.summary).toBe('backend cpu (tfjs "cpu", 1 thread, fast kernels)');
    } finally {
      delete process.env.FLUX_BACKEND;
    }
  });
});

describe.skipIf(!nativeAvailable())('the native backend (tfjs-node, built by pnpm install)', () => {
  it('auto picks it first on this machine, reports libtensorflow, and computes correctly', () => {
    const dist = path.resolve(__dirname, '../dist/index.js');
    const script = `
      const tf = await import('@tensorflow/tfjs-core');
      const { initBackend } = await import(${JSON.stringify(dist)});
      const r = await initBackend({ log: false });
      const y = tf.matMul(tf.ones([64, 32]), tf.ones([32, 16]));
      console.log(JSON.stringify({ kind: r.kind, backend: tf.getBackend(), tf: r.tensorflowVersion, summary: r.summary, fast: r.fastKernels, y: y.dataSync()[0] }));`;
    const env = { ...process.env };
    delete env.FLUX_BACKEND;
    delete env.TF_CPP_MIN_LOG_LEVEL;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: path.resolve(__dirname, '..'), timeout: 60_000, encoding: 'utf8', env });
    expect(out.status, out.stderr).toBe(0);
    const r = JSON.parse(out.stdout.trim().split('\n').at(-1)!);
    expect(r.kind).toBe('tensorflow');
    expect(r.backend).toBe('tensorflow');
    expect(r.tf).toMatch(/^2\.\d+\.\d+/);
    expect(r.summary).toMatch(/^backend tensorflow \(tfjs "tensorflow", libtensorflow 2\.\d+\.\d+, \d+ threads?, SIMD\)/);
    expect(r.fast).toBe(false); // no Flux kernels there: the composed ops of composed.ts run instead
    expect(r.y).toBe(32);
    // libtensorflow's CPU-feature INFO lines are kept out of the user's terminal
    expect(out.stderr).not.toMatch(/cpu_feature_guard/);
  });
});

describe('a script on threaded wasm', () => {
  it('exits by itself when it is done (the pool threads do not hold the process)', () => {
    const dist = path.resolve(__dirname, '../dist/index.js');
    expect(fs.existsSync(dist), 'build @flux/core first (turbo runs build before test)').toBe(true);
    const script = `
      const tf = await import('@tensorflow/tfjs-core');
      const { initBackend } = await import(${JSON.stringify(dist)});
      const r = await initBackend({ backend: 'wasm-threads', log: false });
      const y = tf.matMul(tf.ones([256, 256]), tf.ones([256, 256]));
      console.log(r.kind, r.threads, y.dataSync()[0]);`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: path.resolve(__dirname, '..'), timeout: 60_000, encoding: 'utf8' });
    expect(out.signal, 'killed by the timeout: the process did not exit').toBeNull();
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout.trim()).toBe(`wasm-threads ${os.availableParallelism()} 256`);
  });
});

describe('requestedBackend (for CLIs whose --backend defaults to auto)', () => {
  it('flag, else FLUX_BACKEND, else the fallback', () => {
    const saved = process.env.FLUX_BACKEND;
    try {
      delete process.env.FLUX_BACKEND;
      expect(requestedBackend(undefined)).toBe('auto');
      expect(requestedBackend(undefined, 'cpu')).toBe('cpu');
      process.env.FLUX_BACKEND = 'wasm';
      expect(requestedBackend(undefined, 'auto')).toBe('wasm');
      expect(requestedBackend('cpu', 'auto')).toBe('cpu');
    } finally {
      if (saved === undefined) delete process.env.FLUX_BACKEND;
      else process.env.FLUX_BACKEND = saved;
    }
  });
});

describe('duplicate copies', () => {
  it('this process loads one tfjs-core and one @flux/core, and the report says so', async () => {
    const copies = loadedCopies();
    expect(copies.tfjsCore).toHaveLength(1);
    expect(copies.fluxCore).toHaveLength(1);
    const report = await initBackend({ backend: 'cpu', log: false });
    expect(report.duplicates).toBeNull();
  });

  it('names every copy when there are several', () => {
    const msg = duplicateCopiesMessage({ fluxCore: ['/a/core/dist/index.js'], tfjsCore: ['/x/@tensorflow/tfjs-core', '/y/@tensorflow/tfjs-core'] });
    expect(msg).toMatch(/^2 copies of @tensorflow\/tfjs-core \(\/x\/@tensorflow\/tfjs-core, \/y\/@tensorflow\/tfjs-core\) are loaded/);
    expect(msg).toMatch(/npm dedupe/);
    expect(duplicateCopiesMessage({ fluxCore: ['/a'], tfjsCore: ['/x'] })).toBeNull();
  });
});

describe('a globally installed CLI (its bin a symlink into the package)', () => {
  it('finds the backend its own package installed, from the real path of the bin', () => {
    // core-home holds @flux/core (its built dist) and tfjs-core only; the app holds the cpu backend; the bin
    // on the PATH is a symlink to the app's script, and the working directory is elsewhere.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-global-'));
    try {
      const pkgDir = (from: string, name: string) => path.dirname(createRequire(path.join(from, 'noop.js')).resolve(`${name}/package.json`));
      const coreDir = path.resolve(__dirname, '..');
      const home = path.join(root, 'core-home', 'node_modules');
      fs.mkdirSync(path.join(home, '@flux', 'core'), { recursive: true });
      fs.cpSync(path.join(coreDir, 'dist'), path.join(home, '@flux', 'core', 'dist'), { recursive: true });
      fs.copyFileSync(path.join(coreDir, 'package.json'), path.join(home, '@flux', 'core', 'package.json'));
      fs.mkdirSync(path.join(home, '@tensorflow'), { recursive: true });
      fs.symlinkSync(pkgDir(coreDir, '@tensorflow/tfjs-core'), path.join(home, '@tensorflow', 'tfjs-core'));
      const app = path.join(root, 'lib', 'node_modules', 'app');
      fs.mkdirSync(path.join(app, 'node_modules', '@tensorflow'), { recursive: true });
      fs.mkdirSync(path.join(app, 'bin'));
      fs.symlinkSync(pkgDir(coreDir, '@tensorflow/tfjs-backend-cpu'), path.join(app, 'node_modules', '@tensorflow', 'tfjs-backend-cpu'));
      const core = path.join(home, '@flux', 'core', 'dist', 'index.js');
      fs.writeFileSync(
        path.join(app, 'bin', 'cli.mjs'),
        `const { initBackend } = await import(${JSON.stringify(core)});\n` +
          `const r = await initBackend({ backend: 'cpu', log: false });\nconsole.log(r.kind, r.duplicates === null);\n`,
      );
      fs.mkdirSync(path.join(root, 'bin'));
      fs.symlinkSync(path.join(app, 'bin', 'cli.mjs'), path.join(root, 'bin', 'cli'));
      const cwd = path.join(root, 'elsewhere');
      fs.mkdirSync(cwd);
      // pnpm's bin shims export NODE_PATH (its hoisted store), which would find any package: not for a user.
      const env = { ...process.env };
      delete env.NODE_PATH;
      const out = spawnSync(process.execPath, [path.join(root, 'bin', 'cli')], { cwd, encoding: 'utf8', timeout: 60_000, env });
      expect(out.stderr).not.toMatch(/is not installed/);
      expect(out.stdout.trim()).toBe('cpu true');
      // Without the app's backend the error says what to install.
      fs.rmSync(path.join(app, 'node_modules'), { recursive: true });
      const missing = spawnSync(process.execPath, [path.join(root, 'bin', 'cli')], { cwd, encoding: 'utf8', timeout: 60_000, env });
      expect(missing.status).not.toBe(0);
      expect(missing.stderr).toMatch(/@tensorflow\/tfjs-backend-cpu is not installed \(add it to your project: npm i @tensorflow\/tfjs-backend-cpu\)/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
