import { defineModule } from '../manifest.js';
import { userEvents } from './events.js';

export const usersModule = defineModule({
  name: 'users',
  events: userEvents,
  schema: () => Promise.all([import('./schema.js'), import('./contacts.schema.js'), import('./metadata.schema.js')]),
});
