/**
 * Events of roles, permissions and organizations. Organization events carry
 * the organization on the event row (what `organizationEvents` follows);
 * membership events also carry the member's user (what `userEvents` follows).
 */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';

const permission = z.object({ id: z.string(), key: z.string(), description: z.string().nullable() });
const role = z.object({
  id: z.string(),
  key: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  scope: z.enum(['GLOBAL', 'ORGANIZATION']),
  isDefault: z.boolean(),
  permissions: z.array(z.string()).describe('Permission keys'),
});
const organization = z.object({ id: z.string(), name: z.string(), slug: z.string() });
const membership = z.object({
  id: z.string(),
  userId: z.string(),
  roles: z.array(z.string()).describe('Role keys'),
});
const invitation = z.object({
  id: z.string(),
  email: z.string(),
  roles: z.array(z.string()).describe('Role keys given on acceptance'),
  expiresAt: z.string().describe('ISO 8601'),
});
const domain = z.object({ id: z.string(), domain: z.string(), verified: z.boolean(), autoJoin: z.boolean(), roles: z.array(z.string()) });
const changes = z.array(z.string()).describe('The fields that changed');
const roleDelta = { added: z.array(z.string()), removed: z.array(z.string()) };

export const organizationEvents = defineEvents({
  'permission.created': z.object({ permission }),
  'permission.deleted': z.object({ permission }),
  'role.created': z.object({ role }),
  'role.updated': z.object({ role, changes }),
  'role.deleted': z.object({ role }),
  'role.permissions_updated': z.object({ role, ...roleDelta }),
  'user.roles_updated': z.object({ userId: z.string(), roles: z.array(z.string()).describe('The GLOBAL role keys now held'), ...roleDelta }),
  'organization.created': z.object({ organization }),
  'organization.updated': z.object({ organization, changes }),
  'organization.deleted': z.object({ organization }),
  'organization.member_added': z.object({
    organization,
    membership,
    via: z.enum(['admin', 'invitation', 'domain']).describe('How the user joined'),
  }),
  'organization.member_removed': z.object({
    organization,
    membership,
    via: z.enum(['admin', 'user_deleted']).describe('Why the member left: removed, or its user deleted'),
  }),
  'organization.member_roles_updated': z.object({ organization, membership, ...roleDelta }),
  'organization.invitation_created': z.object({ organization, invitation, delivery: z.enum(['SEND', 'RETURN']) }),
  'organization.invitation_accepted': z.object({ organization, invitation, userId: z.string() }),
  'organization.invitation_revoked': z.object({ organization, invitation }),
  'organization.invitation_expired': z.object({ organization, invitation }),
  'organization.domain_added': z.object({ organization, domain }),
  'organization.domain_updated': z.object({ organization, domain, changes }),
  'organization.domain_verified': z.object({ organization, domain, method: z.enum(['admin', 'email']) }),
  'organization.domain_removed': z.object({ organization, domain }),
});
