import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe } from 'vitest';

import { decoderTests } from './decoder.js';
import { useBackend } from './helpers.js';

describe.skipIf(!nativeAvailable())('alignment heads (tensorflow)', () => {
  beforeAll(() => useBackend('tensorflow'));
  decoderTests();
});
