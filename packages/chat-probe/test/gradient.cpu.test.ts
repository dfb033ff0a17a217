import { beforeAll, describe } from 'vitest';

import { gradientTests } from './gradient.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));
describe('LlamaModel gradients (cpu)', () => gradientTests());
