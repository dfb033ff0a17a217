import { beforeAll, describe } from 'vitest';

import { decodingTests } from './decoding.js';
import { useBackend } from './helpers.js';

beforeAll(() => useBackend('cpu'));
describe('KV cache, log-likelihood, beam search (cpu)', () => decodingTests());
