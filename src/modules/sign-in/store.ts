/**
 * Sign-in's writes: MFA step-up challenges, stored by the hash of their
 * token and consumed by a conditional update, so one password check buys at
 * most one session.
 */
import type { Db } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
import type { AuthMethodKind } from '../../kernel/db/models.js';
import type { MfaChallenge } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';
import { kindLiterals } from '../auth-methods/kinds.js';

export type SignInStore = ReturnType<typeof createSignInStore>;

export function createSignInStore(deps: { db: Db }) {
  const { db } = deps;

  return {
    async insertMfaChallenge(challenge: Omit<MfaChallenge, 'id' | 'consumedAt'>): Promise<void> {
      await db.mfaChallenge.create({ data: { id: newId('MfaChallenge'), ...challenge } });
    },

    /**
     * Consumes a challenge while it is unconsumed and unexpired at `at`; true
     * when this call consumed it. Of two requests racing with the same
     * token, exactly one gets true.
     */
    async consumeMfaChallengeIfLive(id: string, at: Date): Promise<boolean> {
      const { count } = await db.mfaChallenge.updateMany({
        where: { id, consumedAt: null, expiresAt: { gt: at } },
        data: { consumedAt: at },
      });
      return count === 1;
    },
  };
}

/** Every sign-in's reads, straight to the driver (src/kernel/db/direct.ts explains why). */
export const SIGN_IN_SQL = {
  verifiedKinds: (kinds: readonly AuthMethodKind[]) => `SELECT "kind" FROM "AuthMethod" WHERE "userId" = ? AND "verified" AND "kind" IN (${kindLiterals(kinds)})`,
};

export function createSignInStatements(direct: DirectSql) {
  return {
    /** The kinds of a user's verified methods among `kinds`. */
    async verifiedKinds(userId: string, kinds: readonly AuthMethodKind[]): Promise<AuthMethodKind[]> {
      const rows = await direct.all<{ kind: AuthMethodKind }>(SIGN_IN_SQL.verifiedKinds(kinds), [userId]);
      return rows.map((r) => r.kind);
    },
  };
}
