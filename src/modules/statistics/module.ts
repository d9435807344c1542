import { defineModule } from '../manifest.js';

/** User statistics: active days recorded at sign-in and refresh, tallies of created and deleted users, and userStats. */
export const statisticsModule = defineModule({
  name: 'statistics',
  schema: () => import('./schema.js'),
});
