import { defineModule } from '../manifest.js';
import { authMethodEvents } from './events.js';

export const authMethodsModule = defineModule({
  name: 'auth-methods',
  events: authMethodEvents,
  schema: () => import('./schema.js'),
});
