/**
 * The writes of the one removal path for auth methods: the method itself,
 * and what dies with it (backup codes, the password facts on the user, a
 * factor's pending one-time code). Each runs inside the caller's transaction;
 * which of them a removal needs is the service's rule.
 */
import type { Tx } from '../../kernel/db/client.js';

export type AuthMethodStore = ReturnType<typeof createAuthMethodStore>;

export function createAuthMethodStore() {
  return {
    /** Deletes an auth method; false when there was none. */
    async deleteAuthMethod(tx: Tx, id: string): Promise<boolean> {
      // deleteMany: a concurrent removal makes this one a clean "not found".
      const { count } = await tx.authMethod.deleteMany({ where: { id } });
      return count > 0;
    },

    /** Deletes every backup code of the user, used or not. */
    async deleteBackupCodesOfUser(tx: Tx, userId: string): Promise<void> {
      await tx.backupCode.deleteMany({ where: { userId } });
    },

    /** Clears what the user row says about a password: when it changed, must-change, failed attempts. */
    async clearPasswordFactsOfUser(tx: Tx, userId: string): Promise<void> {
      await tx.user.update({ where: { id: userId }, data: { passwordChangedAt: null, passwordMustChange: false, failedPasswordAttempts: 0 } });
    },

    /** Deletes the user's one-time code for `purpose`, if any. */
    async deleteOneTimeCodesOfUser(tx: Tx, userId: string, purpose: string): Promise<void> {
      await tx.oneTimeCode.deleteMany({ where: { userId, purpose } });
    },
  };
}
