import { beforeAll, describe } from 'vitest';

import { clipTrainTests } from './clip-train.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));
describe('Flux-CLIP training (cpu)', () => clipTrainTests());
