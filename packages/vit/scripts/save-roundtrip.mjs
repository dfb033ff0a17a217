// Loads the golden .pth into the TS model and saves it with FluxViT.save(), for
//   /usr/bin/python3 scripts/make-golden.py --check <out.safetensors>
// (PyTorch load_state_dict(strict=True) of our file + identical outputs). Run after `pnpm build`.
import { initBackend, readPth } from '@flux/core';
import { createModel } from '@flux/vit';

const out = process.argv[2] ?? '/tmp/fluxvit-roundtrip.safetensors';
await initBackend({ backend: 'cpu', log: false });
const m = createModel('fluxvit_tiny', {
  patchSize: 4, embedDim: 32, depth: 2, numHeads: 4, maxFrames: 8, maxGrid: 4, numClasses: 5,
  headTokenCounts: [64, 32, 16], clipEmbedDim: 24, clipNumHeads: 4,
});
m.loadStateDict((await readPth(new URL('../test/fixtures/golden-weights.pth', import.meta.url).pathname)).tensors);
await m.save(out);
console.log(`saved ${out}`);
