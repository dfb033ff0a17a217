import type { UserConfig } from 'vitest/config';
/** Shared vitest preset for Flux packages (forked pools, generous timeouts for numerical tests). */
export declare function fluxVitest(overrides?: UserConfig['test']): UserConfig;
