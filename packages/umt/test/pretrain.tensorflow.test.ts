import { nativeAvailable } from '@flux/vitest-config/backends';
import { beforeAll, describe } from 'vitest';

import { useBackend } from './helpers.js';
import { pretrainTests } from './pretrain.js';

describe.skipIf(!nativeAvailable())('pretraining (tensorflow)', () => {
  beforeAll(() => useBackend('tensorflow'));
  pretrainTests();
});
