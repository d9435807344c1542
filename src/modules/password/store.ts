/**
 * The password module's writes: the PASSWORD auth method (a singleton per
 * user by its `slot`, `secret` holding the hash) and the password facts on
 * the user. Each runs inside the caller's transaction, where the service
 * records the event; the rules (hashing, policy, when to rehash) stay in the
 * service.
 */
import type { Tx } from '../../kernel/db/client.js';
import type { Statement } from '../../kernel/db/direct.js';
import type { User } from '../../kernel/db/models.js';
import { authMethodSlot, newAuthMethodId } from '../auth-methods/kinds.js';

export type PasswordStore = ReturnType<typeof createPasswordStore>;

export function createPasswordStore() {
  const slotOf = (userId: string) => authMethodSlot(userId, 'PASSWORD');
  return {
    /** Stores the hash as the user's one PASSWORD method: created the first time, replaced after. */
    async savePasswordHash(tx: Tx, userId: string, hash: string, now: Date): Promise<void> {
      await tx.authMethod.upsert({
        where: { slot: slotOf(userId) },
        create: { id: newAuthMethodId('PASSWORD'), userId, kind: 'PASSWORD', slot: slotOf(userId), verified: true, secret: hash, createdAt: now },
        update: { secret: hash, updatedAt: now },
      });
    },

    /** Records on the user that the password changed now (which also clears the failed-password counter). */
    markPasswordChanged(tx: Tx, userId: string, mustChange: boolean, now: Date): Promise<User> {
      return tx.user.update({
        where: { id: userId },
        data: { passwordChangedAt: now, passwordMustChange: mustChange, failedPasswordAttempts: 0 },
      });
    },

    /**
     * Writes the method's lastUsedAt and, with `rehash`, replaces its hash in
     * the same statement, conditional on the hash still being `rehash.from`
     * (a password set meanwhile wins over our upgrade of the old one; then
     * nothing is written). Resolves with whether the row was written.
     */
    /** markPasswordUsed without a rehash, as a statement to commit with the verification's event (lockout's succeeded). */
    markPasswordUsedStatement(methodId: string, now: Date): Statement {
      return { sql: 'UPDATE "AuthMethod" SET "lastUsedAt" = ?, "updatedAt" = ? WHERE "id" = ?', params: [now, now, methodId] };
    },

    async markPasswordUsed(tx: Tx, methodId: string, now: Date, rehash?: { from: string; to: string }): Promise<boolean> {
      const { count } = await tx.authMethod.updateMany({
        where: { id: methodId, ...(rehash ? { secret: rehash.from } : {}) },
        data: { lastUsedAt: now, ...(rehash ? { secret: rehash.to } : {}) },
      });
      return count === 1;
    },
  };
}
