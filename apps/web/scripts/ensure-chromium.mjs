#!/usr/bin/env node
/**
 * Finds a Chromium for the browser end-to-end test, installing Debian's `chromium` with apt-get when it is missing
 * and this process may (root, apt-get present). Prints the executable's path; exits non-zero with the reason when
 * there is none. Env CHROMIUM_PATH (or PUPPETEER_EXECUTABLE_PATH) names one explicitly.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export function findChromium() {
  const env = process.env.CHROMIUM_PATH ?? process.env.PUPPETEER_EXECUTABLE_PATH;
  if (env) {
    if (!fs.existsSync(env)) throw new Error(`CHROMIUM_PATH=${env}: no such file`);
    return env;
  }
  return CANDIDATES.find((c) => fs.existsSync(c)) ?? null;
}

/** The Chromium executable, installed with apt-get if needed. Throws with what to do when it cannot be. */
export function ensureChromium({ log = (l) => process.stderr.write(l + '\n') } = {}) {
  const found = findChromium();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).stdout.trim();
  if (!isRoot || !apt) {
    throw new Error(
      `no Chromium found (looked for ${CANDIDATES.join(', ')}) and cannot install one here (${!apt ? 'no apt-get' : 'not root'}). ` +
        'Install it (Debian/Ubuntu: sudo apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium/Chrome executable.',
    );
  }
  log('[ensure-chromium] Chromium is missing: apt-get install -y chromium (once; a few minutes)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  } catch {
    log('[ensure-chromium] install failed; apt-get update, then again');
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 'inherit', 'inherit'], env });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  }
  const after = findChromium();
  if (!after) throw new Error('apt-get installed chromium but no executable was found at ' + CANDIDATES.join(', '));
  return after;
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(ensureChromium() + '\n');
  } catch (e) {
    process.stderr.write(`ensure-chromium: ${e.message}\n`);
    process.exit(1);
  }
}
