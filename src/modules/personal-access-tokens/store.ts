/**
 * Personal access tokens' writes. A row holds only the SHA-256 of the token.
 * `activeName` is the name while the token is not revoked: the unique index
 * on (userId, activeName) keeps names unique among a user's live tokens, under
 * concurrency too, and frees a name once its token is revoked.
 */
import type { Db, Tx } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
import type { PersonalAccessToken } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';

export interface NewPersonalAccessToken {
  userId: string;
  name: string;
  secretHash: string;
  start: string;
  /** Scope names separated by spaces. */
  scopes: string;
  expiresAt: Date | null;
  createdAt: Date;
}

export type PersonalAccessTokenStore = ReturnType<typeof createPersonalAccessTokenStore>;

/** Every request with a personal access token: its lookup with its user's state, and the (rare) use stamp. */
export const PERSONAL_ACCESS_TOKEN_SQL = {
  bySecretHash: `SELECT t."id", t."userId", t."scopes", t."expiresAt", t."lastUsedAt", t."revokedAt", u."state", u."lockedUntil"
    FROM "PersonalAccessToken" t JOIN "User" u ON u."id" = t."userId" WHERE t."secretHash" = ?`,
  stampUsed: 'UPDATE "PersonalAccessToken" SET "lastUsedAt" = ? WHERE "id" = ?',
} as const;

/** A presented token as its check reads it. */
export interface PresentedPersonalAccessToken {
  id: string;
  userId: string;
  scopes: string;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  user: { state: string; lockedUntil: Date | null };
}

export function createPersonalAccessTokenStatements(direct: DirectSql) {
  return {
    /** The token whose secret has this SHA-256, with its user's state; null when none. */
    async findBySecretHash(hash: string): Promise<PresentedPersonalAccessToken | null> {
      type Row = Omit<PresentedPersonalAccessToken, 'user'> & { state: string; lockedUntil: Date | null };
      const [r] = await direct.all<Row>(PERSONAL_ACCESS_TOKEN_SQL.bySecretHash, [hash], { dates: ['expiresAt', 'lastUsedAt', 'revokedAt', 'lockedUntil'] });
      if (!r) return null;
      const { state, lockedUntil, ...token } = r;
      return { ...token, user: { state, lockedUntil } };
    },
    /** Records that a token was just used (nothing when it is gone meanwhile). */
    async stampUsed(id: string, at: Date): Promise<void> {
      await direct.run(PERSONAL_ACCESS_TOKEN_SQL.stampUsed, [at, id]);
    },
  };
}

export function createPersonalAccessTokenStore(deps: { db: Db }) {
  const { db } = deps;

  return {
    /** Stores a new token; a name the user's live tokens hold already fails with a unique violation (P2002). */
    insertPersonalAccessToken(tx: Tx, token: NewPersonalAccessToken): Promise<PersonalAccessToken> {
      return tx.personalAccessToken.create({ data: { id: newId('PersonalAccessToken'), activeName: token.name, ...token } });
    },

    /** Revokes a token unless it already is; the revoked row, or null when there is no such live token. */
    async revokePersonalAccessTokenIfActive(tx: Tx, id: string, at: Date): Promise<PersonalAccessToken | null> {
      const { count } = await tx.personalAccessToken.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at, activeName: null } });
      return count === 1 ? tx.personalAccessToken.findUnique({ where: { id } }) : null;
    },
  };
}
