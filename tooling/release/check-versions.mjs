#!/usr/bin/env node
// Release guard: refuses to publish while a public package is unversioned (0.0.0) or a changeset is still
// pending (`changeset version` not run). `pnpm release` runs `changeset version` first, then this, then builds
// and publishes. `--expect-fail` (used by the consumer test) inverts the exit code so the guard is tested.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const problems = [];
for (const group of ['packages', 'apps']) {
  const base = path.join(ROOT, group);
  if (!fs.existsSync(base)) continue;
  for (const d of fs.readdirSync(base).sort()) {
    const pj = path.join(base, d, 'package.json');
    if (!fs.existsSync(pj)) continue;
    const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
    if (pkg.private) continue;
    if (pkg.version === '0.0.0') problems.push(`${pkg.name} is at 0.0.0`);
  }
}
const pending = fs
  .readdirSync(path.join(ROOT, '.changeset'))
  .filter((f) => f.endsWith('.md') && f !== 'README.md');
if (pending.length) problems.push(`${pending.length} changeset(s) not yet applied (${pending.slice(0, 3).join(', ')}${pending.length > 3 ? ', …' : ''})`);
const expectFail = process.argv.includes('--expect-fail');
if (problems.length) {
  console.error(`release refused: ${problems.join('; ')}. Run \`pnpm version-packages\` (changeset version) and commit first.`);
  process.exit(expectFail ? 0 : 1);
}
console.log('release check: every public package is versioned and no changeset is pending');
process.exit(expectFail ? 1 : 0);
