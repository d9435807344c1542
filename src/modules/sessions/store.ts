/**
 * The sessions module's writes: sessions, their refresh tokens, and the
 * signing keys with the pointer to the current one. Every conditional
 * write returns whether it changed a row, so the services can tell who won a
 * race (a reused refresh token, a parallel revocation or rotation). Writes
 * that go with an event take the caller's transaction, where the event is
 * recorded.
 */
import type { Db, Tx } from '../../kernel/db/client.js';
import type { SigningKey } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';

/** The `where` of live sessions: not revoked, not expired at `now`. */
export function liveSessionsWhere(now: Date) {
  return { revokedAt: null, expiresAt: { gt: now } };
}

/** A session as opened. */
export interface NewSession {
  id: string;
  userId: string;
  device: string | null;
  ip: string | null;
  userAgent: string | null;
  createdAt: Date;
  authenticatedAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  /** The organization its access tokens speak for. */
  organizationId: string | null;
}

export type SessionStore = ReturnType<typeof createSessionStore>;

export function createSessionStore(deps: { db: Db }) {
  const { db } = deps;

  return {
    async insertSession(tx: Tx, session: NewSession): Promise<void> {
      await tx.session.create({ data: session });
    },

    /** Stores a refresh token of a session by its hash. */
    async insertRefreshToken(tx: Tx, token: { sessionId: string; tokenHash: string; createdAt: Date }): Promise<void> {
      await tx.refreshToken.create({ data: { id: newId('RefreshToken'), ...token } });
    },

    /** Records a user's last sign-in and its device. */
    async stampUserLogin(tx: Tx, userId: string, at: Date, device: string | null): Promise<void> {
      await tx.user.update({ where: { id: userId }, data: { lastLoginAt: at, lastLoginDevice: device } });
    },

    /**
     * Marks a refresh token used unless it was already: the conditional
     * consume. Of two requests presenting the same token, one gets true.
     */
    async consumeRefreshTokenOnce(tx: Tx, id: string, at: Date): Promise<boolean> {
      const { count } = await tx.refreshToken.updateMany({ where: { id, usedAt: null }, data: { usedAt: at } });
      return count === 1;
    },

    /** A refresh of a session: it was seen now, from `ip` when the request names one. */
    async markSessionRefreshed(tx: Tx, sessionId: string, at: Date, ip: string | null, change: { organizationId?: string | null } = {}): Promise<void> {
      await tx.session.update({ where: { id: sessionId }, data: { lastSeenAt: at, ...(ip ? { ip } : {}), ...change } });
    },

    /** Stamps a session as seen unless it was revoked (authenticated requests). */
    async stampSessionSeen(sessionId: string, at: Date): Promise<void> {
      await db.session.updateMany({ where: { id: sessionId, revokedAt: null }, data: { lastSeenAt: at } });
    },

    /** Marks a session revoked unless it already is; true when this call revoked it. */
    async revokeSessionOnce(tx: Tx, sessionId: string, reason: string, at: Date): Promise<boolean> {
      const { count } = await tx.session.updateMany({
        where: { id: sessionId, revokedAt: null },
        data: { revokedAt: at, revokedReason: reason },
      });
      return count === 1;
    },

    /** The live sessions of a user at `now`, except one. */
    findLiveSessions(tx: Tx, userId: string, now: Date, exceptSessionId?: string): Promise<Array<{ id: string; userId: string }>> {
      return tx.session.findMany({
        where: { userId, ...liveSessionsWhere(now), ...(exceptSessionId ? { id: { not: exceptSessionId } } : {}) },
        select: { id: true, userId: true },
      });
    },

    /** Stamps a live session of this user as having just proved a factor; false when it is not live. */
    async markSessionReauthenticated(tx: Tx, sessionId: string, userId: string, at: Date): Promise<boolean> {
      const { count } = await tx.session.updateMany({
        where: { id: sessionId, userId, ...liveSessionsWhere(at) },
        data: { authenticatedAt: at, lastSeenAt: at },
      });
      return count === 1;
    },
  };
}

/** SystemState key holding the id of the key that signs new tokens. */
export const CURRENT_KEY = 'signing_key.current';

/** A new signing key's row. */
export type NewSigningKey = Pick<SigningKey, 'id' | 'alg' | 'privateKeyEncrypted' | 'createdAt'> & { publicJwk: object };

export type SigningKeyStore = ReturnType<typeof createSigningKeyStore>;

export function createSigningKeyStore(deps: { db: Db }) {
  const { db } = deps;

  return {
    /** The id of the current key, or null before the first key. */
    async findCurrentKeyId(): Promise<string | null> {
      const state = await db.systemState.findUnique({ where: { key: CURRENT_KEY } });
      return state?.value ?? null;
    },

    async insertSigningKey(tx: Tx, key: NewSigningKey): Promise<void> {
      await tx.signingKey.create({ data: key });
    },

    /**
     * Makes the first key current. The conditional part: the pointer row's
     * primary key lets only one instance create it (the others get a unique
     * violation).
     */
    async insertCurrentKeyPointer(tx: Tx, kid: string): Promise<void> {
      await tx.systemState.create({ data: { key: CURRENT_KEY, value: kid } });
    },

    /** Makes key `to` current if key `from` still is; false when another rotation moved it first. */
    async moveCurrentKeyPointer(tx: Tx, from: string, to: string): Promise<boolean> {
      const { count } = await tx.systemState.updateMany({ where: { key: CURRENT_KEY, value: from }, data: { value: to } });
      return count === 1;
    },

    /** Retires a key unless it was retired already. */
    async retireSigningKey(tx: Tx, kid: string, at: Date): Promise<void> {
      await tx.signingKey.updateMany({ where: { id: kid, retiredAt: null }, data: { retiredAt: at } });
    },
  };
}
