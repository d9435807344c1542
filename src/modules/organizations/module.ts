import { defineModule } from '../manifest.js';
import { organizationEvents } from './events.js';

export const organizationsModule = defineModule({
  name: 'organizations',
  events: organizationEvents,
  schema: () => Promise.all([import('./roles.schema.js'), import('./organizations.schema.js'), import('./access.schema.js')]),
  // Pending invitations past their expiry become EXPIRED (and say so) even when nobody tries them.
  leaderChore: (services) => services.organizationInvitations.expireOverdueInvitations(),
  // Users whose email becomes verified at a verified autoJoin domain join its organization.
  fanOut: (services, events) => services.organizationDomains.joinByVerifiedEmail(events),
});
