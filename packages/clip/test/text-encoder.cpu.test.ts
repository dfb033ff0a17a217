import { beforeAll, describe } from 'vitest';

import { useBackend } from './helpers.js';
import { textEncoderTests } from './text-encoder.js';

beforeAll(() => useBackend('cpu'));
describe('ClipTextTransformer (cpu)', () => textEncoderTests());
