import { defineModule } from '../manifest.js';
import { personalAccessTokenEvents } from './events.js';

/** Personal access tokens: a user's own long-lived, scoped tokens for scripts (their strategy is in auth-strategy.ts). */
export const personalAccessTokensModule = defineModule({ name: 'personal-access-tokens', events: personalAccessTokenEvents, schema: () => import('./schema.js') });
