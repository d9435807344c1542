/** Events of sessions. */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';

export const loginMethod = z.enum(['password', 'totp', 'backup_code', 'otp_sms', 'otp_email', 'passkey']);

export const sessionEvents = defineEvents({
  'user.logged_in': z.object({ sessionId: z.string(), method: loginMethod, device: z.string().nullable() }),
  'user.reauthenticated': z.object({ sessionId: z.string(), method: loginMethod }),
  'user.session_revoked': z.object({
    sessionId: z.string(),
    reason: z.string().describe('logout, revoked, revoked_all, password_changed, refresh_token_reused'),
  }),
  'user.refresh_token_reused': z.object({ sessionId: z.string() }),
});
