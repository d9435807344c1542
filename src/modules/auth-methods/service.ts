/**
 * Removal of any auth method: the one path every removal takes (the
 * removeOtpSms/removeOtpEmail shortcuts call it too), with one event shape.
 * Removing the BACKUP_CODES method also deletes its codes, removing the
 * password clears the password facts on the user, and removing an OTP factor
 * voids the sign-in code it may have sent, all in the same transaction.
 */
import type { AuthMethodKind } from '../../kernel/db/models.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import { NotFoundError } from '../../kernel/errors.js';
import type { ReauthGuard } from '../sessions/service.js';
import { authMethodRemoved } from './events.js';
import { createAuthMethodStore } from './store.js';

/** The purpose of the one-time codes a factor sends, which die with it. */
export const pendingCodePurpose: Partial<Record<AuthMethodKind, string>> = { OTP_SMS: 'otp_sms', OTP_EMAIL: 'otp_email' };

export type AuthMethodService = ReturnType<typeof createAuthMethodService>;

export function createAuthMethodService(deps: { outbox: Outbox; reauth: ReauthGuard }) {
  const { outbox } = deps;
  const store = createAuthMethodStore();
  return {
    /** Removes an auth method by id. Throws NotFoundError when there is none (or it was removed meanwhile). */
    async removeAuthMethod(id: string, meta: RequestMeta): Promise<{ userId: string; kind: AuthMethodKind; id: string }> {
      await deps.reauth.assertRecentAuthentication(meta);
      const removed = await outbox.transaction(async (tx) => {
        const method = await tx.authMethod.findUnique({ where: { id }, select: { id: true, userId: true, kind: true } });
        if (!method) throw new NotFoundError('auth method');
        if (!(await store.deleteAuthMethod(tx, id))) throw new NotFoundError('auth method');
        if (method.kind === 'BACKUP_CODES') await store.deleteBackupCodesOfUser(tx, method.userId);
        if (method.kind === 'PASSWORD') await store.clearPasswordFactsOfUser(tx, method.userId);
        const purpose = pendingCodePurpose[method.kind];
        if (purpose) await store.deleteOneTimeCodesOfUser(tx, method.userId, purpose);
        await outbox.record(tx, authMethodRemoved(method), meta);
        return method;
      });
      return removed;
    },
  };
}
