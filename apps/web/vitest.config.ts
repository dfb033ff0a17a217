import { fluxVitest } from '@flux/vitest-config';

// One browser at a time on a 2-core machine.
export default fluxVitest({ poolOptions: { forks: { maxForks: 1, minForks: 1 } } });
