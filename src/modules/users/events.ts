/** Events of users, their lifecycle and their contacts. */
import { z } from 'zod';
import type { User } from '../../kernel/db/models.js';
import { defineEvents } from '../../kernel/events/define.js';

/** The public facts about a user that events carry: no secret, no counter. */
export const publicUserSchema = z.object({
  id: z.string(),
  email: z.string().nullable(),
  emailVerified: z.boolean(),
  phone: z.string().nullable().describe('E.164'),
  phoneVerified: z.boolean(),
  username: z.string().nullable(),
  givenName: z.string().nullable(),
  familyName: z.string().nullable(),
  displayName: z.string().nullable(),
  state: z.enum(['ACTIVE', 'INACTIVE', 'LOCKED']),
  createdAt: z.string().describe('ISO 8601'),
  updatedAt: z.string().describe('ISO 8601'),
});

export function publicUser(u: User): z.infer<typeof publicUserSchema> {
  return {
    id: u.id,
    email: u.email,
    emailVerified: u.emailVerifiedAt !== null,
    phone: u.phone,
    phoneVerified: u.phoneVerifiedAt !== null,
    username: u.username,
    givenName: u.givenName,
    familyName: u.familyName,
    displayName: u.displayName,
    state: u.state,
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
  };
}

const withUser = z.object({ user: publicUserSchema });
const lifecycle = withUser.extend({ reason: z.string().optional().describe('Why, when known: admin, lock_expired, too_many_failed_passwords, …') });
const contactChanged = withUser.extend({ verification: z.enum(['SEND_CODE', 'RETURN_CODE', 'MARK_VERIFIED']) });
const contactVerified = withUser.extend({ method: z.enum(['admin', 'code']).describe('admin: MARK_VERIFIED; code: the user entered the code') });
/**
 * Names, never values: the event log outlives the metadata it describes (a
 * value removed or a user deleted would live on in old events), a user may
 * read its own events, and a receiver re-reads the user for the values.
 * Private metadata is named as a changed part only, without its keys.
 */
const metadataUpdated = withUser.extend({
  mode: z.enum(['MERGE', 'REPLACE']),
  changed: z.array(z.enum(['public', 'private', 'unsafe'])).describe('The parts whose value changed'),
  publicKeys: z.array(z.string()).describe('Top-level keys of publicMetadata added, changed or removed, sorted'),
  unsafeKeys: z.array(z.string()).describe('Top-level keys of unsafeMetadata added, changed or removed, sorted'),
});

export const userEvents = defineEvents({
  'user.created': withUser,
  'user.updated': withUser.extend({ changes: z.array(z.string()).describe('The input fields that were given') }),
  'user.deleted': withUser,
  'user.locked': lifecycle.extend({ lockedUntil: z.string().nullable().optional().describe('ISO 8601; null: until an admin unlocks') }),
  'user.unlocked': lifecycle,
  'user.deactivated': lifecycle,
  'user.reactivated': lifecycle,
  'user.email_changed': contactChanged,
  'user.email_verified': contactVerified,
  'user.phone_changed': contactChanged,
  'user.phone_verified': contactVerified,
  'user.metadata_updated': metadataUpdated,
});

/** Events that change a user's `state` (the userStateChanged stream). */
export const STATE_EVENTS = ['user.locked', 'user.unlocked', 'user.deactivated', 'user.reactivated', 'user.deleted'] as const;
