import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe } from 'vitest';

import { useBackend } from './helpers.js';
import { vtcRetrievalTests } from './vtc-retrieval.js';

describe.skipIf(!nativeAvailable())('VTC (tensorflow)', () => {
  beforeAll(() => useBackend('tensorflow'));
  vtcRetrievalTests();
});
