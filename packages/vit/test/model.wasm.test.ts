import { beforeAll, describe } from 'vitest';

import { useBackend } from './helpers.js';
import { modelTests } from './model.js';

beforeAll(() => useBackend('wasm'));
describe('FluxViT (wasm)', () => modelTests());
