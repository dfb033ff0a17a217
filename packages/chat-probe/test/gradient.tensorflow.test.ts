import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe } from 'vitest';

import { gradientTests } from './gradient.js';
import { useBackend } from './helpers.js';

describe.skipIf(!nativeAvailable())('LlamaModel gradients (tensorflow)', () => {
  beforeAll(() => useBackend('tensorflow'));
  gradientTests();
});
