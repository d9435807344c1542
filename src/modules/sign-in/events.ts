/** Events of sign-in attempts (successes: user.logged_in, in sessions). */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';

export const signInEvents = defineEvents({
  'user.login_failed': z.object({
    reason: z.enum(['incorrect_password', 'locked', 'inactive', 'incorrect_code', 'passkey_of_another_user']),
    method: z.enum(['TOTP', 'BACKUP_CODES', 'OTP_SMS', 'OTP_EMAIL', 'PASSKEY']).optional().describe('The second factor tried (an MfaMethod)'),
  }),
});
