/**
 * The OTP module's writes: the OTP_SMS / OTP_EMAIL auth methods. A factor is
 * a singleton per user and kind by its unique `slot`; the codes themselves
 * live in the codes module, never on the factor.
 */
import type { Db, Tx } from '../../kernel/db/client.js';
import type { AuthMethod } from '../../kernel/db/models.js';
import { authMethodSlot, newAuthMethodId } from '../auth-methods/kinds.js';

export type OtpFactorKind = 'OTP_SMS' | 'OTP_EMAIL';

export type OtpStore = ReturnType<typeof createOtpStore>;

export function createOtpStore(deps: { db: Db }) {
  const { db } = deps;
  return {
    /**
     * Inserts the user's factor of this kind, inside the caller's transaction.
     * A second one of the same kind fails with a unique violation on the slot
     * (P2002): that, not a read before, is what holds under races.
     */
    insertOtpFactor(tx: Tx, userId: string, kind: OtpFactorKind): Promise<AuthMethod> {
      return tx.authMethod.create({
        data: { id: newAuthMethodId(kind), userId, kind, slot: authMethodSlot(userId, kind), verified: true },
      });
    },

    /** Writes the factor's lastUsedAt; false when the factor is gone. */
    async markOtpFactorUsed(methodId: string, now: Date): Promise<boolean> {
      const { count } = await db.authMethod.updateMany({ where: { id: methodId }, data: { lastUsedAt: now } });
      return count > 0;
    },
  };
}
