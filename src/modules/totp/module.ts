import { defineModule } from '../manifest.js';
import { totpEvents } from './events.js';

export const totpModule = defineModule({
  name: 'totp',
  events: totpEvents,
  schema: () => import('./schema.js'),
});
