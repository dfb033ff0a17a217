import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe } from 'vitest';

import { decodingTests } from './decoding.js';
import { useBackend } from './helpers.js';

describe.skipIf(!nativeAvailable())('KV cache, log-likelihood, beam search (tensorflow)', () => {
  beforeAll(() => useBackend('tensorflow'));
  decodingTests();
});
