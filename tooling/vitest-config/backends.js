// Which backends the numerical tests run on: cpu and wasm always, and `tensorflow` (@tensorflow/tfjs-node,
// the kernel library tfjs-node-gpu users run) wherever it loads. `pnpm install` builds it (see
// packages/core/bin/flux-setup-tfjs-node.mjs); where that was impossible the tensorflow tests are skipped
// with a message, except in CI (CI=true), which must test it: there a missing native backend is an error
// unless FLUX_ALLOW_NO_NATIVE=1.
import { createRequire } from 'node:module';
import path from 'node:path';

let native;

/** Whether the tensorflow backend loads in this test process (loading it makes it the active backend). */
export function nativeAvailable() {
  if (native !== undefined) return native;
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  try {
    createRequire(path.join(process.cwd(), 'noop.js'))('@tensorflow/tfjs-node');
    native = true;
  } catch (e) {
    native = false;
    const why = String(e instanceof Error ? e.message : e).split('\n')[0];
    const msg = `the tensorflow backend (@tensorflow/tfjs-node) does not load here: ${why}. Build it with \`pnpm setup:native\`.`;
    if (process.env.CI && process.env.FLUX_ALLOW_NO_NATIVE !== '1') {
      throw new Error(`${msg} CI tests every backend; set FLUX_ALLOW_NO_NATIVE=1 to skip the tensorflow tests.`);
    }
    console.warn(`[flux tests] ${msg} Its tests are skipped.`);
  }
  return native;
}

/** The tfjs backend names to run numerical tests on. */
export function testBackends() {
  return nativeAvailable() ? ['cpu', 'wasm', 'tensorflow'] : ['cpu', 'wasm'];
}
