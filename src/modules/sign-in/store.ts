/**
 * Sign-in's writes: MFA step-up challenges, stored by the hash of their
 * token and consumed by a conditional update, so one password check buys at
 * most one session.
 */
import type { Db } from '../../kernel/db/client.js';
import type { MfaChallenge } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';

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
