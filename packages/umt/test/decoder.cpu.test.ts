import { beforeAll, describe } from 'vitest';

import { decoderTests } from './decoder.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));
describe('alignment heads (cpu)', () => decoderTests());
