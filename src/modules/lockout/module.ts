import { defineModule } from '../manifest.js';

export const lockoutModule = defineModule({
  name: 'lockout',
  // Policy locks end on time even when nobody tries to sign in: the lease holder records their end.
  leaderChore: (services) => services.lockout.expireDueLocks(),
});
