import { defineModule } from '../manifest.js';

/** API keys for management callers (created by the CLI); their authentication strategy is in auth-strategy.ts. */
export const accessTokensModule = defineModule({ name: 'access-tokens' });
