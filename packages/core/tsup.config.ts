import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/browser.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // tfjs-core's Node entry registers no gradients and its ESM `register_all_gradients` cannot load under
  // Node (extension-less imports), so the gradient configs are bundled here (as tfjs-layers bundles them);
  // they register into tfjs's global registry and build on its global engine, so they serve every copy.
  noExternal: [/^@tensorflow\/tfjs-core\/dist\/register_all_gradients/],
});
