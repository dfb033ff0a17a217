import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe } from 'vitest';

import { goldenTests } from './golden.js';
import { useBackend } from './helpers.js';

// The kernel library tfjs-node-gpu users run (on CPU here); skipped with a message where tfjs-node does not load.
describe.skipIf(!nativeAvailable())('golden (tensorflow)', () => {
  beforeAll(() => useBackend('tensorflow'));
  goldenTests();
});
