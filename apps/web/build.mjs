/**
 * Builds the static page into dist/: esbuild bundles src/main.ts for browsers (the "browser" export condition picks
 * each @flux package's browser entry), index.html is copied, and tfjs's wasm binaries are copied next to it for the
 * wasm fallback. The build fails if anything in the bundle reaches a Node built-in or a package's Node entry.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'dist');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

const result = await esbuild.build({
  entryPoints: [path.join(here, 'src/main.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  conditions: ['browser'],
  outfile: path.join(out, 'main.js'),
  sourcemap: true,
  minify: true,
  metafile: true,
  logLevel: 'warning',
});

// Browser-safety: no Node built-in, and every @flux package through its browser entry or a file-system-free main.
const inputs = Object.keys(result.metafile.inputs);
const bad = inputs.filter((f) => /^node:|(^|\/)(fs|child_process|os|path|zlib|crypto)$/.test(f) || /packages\/(core|video|train)\/dist\/index\.js$/.test(f));
if (bad.length) {
  console.error(`build: the page reaches Node-only code:\n  ${bad.join('\n  ')}`);
  process.exit(1);
}
fs.writeFileSync(path.join(out, 'meta.json'), JSON.stringify(result.metafile));

fs.copyFileSync(path.join(here, 'src/index.html'), path.join(out, 'index.html'));
const require = createRequire(import.meta.url);
const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) fs.copyFileSync(path.join(wasmDir, f), path.join(out, f));
const kb = (fs.statSync(path.join(out, 'main.js')).size / 1024).toFixed(0);
console.log(`built ${path.relative(process.cwd(), out)}/ (main.js ${kb} KiB, ${inputs.length} modules)`);
