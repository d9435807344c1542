/** Events of TOTP authenticators and backup codes. */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';

export const totpEvents = defineEvents({
  'user.totp_added': z.object({ authMethodId: z.string() }),
  'user.totp_verified': z.object({ kind: z.literal('TOTP') }),
  'user.totp_verification_failed': z.object({
    reason: z.enum(['incorrect', 'replay', 'backup_code_reused']),
    attemptsBeforeLock: z.number().int().nullable().optional().describe('Failures still allowed before the lockout policy locks the user; null: no policy'),
    locked: z.boolean().optional(),
  }),
  'user.backup_codes_generated': z.object({ count: z.number().int(), authMethodId: z.string() }),
  'user.backup_code_used': z.object({ remaining: z.number().int() }),
});
