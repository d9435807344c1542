import { defineModule } from '../manifest.js';
import { createIdpCallbackPage } from './callback.js';
import { identityProviderEvents } from './events.js';

export const identityProvidersModule = defineModule({
  name: 'identity-providers',
  events: identityProviderEvents,
  schema: () => import('./schema.js'),
  // Providers send the browser back to GET /idps/callback.
  pages: ({ services, logger }) => createIdpCallbackPage({ identityProviders: services.identityProviders, logger }),
  // Intents a day past their expiry are deleted.
  leaderChore: (services) => services.identityProviders.sweepExpiredIntents(),
});
