import { defineModule } from '../manifest.js';
import { passwordEvents } from './events.js';

export const passwordModule = defineModule({
  name: 'password',
  events: passwordEvents,
  schema: () => import('./schema.js'),
});
