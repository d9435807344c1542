import { defineModule } from '../manifest.js';

/** The event log's queries and the userEvents / userStateChanged subscriptions (the catalog is modules/catalog.ts). */
export const eventsModule = defineModule({
  name: 'events',
  schema: () => Promise.all([import('./schema.js'), import('./subscriptions.schema.js')]),
});
