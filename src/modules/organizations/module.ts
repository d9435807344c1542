import { defineModule } from '../manifest.js';
import { organizationEvents } from './events.js';

export const organizationsModule = defineModule({
  name: 'organizations',
  events: organizationEvents,
  schema: () => import('./roles.schema.js'),
});
