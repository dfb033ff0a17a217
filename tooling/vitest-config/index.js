// Shared vitest preset for Flux packages. Numerical tests run on real backends (wasm, cpu) in
// separate forked processes so a backend change in one file never leaks into another.
import { defineConfig } from 'vitest/config';

/** @param {import('vitest/config').UserConfig['test']} [overrides] */
export function fluxVitest(overrides = {}) {
  return defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      pool: 'forks',
      poolOptions: { forks: { maxForks: 2, minForks: 1 } },
      testTimeout: 60_000,
      hookTimeout: 60_000,
      reporters: process.env.CI ? ['default'] : ['default'],
      ...overrides,
    },
  });
}
