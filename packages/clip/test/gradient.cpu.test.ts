import { beforeAll, describe } from 'vitest';

import { gradientTests } from './gradient.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));
describe('text tower gradients (cpu)', () => gradientTests());
