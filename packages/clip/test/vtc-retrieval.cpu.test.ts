import { beforeAll, describe } from 'vitest';

import { useBackend } from './helpers.js';
import { retrievalTests, vtcRetrievalTests } from './vtc-retrieval.js';

beforeAll(() => useBackend('cpu'));
describe('VTC (cpu)', () => vtcRetrievalTests());
describe('retrieval metrics', () => retrievalTests());
