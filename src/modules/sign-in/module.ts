import { defineModule } from '../manifest.js';
import { signInEvents } from './events.js';

export const signInModule = defineModule({
  name: 'sign-in',
  events: signInEvents,
  schema: () => import('./schema.js'),
});
