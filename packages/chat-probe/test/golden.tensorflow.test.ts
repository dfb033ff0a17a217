import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe } from 'vitest';

import { goldenTests } from './golden.js';
import { useBackend } from './helpers.js';

describe.skipIf(!nativeAvailable())('stories260K vs the llama2.c reference (tensorflow)', () => {
  beforeAll(() => useBackend('tensorflow'));
  goldenTests();
});
