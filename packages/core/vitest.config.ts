import { fluxVitest } from '@flux/vitest-config';

// src/gradients.ts imports tfjs-core's ESM gradient registrations, which Node cannot load as they are
// (extension-less imports); tsup bundles them into dist, and vite processes them here.
export default fluxVitest({ server: { deps: { inline: [/@tensorflow\/tfjs-core\/dist\/(?!tf-core)/] } } });
