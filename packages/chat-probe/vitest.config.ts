import { fluxVitest } from '@flux/vitest-config';

export default fluxVitest();
