/**
 * Duplicate copies of @flux/core and @tensorflow/tfjs-core in one process.
 *
 * Installing several Flux packages side by side (e.g. `npm i -g` of each tarball) gives every top-level
 * package its own copy of its tfjs-core peer, and can give two copies of @flux/core. tfjs keeps its engine,
 * kernel and gradient registries and its Tensor class on `globalThis`, so the copies share one engine and
 * results stay right; Flux keeps its backend report there too, so every copy of @flux/core sees the backend
 * that any copy chose. What remains is noise (each extra tfjs-core prints "Platform node has already been
 * set") and wasted memory, so {@link initBackend} names the copies in a process warning instead of staying
 * silent about them.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface SharedState {
  /** Paths of every @flux/core module instance that was loaded. */
  fluxCore: string[];
  /** The last backend report, shared by all copies (typed by backend.ts). */
  report: unknown;
  /** Whether the duplicate warning was emitted already. */
  warned: boolean;
}

const KEY = Symbol.for('@flux/core/shared-state');
const g = globalThis as { [KEY]?: SharedState };
/** Process-wide state shared by every copy of @flux/core. */
export const shared: SharedState = (g[KEY] ??= { fluxCore: [], report: null, warned: false });
const self = fileURLToPath(import.meta.url);
if (!shared.fluxCore.includes(self)) shared.fluxCore.push(self);

/** The module copies loaded in this process: one path each (more than one of a kind is a duplicate). */
export interface LoadedCopies {
  /** Files of the @flux/core copies loaded. */
  fluxCore: string[];
  /** Package folders of the @tensorflow/tfjs-core copies loaded (its Node entry point in the module cache). */
  tfjsCore: string[];
}

/** Which copies of @flux/core and @tensorflow/tfjs-core this process has loaded. */
export function loadedCopies(): LoadedCopies {
  const cache = createRequire(import.meta.url).cache ?? {};
  const tfjsCore = new Set<string>();
  for (const file of Object.keys(cache)) {
    const m = /^(.*[\\/]@tensorflow[\\/]tfjs-core)[\\/]dist[\\/]tf-core\.node\.js$/.exec(file);
    if (m) tfjsCore.add(m[1]!);
  }
  return { fluxCore: [...shared.fluxCore], tfjsCore: [...tfjsCore] };
}

/** A one-line description of duplicate copies, or null when there is one of each. */
export function duplicateCopiesMessage(copies: LoadedCopies = loadedCopies()): string | null {
  const parts: string[] = [];
  if (copies.tfjsCore.length > 1) parts.push(`${copies.tfjsCore.length} copies of @tensorflow/tfjs-core (${copies.tfjsCore.join(', ')})`);
  if (copies.fluxCore.length > 1) parts.push(`${copies.fluxCore.length} copies of @flux/core (${copies.fluxCore.join(', ')})`);
  if (parts.length === 0) return null;
  return (
    `${parts.join(' and ')} are loaded. They share one tfjs engine, so results are right and the fast kernels ` +
    'apply, but each extra tfjs-core prints "Platform node has already been set" and costs memory. Install the Flux ' +
    'packages into one project (or one global package: npm i -g @flux/tune installs its own single tree), then npm dedupe.'
  );
}
