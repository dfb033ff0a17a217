#!/usr/bin/env node
// The consumer test: Flux as a user installs it, outside the monorepo. `pnpm test` runs it after the unit
// tests (root package.json `test:consumer`); `node tooling/consumer/run.mjs --help` lists its options.
//
// For every public workspace package (found from pnpm-workspace.yaml, so a new package or app is covered):
//   1. manifest: license, repository, homepage, bugs, keywords, engines, files (LICENSE, CHANGELOG.md), a
//      `default` export condition, the LICENSE file; declared dependencies match what dist/ imports;
//   2. `pnpm pack` (rewrites workspace: ranges) and `pnpm publish --dry-run --no-git-checks`, with no warning
//      but the expected "not logged in" one;
//   3. README: relative links resolve inside the tarball, no monorepo-only commands or paths, an install line
//      that names every package its examples import;
//   4. a fresh npm project and a fresh pnpm project with every tarball: each README example (```js / ```ts
//      fences) runs verbatim, and its TypeScript form passes `tsc --noEmit` (strict) under `node16` and
//      `bundler` module resolution;
//   5. `npm i -g --prefix <tmp>` of the tarballs: a short `flux-tune` (FLUX_BACKEND=wasm) and `flux-eval` (auto)
//      must report the wasm backend with Flux's fast kernels; every CLI must honour FLUX_BACKEND; duplicate
//      tfjs-core copies (which that layout makes) must be reported, not silent.
// README fences with more words after the language are not run, and are listed: ```ts signatures (an API
// summary), ```ts fragment (lines of a larger program), ```ts type-check (type-checked only: it needs a file
// the test cannot have, e.g. an official checkpoint). Install scripts are skipped everywhere (as pnpm 10 and
// npm 11 do by default). Installs prefer the local package caches.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { builtinModules } from 'node:module';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(`node tooling/consumer/run.mjs [--keep] [--skip-global] [--only npm|pnpm] [--tmp <dir>]
  --keep         keep the temporary projects (their path is printed)
  --only <pm>    install and run the examples with one package manager only (a local shortcut; CI runs both)
  --skip-global  skip the global CLI install (a local shortcut; CI runs it)
Builds nothing: run \`turbo run build\` first (the root \`test:consumer\` script does).`);
  process.exit(0);
}
const keep = argv.includes('--keep');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
const skipGlobal = argv.includes('--skip-global');
const TMP = argv.includes('--tmp') ? path.resolve(argv[argv.indexOf('--tmp') + 1]) : fs.mkdtempSync(path.join(os.tmpdir(), 'flux-consumer-'));
fs.mkdirSync(TMP, { recursive: true });

const failures = [];
const notes = [];
const t0 = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

function fail(where, msg) {
  failures.push(`${where}: ${msg}`);
  console.log(`  FAIL ${where}: ${msg.split('\n').slice(0, 12).join('\n       ')}`);
}

/** Runs a command; returns { code, out } (stdout + stderr). Never throws. */
function sh(cmd, args, { cwd = ROOT, env = {}, timeoutMs = 600_000, input } = {}) {
  const fullEnv = { ...process.env, npm_config_update_notifier: 'false', ...env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const r = spawnSync(cmd, args, {
    cwd,
    env: fullEnv,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    input,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return { code: r.status ?? (r.signal ? `signal ${r.signal}` : 'error'), out, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/** The same as {@link sh}, asynchronously (for running several at once). */
function shAsync(cmd, args, { cwd = ROOT, env = {}, timeoutMs = 600_000 } = {}) {
  const fullEnv = { ...process.env, npm_config_update_notifier: 'false', ...env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let out = '';
    child.stdout.on('data', (d) => ((stdout += d), (out += d)));
    child.stderr.on('data', (d) => ((stderr += d), (out += d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 'error', out: String(e), stdout, stderr });
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? `signal ${sig}`, out, stdout, stderr });
    });
  });
}

/** Runs `fn` over `items`, `n` at a time; results in order. */
async function pool(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }));
  return results;
}
const JOBS = Math.max(2, Math.min(4, os.availableParallelism?.() ?? 2));

async function step(name, fn) {
  const t = Date.now();
  console.log(`\n== ${name}`);
  try {
    await fn();
  } catch (e) {
    fail(name, e instanceof Error ? (e.stack ?? e.message) : String(e));
  }
  console.log(`   (${secs(Date.now() - t)})`);
}

// ---------------------------------------------------------------------------------------------- discovery
function workspacePackages() {
  const yaml = fs.readFileSync(path.join(ROOT, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [...yaml.matchAll(/^\s*-\s*["']?([^"'\n]+)["']?\s*$/gm)].map((m) => m[1]);
  const dirs = [];
  for (const g of globs) {
    if (!g.endsWith('/*')) throw new Error(`pnpm-workspace.yaml glob "${g}": only "<dir>/*" globs are understood here`);
    const base = path.join(ROOT, g.slice(0, -2));
    if (!fs.existsSync(base)) continue;
    for (const d of fs.readdirSync(base).sort()) {
      const pj = path.join(base, d, 'package.json');
      if (fs.existsSync(pj)) dirs.push(path.join(base, d));
    }
  }
  return dirs
    .map((dir) => ({ dir, rel: path.relative(ROOT, dir), pkg: JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) }))
    .filter((p) => !p.pkg.private);
}

const packages = workspacePackages();
const names = new Set(packages.map((p) => p.pkg.name));
console.log(`consumer test in ${TMP}\npackages: ${packages.map((p) => p.pkg.name).join(', ')}`);

// --------------------------------------------------------------------------------------------- manifests
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
function pkgName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}
/** Bare module specifiers a JS file imports or requires (string literals only). */
function importsOf(code) {
  const out = new Set();
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(["'])([@\w][\w./@-]*)\1/g;
  for (const m of code.matchAll(re)) {
    const s = m[2];
    if (s.startsWith('.') || s.startsWith('/') || builtins.has(s) || s.startsWith('node:')) continue;
    out.add(pkgName(s));
  }
  return out;
}

function checkManifest(p) {
  const { pkg, rel, dir } = p;
  const where = `${pkg.name} package.json`;
  for (const f of ['license', 'repository', 'homepage', 'bugs', 'keywords', 'engines', 'description']) {
    if (pkg[f] == null || (Array.isArray(pkg[f]) && pkg[f].length === 0)) fail(where, `no "${f}"`);
  }
  if (pkg.repository?.directory !== rel) fail(where, `repository.directory is "${pkg.repository?.directory}", expected "${rel}"`);
  if (!pkg.engines?.node) fail(where, 'engines.node missing');
  for (const f of ['LICENSE', 'CHANGELOG.md']) if (!pkg.files?.includes(f)) fail(where, `"files" does not list ${f}`);
  if (!fs.existsSync(path.join(dir, 'LICENSE'))) fail(where, 'no LICENSE file in the package folder');
  const dot = pkg.exports?.['.'];
  if (dot == null || typeof dot !== 'object' || dot.default == null) fail(where, 'exports["."] has no "default" condition (require() needs it)');
}

// ---------------------------------------------------------------------------------------------- README
const REPO_PATH = /`(?:node\s+(?:--\S+\s+)*)?((?:packages|apps)\/[\w.-]+\/)?(bench|scripts|test|src)\/[^`\s]*[^`]*`/g;

/** Code fences of a Markdown file: { lang, tags, code, line }. */
function fences(md) {
  const out = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(\S*)\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    const start = i;
    const body = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    out.push({ lang: m[1], tags: m[2].trim(), code: body.join('\n') + '\n', line: start + 1 });
  }
  return out;
}

/** Packages named by the README's install lines (`pnpm add …`, `npm i …`, `npm install …`), -g included. */
function installLinePackages(md) {
  const set = new Set();
  let found = false;
  for (const f of fences(md)) {
    if (f.lang !== 'sh' && f.lang !== 'bash') continue;
    for (const line of f.code.split('\n')) {
      const m = /^\s*(?:pnpm add|npm i|npm install)\s+(.*?)(?:#.*)?$/.exec(line);
      if (!m) continue;
      found = true;
      for (const w of m[1].split(/\s+/)) if (w && !w.startsWith('-')) set.add(w.replace(/(.)@[^/]*$/, '$1'));
    }
  }
  return found ? set : null;
}

function checkReadme(p, files) {
  const where = `${p.pkg.name} README.md`;
  const md = fs.readFileSync(path.join(p.dir, 'README.md'), 'utf8');
  const inTar = new Set(files);
  for (const m of md.matchAll(/\]\(([^)\s]+)\)/g)) {
    const link = m[1];
    if (/^(https?:|mailto:|#)/.test(link)) continue;
    const target = path.posix.normalize(link.split('#')[0]);
    const ok = inTar.has(target) || [...inTar].some((f) => f.startsWith(`${target.replace(/\/$/, '')}/`));
    if (!ok) fail(where, `relative link (${link}) points outside the published package (use an absolute URL)`);
  }
  if (/DESIGN\.md/.test(md)) fail(where, 'mentions DESIGN.md, which neither the package nor the repository has');
  for (const m of md.matchAll(/\bnode\s+(?:--\S+\s+)*(apps|packages)\/[\w-]+\/dist\/\S+/g)) fail(where, `monorepo command "${m[0]}" (show the package's bin or API)`);
  for (const m of md.matchAll(REPO_PATH)) {
    const before = md.slice(Math.max(0, m.index - 1), m.index);
    const after = md.slice(m.index + m[0].length, m.index + m[0].length + 7);
    if (before === '[' && after.startsWith('](http')) continue; // linked to the repository: fine
    fail(where, `${m[0]} is not in the published package: link it to the repository, [\`…\`](https://…)`);
  }
  const examples = fences(md).filter((f) => f.lang === 'js' || f.lang === 'ts');
  const install = installLinePackages(md);
  const self = p.pkg.name;
  if (install == null) fail(where, 'no install line (```sh pnpm add … / npm i …)');
  else if (!install.has(self)) fail(where, `the install line does not name ${self}`);
  for (const ex of examples) {
    if (ex.tags && !['signatures', 'fragment', 'type-check'].includes(ex.tags)) {
      fail(where, `line ${ex.line}: unknown fence tags "${ex.tags}" (expected none, signatures, fragment or type-check)`);
    }
    if (ex.tags === 'signatures' || ex.tags === 'fragment' || install == null) continue;
    for (const dep of importsOf(ex.code)) {
      if (!install.has(dep)) fail(where, `line ${ex.line}: the example imports ${dep}, which the README's install line does not add`);
    }
  }
  return examples.map((ex, i) => ({ ...ex, pkg: self, id: `${self.replace('@', '').replace('/', '-')}-${i + 1}`, readme: where }));
}

// ------------------------------------------------------------------------------------------------- pack
const tarDir = path.join(TMP, 'tarballs');
fs.mkdirSync(tarDir, { recursive: true });
const tarballs = new Map(); // name -> abs path
let examples = [];
const thirdParty = new Set();

await step('manifests, pack, publish --dry-run, READMEs', async () => {
  // pnpm publish --dry-run packs again: run them (and the packs) a few at a time, then check in order.
  const packed = await pool(packages, JOBS, async (p) => [
    await shAsync('pnpm', ['pack', '--pack-destination', path.join(tarDir, p.rel.replace('/', '-'))], { cwd: p.dir }),
    await shAsync('pnpm', ['publish', '--dry-run', '--no-git-checks'], { cwd: p.dir }),
  ]);
  for (const [i, p] of packages.entries()) {
    checkManifest(p);
    const [r, pub] = packed[i];
    if (r.code !== 0) {
      fail(`${p.pkg.name} pnpm pack`, r.out);
      continue;
    }
    const tgz = r.stdout.trim().split('\n').pop().trim();
    const abs = path.isAbsolute(tgz) ? tgz : path.join(tarDir, p.rel.replace('/', '-'), path.basename(tgz));
    tarballs.set(p.pkg.name, abs);
    const files = sh('tar', ['tzf', abs]).stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    const manifest = JSON.parse(sh('tar', ['xzf', abs, '-O', 'package/package.json']).stdout);
    for (const [field, deps] of Object.entries({ dependencies: manifest.dependencies, peerDependencies: manifest.peerDependencies, optionalDependencies: manifest.optionalDependencies })) {
      for (const [d, v] of Object.entries(deps ?? {})) if (/^workspace:/.test(v)) fail(`${p.pkg.name} tarball`, `${field}.${d} is still "${v}"`);
    }
    for (const f of ['LICENSE', 'README.md', 'package.json']) if (!files.includes(f)) fail(`${p.pkg.name} tarball`, `has no ${f}`);
    // Declared dependencies match what the published code imports.
    const declared = new Set(Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies }));
    const used = new Set();
    for (const f of files.filter((f) => /^(dist|bin)\/.*\.(m?js|cjs|d\.ts)$/.test(f))) {
      for (const d of importsOf(fs.readFileSync(path.join(p.dir, f), 'utf8'))) used.add(d);
    }
    for (const d of used) if (d !== p.pkg.name && !declared.has(d)) fail(`${p.pkg.name} dependencies`, `dist (code or types) imports ${d}, which package.json does not declare`);
    for (const d of declared) if (names.has(d) && !used.has(d)) fail(`${p.pkg.name} dependencies`, `declares ${d} but never imports it`);
    // Publishing: a dry run, clean but for the login notice.
    // Expected: "not logged in" (a dry run in CI), and npm not knowing pnpm's own settings (pnpm 9 passes
    // --no-git-checks on to npm; npm reads the repository's .npmrc, and under `pnpm run` the npm_config_* env).
    const expected = /requires you to be logged in|Unknown cli config "--git-checks"|Unknown (project|env) config "(auto-install-peers|strict-peer-dependencies)"/;
    const warns = pub.out.split('\n').filter((l) => /\b(warn|WARN|ERR)/.test(l) && !expected.test(l));
    if (pub.code !== 0) fail(`${p.pkg.name} pnpm publish --dry-run`, pub.out.slice(-2000));
    else if (warns.length) fail(`${p.pkg.name} pnpm publish --dry-run`, warns.join('\n'));
    const ex = checkReadme(p, files);
    examples.push(...ex);
    const install = installLinePackages(fs.readFileSync(path.join(p.dir, 'README.md'), 'utf8')) ?? new Set();
    for (const d of install) if (!names.has(d)) thirdParty.add(d);
    console.log(`  ${p.pkg.name}: ${path.basename(abs)} (${files.length} files), ${ex.length} README code blocks`);
  }
});

await step('release script versions first', () => {
  const release = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts?.release ?? '';
  const order = ['changeset version', 'tooling/release/check-versions.mjs', 'changeset publish'].map((s) => release.indexOf(s));
  if (order.some((i) => i < 0) || !(order[0] < order[1] && order[1] < order[2])) {
    fail('package.json scripts.release', `must run \`changeset version\`, then tooling/release/check-versions.mjs, then \`changeset publish\`; is: ${release}`);
  }
  const unversioned = packages.filter((p) => p.pkg.version === '0.0.0');
  if (unversioned.length) {
    const guard = sh(process.execPath, [path.join(ROOT, 'tooling/release/check-versions.mjs')]);
    if (guard.code === 0) fail('tooling/release/check-versions.mjs', `passed with ${unversioned.length} packages at 0.0.0`);
    else console.log(`  the guard refuses to publish now: ${guard.out.trim().slice(0, 160)}…`);
  } else console.log('  every package is versioned');
});

// -------------------------------------------------------------------------------------------- projects
const TS_DEPS = ['typescript@~5.9.3', '@types/node@^20.19.0'];
const TSCONFIG = (moduleKind, resolution) => ({
  compilerOptions: {
    strict: true,
    target: 'es2022',
    module: moduleKind,
    moduleResolution: resolution,
    lib: ['es2023', 'dom'],
    types: ['node'],
    noEmit: true,
    skipLibCheck: true, // tfjs-core's own .d.ts files do not pass without it (hash_util.d.ts: 'Long')
    esModuleInterop: false,
  },
  include: ['ts/*.ts'],
});

function exampleSource(ex) {
  if (ex.lang === 'js') return ex.code;
  const ts = require(path.join(ROOT, 'node_modules/typescript'));
  return ts.transpileModule(ex.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
}

function writeProject(dir, pm) {
  fs.mkdirSync(dir, { recursive: true });
  const deps = {};
  for (const [n, t] of tarballs) deps[n] = `file:${t}`;
  const pj = { name: `flux-consumer-${pm}`, private: true, type: 'module', dependencies: deps };
  // The @flux packages are not on the registry yet: point their inter-package ranges at the tarballs too.
  if (pm === 'pnpm') pj.pnpm = { overrides: Object.fromEntries([...tarballs].map(([n, t]) => [n, `file:${t}`])) };
  else pj.overrides = Object.fromEntries([...tarballs].map(([n, t]) => [n, `file:${t}`]));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pj, null, 2));
}

async function project(pm) {
  const dir = path.join(TMP, `project-${pm}`);
  writeProject(dir, pm);
  const extra = [...thirdParty, ...TS_DEPS];
  const t = Date.now();
  const r =
    pm === 'npm'
      ? sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', ...extra], { cwd: dir })
      : sh('pnpm', ['add', '--prefer-offline', '--ignore-scripts', '--config.auto-install-peers=true', ...extra], { cwd: dir });
  if (r.code !== 0) {
    fail(`${pm} install`, r.out.slice(-3000));
    return;
  }
  console.log(`  ${pm}: installed ${tarballs.size} tarballs + ${extra.join(' ')} (${secs(Date.now() - t)})`);
  // Run every example verbatim, each in a fresh working directory.
  fs.mkdirSync(path.join(dir, 'ts'), { recursive: true });
  for (const ex of examples) fs.writeFileSync(path.join(dir, 'ts', `${ex.id}.ts`), ex.code);
  // Two at a time, each with half the cores for wasm threads: the examples are small, start-up dominates.
  const threads = String(Math.max(1, Math.floor((os.availableParallelism?.() ?? 2) / 2)));
  await pool(runnable(), 2, async (ex) => {
    const file = path.join(dir, 'examples', `${ex.id}.mjs`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, exampleSource(ex));
    const cwd = path.join(dir, 'work', ex.id);
    fs.mkdirSync(cwd, { recursive: true });
    const te = Date.now();
    const run = await shAsync(process.execPath, [file], { cwd, timeoutMs: 180_000, env: { FLUX_BACKEND: undefined, FLUX_THREADS: threads } });
    if (run.code !== 0) fail(`${pm}: ${ex.readme} line ${ex.line} (${ex.lang})`, run.out.slice(-3000));
    else console.log(`  ${pm}: ${ex.readme} line ${ex.line} ran (${secs(Date.now() - te)}): ${run.stdout.trim().split('\n').slice(-1)[0]?.slice(0, 110) ?? ''}`);
  });
  // Type-check the TypeScript form of every example (signature blocks and fragments are not programs).
  for (const f of fs.readdirSync(path.join(dir, 'ts'))) {
    const ex = examples.find((e) => `${e.id}.ts` === f);
    if (ex.tags === 'signatures' || ex.tags === 'fragment') fs.rmSync(path.join(dir, 'ts', f));
  }
  for (const [moduleKind, resolution] of [['node16', 'node16'], ['esnext', 'bundler']]) {
    const cfg = path.join(dir, `tsconfig.${resolution}.json`);
    fs.writeFileSync(cfg, JSON.stringify(TSCONFIG(moduleKind, resolution), null, 2));
    const tc = sh(process.execPath, [path.join(dir, 'node_modules/typescript/bin/tsc'), '-p', cfg], { cwd: dir });
    if (tc.code !== 0) fail(`${pm}: tsc --noEmit (strict, ${resolution} resolution)`, tc.out.slice(-4000));
    else console.log(`  ${pm}: tsc --noEmit strict, moduleResolution ${resolution}: ${fs.readdirSync(path.join(dir, 'ts')).length} examples clean`);
  }
}

const runnable = () => examples.filter((e) => !e.tags);
await step('README examples', () => {
  const by = (tag) => examples.filter((e) => e.tags === tag).map((e) => `${e.readme.replace(' README.md', '')}:${e.line}`);
  console.log(`  ${runnable().length} examples run; type-checked only: ${by('type-check').join(', ') || 'none'}`);
  console.log(`  not programs (not run, not type-checked): signatures ${by('signatures').join(', ') || 'none'}; fragments ${by('fragment').join(', ') || 'none'}`);
  if (runnable().length === 0) fail('README examples', 'no runnable example found');
});
for (const pm of only ? [only] : ['npm', 'pnpm']) await step(`${pm} project: install the tarballs, run and type-check the README examples`, () => project(pm));

// ---------------------------------------------------------------------------------------------- global
const FAST = /\[flux\] backend (wasm-threads|wasm-simd) \(tfjs "wasm".*fast kernels\)/;

if (only) notes.push(`--only ${only}: the examples were NOT run with the other package manager`);
if (skipGlobal) notes.push('--skip-global: the global CLI install was NOT tested');
else
  await step('global install (npm i -g --prefix) and the CLIs', () => {
    const prefix = path.join(TMP, 'global');
    const r = sh('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', ...tarballs.values()]);
    if (r.code !== 0) return fail('npm i -g', r.out.slice(-3000));
    const bin = path.join(prefix, 'bin');
    const cwd = path.join(TMP, 'global-work');
    fs.mkdirSync(cwd, { recursive: true });
    const env = { PATH: `${bin}${path.delimiter}${process.env.PATH}`, FLUX_BACKEND: undefined };
    const cli = (name, args, extraEnv = {}) => sh(path.join(bin, name), args, { cwd, env: { ...env, ...extraEnv }, timeoutMs: 300_000 });

    const tune = cli('flux-tune', ['--mode', 'fixed', '--steps', '2', '--batch-size', '2', '--eval-clips', '8', '--out', 'runs/t'], { FLUX_BACKEND: 'wasm' });
    if (tune.code !== 0) fail('flux-tune (global)', tune.out.slice(-3000));
    else if (!FAST.test(tune.stderr)) fail('flux-tune (global)', `does not report wasm with fast kernels:\n${tune.stderr.slice(-2000)}`);
    else console.log(`  flux-tune, FLUX_BACKEND=wasm: ${tune.stderr.match(FAST)[0]}`);
    if (!/FLUX_DUPLICATE_COPIES/.test(tune.stderr)) fail('flux-tune (global)', 'the duplicate tfjs-core copies of this layout were not reported');
    else console.log('  duplicate tfjs-core copies (one per top-level global package) reported as FLUX_DUPLICATE_COPIES');

    const evalRun = cli('flux-eval', ['runs/t', '--out', 'reports/e', '--test-clips', '8', '--search-clips', '8', '--fractions', '1,0.5', '--sizes', '64', '--frames', '8', '--no-token-optimization']);
    if (evalRun.code !== 0) fail('flux-eval (global)', evalRun.out.slice(-3000));
    else if (!FAST.test(evalRun.stderr)) fail('flux-eval (global)', `auto did not reach wasm with fast kernels:\n${evalRun.stderr.slice(-2000)}`);
    else if (!fs.existsSync(path.join(cwd, 'reports/e/report.md'))) fail('flux-eval (global)', 'wrote no reports/e/report.md');
    else console.log(`  flux-eval, auto: ${evalRun.stderr.match(FAST)[0]}; report written`);

    // Every CLI chooses its backend through @flux/core, so FLUX_BACKEND reaches it.
    const bins = packages.flatMap((p) => Object.keys(typeof p.pkg.bin === 'string' ? { [p.pkg.name]: p.pkg.bin } : (p.pkg.bin ?? {}))).filter((b) => b !== 'flux-setup-tfjs-node');
    // flux-eval retrieval / zero-shot look for a Flux-CLIP run's tokenizer.json before choosing the backend.
    fs.mkdirSync(path.join(cwd, 'runs/clip-stub'), { recursive: true });
    fs.writeFileSync(path.join(cwd, 'runs/clip-stub/tokenizer.json'), '{}');
    const probes = { 'flux-eval': [['runs/t'], ['retrieval', 'runs/clip-stub'], ['zero-shot', 'runs/clip-stub'], ['probe'], ['predict', 'clip.mp4', '--checkpoint', 'runs/t']] };
    for (const b of bins) {
      for (const args of probes[b] ?? [[]]) {
        const c = cli(b, args[0] === 'predict' ? args : [...args, '--out', `runs/bogus-${b}`], { FLUX_BACKEND: 'no-such-backend' });
        // The value comes only from the environment: this error proves it reached core's backend choice.
        if (c.code === 0 || !/Unknown backend "no-such-backend" \(from FLUX_BACKEND\)/.test(c.out)) {
          fail(`${b} ${args.join(' ')} (global)`, `does not honour FLUX_BACKEND (exit ${c.code}):\n${c.out.slice(-1500)}`);
        }
      }
    }
    console.log(`  FLUX_BACKEND honoured by: ${bins.map((b) => (probes[b] ? probes[b].map((a) => [b, a[0].startsWith('runs/') ? '' : a[0]].join(' ').trim()).join(', ') : b)).join(', ')}`);
  });

// ------------------------------------------------------------------------------------------------- end
console.log(`\n${notes.map((n) => `note: ${n}`).join('\n')}`);
console.log(`consumer test: ${failures.length ? `${failures.length} FAILURE(S)` : 'all passed'} in ${secs(Date.now() - t0)}`);
if (failures.length) console.log(failures.map((f) => `  - ${f.split('\n')[0]}`).join('\n'));
if (keep) console.log(`kept ${TMP}`);
else fs.rmSync(TMP, { recursive: true, force: true });
process.exit(failures.length ? 1 : 0);
