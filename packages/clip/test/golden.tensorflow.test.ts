import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe } from 'vitest';

import { goldenTests } from './golden.js';
import { useBackend } from './helpers.js';

describe.skipIf(!nativeAvailable())('text tower vs PyTorch (tensorflow)', () => {
  beforeAll(() => useBackend('tensorflow'));
  goldenTests();
});
