import { beforeAll, describe } from 'vitest';

import { goldenTests } from './golden.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));
describe('stories260K vs the llama2.c reference (cpu)', () => goldenTests());
