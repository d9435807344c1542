/** Events of passwords. */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';
import { publicUserSchema } from '../users/events.js';

export const passwordEvents = defineEvents({
  'user.password_changed': z.object({
    user: publicUserSchema,
    reason: z.enum(['set', 'imported', 'changed', 'reset']),
    imported: z.boolean(),
    mustChange: z.boolean(),
    sessionsRevoked: z.number().int().describe('Sessions this change ended'),
  }),
  'user.password_reset_requested': z.object({
    user: publicUserSchema,
    expiresAt: z.string(),
    sentTo: z.string().nullable().describe('Masked address; null when the code was returned'),
    returned: z.boolean(),
  }),
  'user.password_verified': z.object({ rehashed: z.boolean() }),
  'user.password_verification_failed': z.object({
    attemptsBeforeLock: z.number().int().nullable().describe('Failures still allowed before the lockout policy locks the user; null: no policy'),
    locked: z.boolean(),
  }),
});
