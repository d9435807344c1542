/** Events of sessions. */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';

export const loginMethod = z.enum(['password', 'totp', 'backup_code', 'otp_sms', 'otp_email', 'passkey', 'idp']);

/** Why a session ended (user.session_revoked, Session.revokedReason). */
export const sessionRevokedReason = z.enum(['logout', 'revoked', 'revoked_all', 'password_changed', 'refresh_token_reused']);
export type SessionRevokedReason = z.infer<typeof sessionRevokedReason>;

export const sessionEvents = defineEvents({
  'user.logged_in': z.object({
    sessionId: z.string(),
    method: loginMethod,
    device: z.string().nullable(),
    identityProviderId: z.string().optional().describe('With method idp: the identity provider the user signed in with'),
  }),
  'user.reauthenticated': z.object({ sessionId: z.string(), method: loginMethod }),
  'user.session_revoked': z.object({
    sessionId: z.string(),
    reason: sessionRevokedReason.describe('Why the session ended; refresh_token_reused: a spent refresh token was presented again'),
  }),
  'user.refresh_token_reused': z.object({ sessionId: z.string() }),
});
