#!/usr/bin/env node
// flux-setup-tfjs-node: makes @tensorflow/tfjs-node work where its own install cannot download.
//
// tfjs-node's install script downloads libtensorflow 2.9.1 from Google storage; behind a firewall (or with
// pnpm, which skips unapproved install scripts) the package stays broken and Flux falls back to wasm. This
// script, for every copy of @tensorflow/tfjs-node it finds under the project:
//   1. keeps it if it already loads;
//   2. else links a build cached by an earlier run (~/.cache/flux, or FLUX_CACHE_DIR);
//   3. else runs tfjs-node's own install (the download) when Google storage is reachable (--from auto|download);
//   4. else builds the addon from the `tensorflow-cpu` Python wheel, which pip fetches from whatever index it is
//      configured with (or FLUX_TF_WHEEL=/path/to.whl): the wheel's libtensorflow_cc.so.2 and
//      libtensorflow_framework.so.2 go to deps/lib (stripped), its C API headers to deps/include, and node-gyp
//      compiles the binding against the installed Node headers;
//   5. checks the result in a child process (tfjs backend "tensorflow", one matmul) and caches it.
// It never fails an install (exit 0 with a message; Flux then runs on wasm) unless --strict or
// FLUX_REQUIRE_NATIVE=1 is given.
//
// Usage: flux-setup-tfjs-node [--from auto|download|wheel] [--dir DIR]... [--force] [--strict] [--quiet]
// (DIR: a project folder, default the current one; its packages/* and apps/* are searched too)
import { execFileSync, spawnSync } from 'node:child_process';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const TF_WHEEL_VERSION = process.env.FLUX_TF_VERSION ?? '2.21.0';
const NAPI = 8;
const HEADER_DIRS = ['tensorflow/c/', 'tensorflow/core/platform/', 'tsl/', 'xla/tsl/'];

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const values = (name) => args.flatMap((a, i) => (args[i - 1] === name ? [a] : []));
if (flag('--help') || flag('-h')) {
  console.log(fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}
const from = values('--from')[0] ?? process.env.FLUX_TFJS_NODE_FROM ?? 'auto';
if (!['auto', 'download', 'wheel'].includes(from)) fail(`--from must be auto, download or wheel, got "${from}"`, true);
const strict = flag('--strict') || process.env.FLUX_REQUIRE_NATIVE === '1';
const force = flag('--force');
const quiet = flag('--quiet');
const log = (line) => {
  if (!quiet) process.stderr.write(`[flux-setup-tfjs-node] ${line}\n`);
};

function fail(message, always = false) {
  process.stderr.write(`[flux-setup-tfjs-node] ${message}\n`);
  process.exit(always || strict ? 1 : 0);
}

/** Every distinct real directory of @tensorflow/tfjs-node reachable from `roots` (and their workspace packages). */
function findPackages(roots) {
  const dirs = new Set();
  for (const root of roots) {
    const candidates = [root];
    for (const group of ['packages', 'apps']) {
      const g = path.join(root, group);
      if (fs.existsSync(g)) for (const d of fs.readdirSync(g)) candidates.push(path.join(g, d));
    }
    for (const dir of candidates) {
      try {
        const pj = createRequire(path.join(dir, 'noop.js')).resolve('@tensorflow/tfjs-node/package.json');
        dirs.add(fs.realpathSync(path.dirname(pj)));
      } catch {
        /* not a dependency of this one */
      }
    }
  }
  return [...dirs];
}

/** Loads the package in a child process; returns null when it works, else the reason. */
function checkLoads(dir) {
  const probe =
    `process.env.TF_CPP_MIN_LOG_LEVEL='2'; const tf=require(${JSON.stringify(dir)});` +
    `if(tf.getBackend()!=='tensorflow') throw new Error('backend is '+tf.getBackend());` +
    `const y=tf.matMul(tf.ones([2,3]),tf.ones([3,2])).dataSync(); if(y[0]!==3) throw new Error('matmul gave '+y[0]);`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return null;
  const lines = `${r.stderr ?? ''}\n${r.error ? String(r.error) : ''}`.split('\n');
  const err = lines.find((l) => /^\s*[A-Za-z]*Error\b/.test(l)) ?? lines.find((l) => /error/i.test(l)) ?? `exit ${r.status ?? r.signal}`;
  return err.trim().slice(0, 300);
}

function cacheDir(version) {
  const base = process.env.FLUX_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'flux');
  return path.join(base, `tfjs-node-${version}-tensorflow-cpu-${TF_WHEEL_VERSION}-node-napi${NAPI}-${process.platform}-${process.arch}`);
}

/** Hard-links (or copies, across file systems) `src` to `dst`, replacing it. */
function linkOrCopy(src, dst) {
  fs.rmSync(dst, { force: true });
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}

/** Links the two libraries in `libDir` into the package `dir`'s deps/lib, under the names the addon links. */
function installLibs(libDir, dir) {
  const lib = path.join(dir, 'deps', 'lib');
  fs.mkdirSync(lib, { recursive: true });
  for (const f of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']) linkOrCopy(path.join(libDir, f), path.join(lib, f));
  for (const [link, target] of [['libtensorflow.so', 'libtensorflow_cc.so.2'], ['libtensorflow.so.2', 'libtensorflow_cc.so.2'], ['libtensorflow_framework.so', 'libtensorflow_framework.so.2']]) {
    fs.rmSync(path.join(lib, link), { force: true });
    fs.symlinkSync(target, path.join(lib, link));
  }
}

/** Installs a finished build (libraries + addon) from `cache` into the package `dir`. */
function installFromCache(cache, dir) {
  installLibs(path.join(cache, 'lib'), dir);
  const addonDir = path.join(dir, 'lib', `napi-v${NAPI}`);
  fs.mkdirSync(addonDir, { recursive: true });
  fs.copyFileSync(path.join(cache, 'tfjs_binding.node'), path.join(addonDir, 'tfjs_binding.node'));
}

function python() {
  for (const p of process.env.FLUX_PYTHON ? [process.env.FLUX_PYTHON] : ['python3', 'python']) {
    const r = spawnSync(p, ['-c', 'import sys, zipfile; print(sys.version.split()[0])'], { encoding: 'utf8' });
    if (r.status === 0) return p;
  }
  return null;
}

/** Fetches the tensorflow-cpu wheel with pip (or takes FLUX_TF_WHEEL) into `tmp`; returns its path. */
function fetchWheel(py, tmp) {
  if (process.env.FLUX_TF_WHEEL) {
    if (!fs.existsSync(process.env.FLUX_TF_WHEEL)) throw new Error(`FLUX_TF_WHEEL=${process.env.FLUX_TF_WHEEL} does not exist`);
    return process.env.FLUX_TF_WHEEL;
  }
  log(`fetching tensorflow-cpu==${TF_WHEEL_VERSION} with pip (≈ 270 MB; set FLUX_TF_WHEEL to use a local wheel)…`);
  const r = spawnSync(
    py,
    ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--retries', '1', '--timeout', '30', '-d', tmp, `tensorflow-cpu==${TF_WHEEL_VERSION}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30 * 60_000 },
  );
  const wheel = fs.readdirSync(tmp).find((f) => f.startsWith('tensorflow_cpu-') && f.endsWith('.whl'));
  if (r.status !== 0 || !wheel) {
    const why = `${r.stderr ?? ''}`.split('\n').filter((l) => /ERROR|error/.test(l)).slice(-2).join(' ').trim();
    throw new Error(`pip could not fetch tensorflow-cpu==${TF_WHEEL_VERSION}${why ? `: ${why}` : ''}`);
  }
  return path.join(tmp, wheel);
}

/** Extracts the two libraries and the C API headers of the wheel into `out`/lib and `out`/include. */
function extractWheel(py, wheel, out) {
  const script = `
import os, shutil, sys, zipfile
wheel, out, heads = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
z = zipfile.ZipFile(wheel)
names = set(z.namelist())
for lib in ('libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'):
    n = 'tensorflow/' + lib
    if n not in names: sys.exit('the wheel has no ' + n)
    with z.open(n) as s, open(os.path.join(out, 'lib', lib), 'wb') as d: shutil.copyfileobj(s, d, 1 << 20)
count = 0
for n in names:
    if not n.startswith('tensorflow/include/') or n.endswith('/'): continue
    rel = n[len('tensorflow/include/'):]
    if not rel.startswith(tuple(heads)): continue
    dst = os.path.join(out, 'include', rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with z.open(n) as s, open(dst, 'wb') as d: shutil.copyfileobj(s, d)
    count += 1
if not os.path.exists(os.path.join(out, 'include', 'tensorflow', 'c', 'eager', 'c_api.h')): sys.exit('the wheel has no C API headers')
print(count)
`;
  fs.mkdirSync(path.join(out, 'lib'), { recursive: true });
  fs.mkdirSync(path.join(out, 'include'), { recursive: true });
  const r = spawnSync(py, ['-c', script, wheel, out, HEADER_DIRS.join(',')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    const last = `${r.stderr ?? ''}`.trim().split('\n').slice(-1)[0] || `exit ${r.status ?? r.signal}`;
    throw new Error(`cannot unpack ${wheel}: ${last}`);
  }
}

function nodeGyp() {
  const bases = [process.cwd(), ...values('--dir'), path.dirname(new URL(import.meta.url).pathname)];
  for (const base of bases) {
    try {
      return createRequire(path.join(base, 'noop.js')).resolve('node-gyp/bin/node-gyp.js');
    } catch {
      /* next */
    }
  }
  const npmBundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (fs.existsSync(npmBundled)) return npmBundled;
  if (process.env.npm_config_node_gyp && fs.existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  return null;
}

/** Node's own headers: the install prefix when it ships include/node (Debian, nvm, official tarballs). */
function nodeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

/** Builds deps + addon for package `dir` from the wheel, into `cache` (then installed from there). */
function buildFromWheel(dir, cache) {
  const py = python();
  if (!py) throw new Error(`no Python (${process.env.FLUX_PYTHON ?? 'python3'}) to fetch and unpack the tensorflow-cpu wheel (set FLUX_PYTHON)`);
  const gyp = nodeGyp();
  if (!gyp) throw new Error('node-gyp not found (npm i -D node-gyp)');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-tfjs-node-'));
  try {
    const wheel = fetchWheel(py, work);
    log(`extracting libtensorflow from ${path.basename(wheel)}…`);
    const staging = path.join(work, 'out');
    extractWheel(py, wheel, staging);
    const strip = spawnSync('strip', ['--version'], { stdio: 'ignore' }).status === 0;
    if (strip) {
      for (const f of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']) execFileSync('strip', ['--strip-unneeded', path.join(staging, 'lib', f)]);
    }
    // Stage the package for node-gyp: headers and libraries under deps/ (it links -ltensorflow -ltensorflow_framework).
    fs.rmSync(path.join(dir, 'deps'), { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'deps'), { recursive: true });
    fs.cpSync(path.join(staging, 'include'), path.join(dir, 'deps', 'include'), { recursive: true });
    const tmpCache = path.join(work, 'cache');
    fs.mkdirSync(path.join(tmpCache, 'lib'), { recursive: true });
    for (const f of ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2']) fs.renameSync(path.join(staging, 'lib', f), path.join(tmpCache, 'lib', f));
    installLibs(path.join(tmpCache, 'lib'), dir);
    log('compiling the tfjs-node addon (node-gyp, ≈ 30 s)…');
    const nd = nodeDir();
    const gypArgs = [gyp, 'rebuild', `--module_name=tfjs_binding`, `--module_path=${path.join(dir, 'lib', `napi-v${NAPI}`)}`, `--napi_build_version=${NAPI}`];
    if (nd) gypArgs.push(`--nodedir=${nd}`);
    const r = spawnSync(process.execPath, gypArgs, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20 * 60_000 });
    const addon = path.join(dir, 'build', 'Release', 'tfjs_binding.node');
    if (r.status !== 0 || !fs.existsSync(addon)) {
      const why = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error/i.test(l)).slice(0, 3).join(' | ');
      throw new Error(`node-gyp failed${why ? `: ${why}` : ''}`);
    }
    fs.copyFileSync(addon, path.join(tmpCache, 'tfjs_binding.node'));
    installFromCache(tmpCache, dir);
    const why = checkLoads(dir);
    if (why) throw new Error(`built, but it does not load: ${why}`);
    // Keep the verified build for the next install (libraries hard-linked, not copied, where possible).
    fs.rmSync(cache, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(cache), { recursive: true });
    try {
      fs.renameSync(tmpCache, cache);
    } catch {
      fs.cpSync(tmpCache, cache, { recursive: true });
    }
    installFromCache(cache, dir);
    fs.writeFileSync(path.join(cache, 'SOURCE'), `tensorflow-cpu ${TF_WHEEL_VERSION} wheel (${path.basename(wheel)}), built ${new Date().toISOString()}\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(path.join(dir, 'build'), { recursive: true, force: true });
  }
}

/** tfjs-node's own install (downloads libtensorflow and the addon) when its host resolves. */
async function tryDownload(dir) {
  try {
    await dns.lookup('storage.googleapis.com');
  } catch {
    throw new Error('storage.googleapis.com does not resolve (offline or firewalled)');
  }
  log('running tfjs-node\'s own install (download from Google storage)…');
  const r = spawnSync(process.execPath, [path.join(dir, 'scripts', 'install.js')], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 });
  if (r.status !== 0) throw new Error(`its install script failed: ${`${r.stderr}`.trim().split('\n').slice(-1)[0] ?? `exit ${r.status}`}`);
  const why = checkLoads(dir);
  if (why) throw new Error(`downloaded, but it does not load: ${why}`);
}

async function setup(dir) {
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  const name = `@tensorflow/tfjs-node@${version} (${dir})`;
  if (!force) {
    const why = checkLoads(dir);
    if (why == null) {
      log(`${name}: already works`);
      return true;
    }
    log(`${name}: does not load yet (${why})`);
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`building from the wheel is supported on linux-x64 only (this is ${process.platform}-${process.arch})`);
  }
  const cache = cacheDir(version);
  if (!force && fs.existsSync(path.join(cache, 'tfjs_binding.node'))) {
    installFromCache(cache, dir);
    if (checkLoads(dir) == null) {
      log(`${name}: linked the cached build in ${cache}`);
      return true;
    }
    log(`the cached build in ${cache} does not load; rebuilding`);
  }
  const reasons = [];
  if (from !== 'wheel') {
    try {
      await tryDownload(dir);
      log(`${name}: installed by its own download (libtensorflow 2.9)`);
      return true;
    } catch (e) {
      reasons.push(`download: ${e.message}`);
      if (from === 'download') throw new Error(reasons.join('; '));
      log(`download not possible (${e.message}); building from the tensorflow-cpu wheel instead`);
    }
  }
  const t0 = Date.now();
  buildFromWheel(dir, cache);
  log(`${name}: built against tensorflow-cpu ${TF_WHEEL_VERSION} in ${((Date.now() - t0) / 1000).toFixed(0)} s (cached in ${cache})`);
  return true;
}

const roots = values('--dir').length ? values('--dir').map((d) => path.resolve(d)) : [process.cwd()];
const dirs = findPackages(roots);
if (dirs.length === 0) {
  log(`@tensorflow/tfjs-node is not installed under ${roots.join(', ')}: nothing to do (add it with \`npm i --ignore-scripts @tensorflow/tfjs-node\`)`);
  process.exit(0);
}
let failed = 0;
for (const dir of dirs) {
  try {
    await setup(dir);
  } catch (e) {
    failed++;
    process.stderr.write(`[flux-setup-tfjs-node] @tensorflow/tfjs-node in ${dir} is unavailable: ${e.message}\n`);
  }
}
if (failed) fail('Flux will run on the wasm backend instead (reported at start-up). Rerun with --force after fixing the cause.');
