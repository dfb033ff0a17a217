import { beforeAll, describe } from 'vitest';

import { useBackend } from './helpers.js';
import { pretrainTests } from './pretrain.js';

beforeAll(() => useBackend('cpu'));
describe('pretraining (cpu)', () => pretrainTests());
