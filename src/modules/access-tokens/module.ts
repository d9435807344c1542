import { defineModule } from '../manifest.js';
import { accessTokenEvents } from './events.js';

/** API keys for management callers and the scopes they hold (scopes.ts); their authentication strategy is in auth-strategy.ts. */
export const accessTokensModule = defineModule({ name: 'access-tokens', events: accessTokenEvents, schema: () => import('./schema.js') });
