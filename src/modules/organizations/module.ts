import { defineModule } from '../manifest.js';
import { organizationEvents } from './events.js';

export const organizationsModule = defineModule({
  name: 'organizations',
  events: organizationEvents,
  schema: () => Promise.all([import('./roles.schema.js'), import('./access.schema.js')]),
});
