import { defineModule } from '../manifest.js';
import { sessionEvents } from './events.js';

export const sessionsModule = defineModule({
  name: 'sessions',
  events: sessionEvents,
  schema: () => import('./schema.js'),
});
