import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe } from 'vitest';

import { useBackend } from './helpers.js';
import { modelTests } from './model.js';

describe.skipIf(!nativeAvailable())('FluxViT (tensorflow)', () => {
  beforeAll(() => useBackend('tensorflow'));
  modelTests();
});
