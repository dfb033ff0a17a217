import { beforeAll, describe } from 'vitest';

import { goldenTests } from './golden.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));
describe('text tower vs PyTorch (cpu)', () => goldenTests());
