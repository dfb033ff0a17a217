import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe } from 'vitest';

import { useBackend } from './helpers.js';
import { textEncoderTests } from './text-encoder.js';

describe.skipIf(!nativeAvailable())('ClipTextTransformer (tensorflow)', () => {
  beforeAll(() => useBackend('tensorflow'));
  textEncoderTests();
});
