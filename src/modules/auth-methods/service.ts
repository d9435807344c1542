/**
 * Removal of any auth method, with the event of its kind. Removing the
 * BACKUP_CODES method also deletes its codes; removing the password clears
 * the password facts on the user.
 */
import type { AuthMethodKind } from '../../kernel/db/models.js';
import type { EventType } from '../../kernel/events/catalog.js';
import type { Outbox, RequestMeta } from '../../kernel/events/outbox.js';
import { NotFoundError } from '../../kernel/errors.js';
import type { ReauthGuard } from '../sessions/service.js';

/** The event each kind's removal records. */
export const removalEvents: Record<AuthMethodKind, EventType> = {
  PASSWORD: 'user.password_removed',
  TOTP: 'user.totp_removed',
  BACKUP_CODES: 'user.backup_codes_removed',
  OTP_SMS: 'user.otp_sms_removed',
  OTP_EMAIL: 'user.otp_email_removed',
  PASSKEY: 'user.passkey_removed',
  // Security keys are WebAuthn credentials too; the event's `kind` tells them apart.
  U2F: 'user.passkey_removed',
};

export type AuthMethodService = ReturnType<typeof createAuthMethodService>;

export function createAuthMethodService(deps: { outbox: Outbox; reauth: ReauthGuard }) {
  const { outbox } = deps;
  return {
    /** Removes an auth method by id. Throws NotFoundError when there is none (or it was removed meanwhile). */
    async removeAuthMethod(id: string, meta: RequestMeta): Promise<{ userId: string; kind: AuthMethodKind; id: string }> {
      await deps.reauth.assertRecentAuthentication(meta);
      const removed = await outbox.transaction(async (tx) => {
        const method = await tx.authMethod.findUnique({ where: { id }, select: { id: true, userId: true, kind: true } });
        if (!method) throw new NotFoundError('auth method');
        // deleteMany: a concurrent removal makes this one a clean "not found".
        const { count } = await tx.authMethod.deleteMany({ where: { id } });
        if (count === 0) throw new NotFoundError('auth method');
        if (method.kind === 'BACKUP_CODES') await tx.backupCode.deleteMany({ where: { userId: method.userId } });
        if (method.kind === 'PASSWORD') {
          await tx.user.update({ where: { id: method.userId }, data: { passwordChangedAt: null, passwordMustChange: false, failedPasswordAttempts: 0 } });
        }
        await outbox.record(tx, { type: removalEvents[method.kind], userId: method.userId, data: { authMethodId: method.id, kind: method.kind } }, meta);
        return method;
      });
      return removed;
    },
  };
}
