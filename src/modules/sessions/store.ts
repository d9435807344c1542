/**
 * The sessions module's writes: sessions, their refresh tokens, and the
 * signing keys with the pointer to the current one. Every conditional
 * write returns whether it changed a row, so the services can tell who won a
 * race (a reused refresh token, a parallel revocation or rotation). Writes
 * that go with an event take the caller's transaction, where the event is
 * recorded.
 */
import type { Db, Tx } from '../../kernel/db/client.js';
import type { DirectSql, Statement } from '../../kernel/db/direct.js';
import type { AuthMethodKind, SigningKey, User } from '../../kernel/db/models.js';
import { USER_COLUMNS, USER_ROW } from '../../kernel/db/rows.js';
import { kindLiterals } from '../auth-methods/kinds.js';
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

    /** Whether the user holds a verified auth method of one of `kinds`. */
    async holdsVerified(tx: Tx, userId: string, kinds: readonly AuthMethodKind[]): Promise<boolean> {
      return (await tx.authMethod.findFirst({ where: { userId, verified: true, kind: { in: [...kinds] } }, select: { id: true } })) !== null;
    },

    /** Records a user's last sign-in and its device. */
    async stampUserLogin(tx: Tx, userId: string, at: Date, device: string | null): Promise<void> {
      await tx.user.update({ where: { id: userId }, data: { lastLoginAt: at, lastLoginDevice: device } });
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

/** A refresh token as presented: its row, its session, and whether the session's user may act. */
export interface PresentedRefreshToken {
  id: string;
  usedAt: Date | null;
  session: {
    id: string;
    userId: string;
    revokedAt: Date | null;
    revokedReason: string | null;
    expiresAt: Date;
    organizationId: string | null;
    user: { state: string; lockedUntil: Date | null };
  };
}

/** A session as an access token's check reads it. */
export interface SessionCheck {
  userId: string;
  revokedAt: Date | null;
  expiresAt: Date;
  lastSeenAt: Date;
  user: { state: string; lockedUntil: Date | null };
}

/** The id of the current signing key, read along with the sign-in stamp (its one parameter: CURRENT_KEY). */
const CURRENT_KEY_ID = '(SELECT "value" FROM "SystemState" WHERE "key" = ?) AS "signingKeyId"';

/**
 * The statements of every sign-in, refresh and access-token check, straight
 * to the driver (src/kernel/db/direct.ts explains why). Exported as text so
 * the benchmark's bare handlers run exactly these.
 */
export const SESSION_SQL = {
  refreshToken: `SELECT r."id", r."usedAt", s."id" AS "sessionId", s."userId", s."revokedAt", s."revokedReason", s."expiresAt", s."organizationId", u."state", u."lockedUntil"
    FROM "RefreshToken" r JOIN "Session" s ON s."id" = r."sessionId" JOIN "User" u ON u."id" = s."userId" WHERE r."tokenHash" = ?`,
  consumeRefreshToken: 'UPDATE "RefreshToken" SET "usedAt" = ? WHERE "id" = ? AND "usedAt" IS NULL',
  insertRefreshToken: 'INSERT INTO "RefreshToken" ("id", "sessionId", "tokenHash", "createdAt") VALUES (?, ?, ?, ?)',
  markRefreshed: 'UPDATE "Session" SET "lastSeenAt" = ?, "ip" = COALESCE(?, "ip"), "organizationId" = ? WHERE "id" = ?',
  session: `SELECT s."userId", s."revokedAt", s."expiresAt", s."lastSeenAt", u."state", u."lockedUntil" FROM "Session" s JOIN "User" u ON u."id" = s."userId" WHERE s."id" = ?`,
  /** The same check with every column of the user (none of whose names a session column shares): an access token's request reads its caller once. */
  sessionWithUser: `SELECT s."userId", s."revokedAt", s."expiresAt", s."lastSeenAt", ${USER_COLUMNS.replace(/"(\w+)"/g, 'u."$1"')} FROM "Session" s JOIN "User" u ON u."id" = s."userId" WHERE s."id" = ?`,
  stampSeen: 'UPDATE "Session" SET "lastSeenAt" = ? WHERE "id" = ? AND "revokedAt" IS NULL',
  /** The sign-in stamp, only while the user is active: the condition a new session commits under. */
  stampActiveUserLogin: `UPDATE "User" SET "lastLoginAt" = ?, "lastLoginDevice" = ?, "updatedAt" = ? WHERE "id" = ? AND "state" = 'ACTIVE' RETURNING "passwordMustChange", ${CURRENT_KEY_ID}`,
  /**
   * The same, also only while the user holds no verified auth method of
   * `kinds` (a password sign-in that found no second factor: one enrolled
   * since must be asked for).
   */
  stampActiveUserLoginWithout: (kinds: readonly AuthMethodKind[]) =>
    `UPDATE "User" SET "lastLoginAt" = ?, "lastLoginDevice" = ?, "updatedAt" = ? WHERE "id" = ? AND "state" = 'ACTIVE'
    AND NOT EXISTS (SELECT 1 FROM "AuthMethod" WHERE "userId" = "User"."id" AND "verified" AND "kind" IN (${kindLiterals(kinds)})) RETURNING "passwordMustChange", ${CURRENT_KEY_ID}`,
  insertSession: `INSERT INTO "Session" ("id", "userId", "device", "ip", "userAgent", "createdAt", "authenticatedAt", "lastSeenAt", "expiresAt", "organizationId")
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  currentSigningKey: `SELECT k."id", k."alg", k."privateKeyEncrypted" FROM "SystemState" c JOIN "SigningKey" k ON k."id" = c."value" WHERE c."key" = ?`,
} as const;

const PRESENTED_ROW = { dates: ['usedAt', 'revokedAt', 'expiresAt', 'lockedUntil'] } as const;
const SESSION_ROW = { dates: ['revokedAt', 'expiresAt', 'lastSeenAt', 'lockedUntil'] } as const;
const SESSION_USER_ROW = { ...USER_ROW, dates: [...USER_ROW.dates, 'revokedAt', 'expiresAt', 'lastSeenAt'] } as const;

/** The hot statements of sessions (SESSION_SQL), on the driver. */
export function createSessionStatements(direct: DirectSql) {
  return {
    /** A refresh token by its hash, with its session and the session's user; null when unknown. */
    async findRefreshToken(hash: string): Promise<PresentedRefreshToken | null> {
      type Row = { id: string; usedAt: Date | null; sessionId: string; userId: string; revokedAt: Date | null; revokedReason: string | null; expiresAt: Date; organizationId: string | null; state: string; lockedUntil: Date | null };
      const [r] = await direct.all<Row>(SESSION_SQL.refreshToken, [hash], PRESENTED_ROW);
      if (!r) return null;
      return {
        id: r.id,
        usedAt: r.usedAt,
        session: { id: r.sessionId, userId: r.userId, revokedAt: r.revokedAt, revokedReason: r.revokedReason, expiresAt: r.expiresAt, organizationId: r.organizationId, user: { state: r.state, lockedUntil: r.lockedUntil } },
      };
    },

    /**
     * The rotation: consumes a refresh token unless it was already (of two
     * requests presenting it, one wins), and only then stores its successor
     * and marks the session refreshed, in one transaction. True when this
     * call consumed it.
     */
    rotateRefreshToken(used: { id: string; at: Date }, next: { id: string; sessionId: string; tokenHash: string }, session: { ip: string | null; organizationId: string | null }): Promise<boolean> {
      return direct.runIfChanged({ sql: SESSION_SQL.consumeRefreshToken, params: [used.at, used.id] }, [
        { sql: SESSION_SQL.insertRefreshToken, params: [next.id, next.sessionId, next.tokenHash, used.at] },
        { sql: SESSION_SQL.markRefreshed, params: [used.at, session.ip, session.organizationId, next.sessionId] },
      ]);
    },

    /** A session with its user's state, for an access token's check; null when there is none. */
    async findSession(sessionId: string): Promise<SessionCheck | null> {
      type Row = Omit<SessionCheck, 'user'> & { state: string; lockedUntil: Date | null };
      const [r] = await direct.all<Row>(SESSION_SQL.session, [sessionId], SESSION_ROW);
      return r ? { userId: r.userId, revokedAt: r.revokedAt, expiresAt: r.expiresAt, lastSeenAt: r.lastSeenAt, user: { state: r.state, lockedUntil: r.lockedUntil } } : null;
    },

    /** findSession, with the session's user as a row of every column (Prisma's shape): what an access token's request checks and may answer `me` with. */
    async findSessionWithUser(sessionId: string): Promise<{ check: SessionCheck; user: User } | null> {
      type Row = User & Pick<SessionCheck, 'userId' | 'revokedAt' | 'expiresAt' | 'lastSeenAt'>;
      const [r] = await direct.all<Row>(SESSION_SQL.sessionWithUser, [sessionId], SESSION_USER_ROW);
      if (!r) return null;
      const { userId, revokedAt, expiresAt, lastSeenAt, ...user } = r;
      return { check: { userId, revokedAt, expiresAt, lastSeenAt, user: { state: user.state, lockedUntil: user.lockedUntil } }, user };
    },

    /** Stamps a session as seen unless it was revoked (authenticated requests). */
    async stampSessionSeen(sessionId: string, at: Date): Promise<void> {
      await direct.run(SESSION_SQL.stampSeen, [at, sessionId]);
    },

    /**
     * Opens a session for a user who is still active: stamps the user's
     * sign-in, and only when that found the user active, stores the session,
     * its refresh token and `along` (the event), atomically (on PostgreSQL in
     * one statement). Resolves with the user's must-change flag and the
     * current signing key's id (null before the first key), read by the
     * stamp; null when the user was not active, or (with `unlessHolding`)
     * holds a verified auth method of those kinds (nothing is written).
     */
    async openSession(
      session: NewSession,
      refresh: { id: string; tokenHash: string },
      along: Statement[],
      unlessHolding?: readonly AuthMethodKind[],
    ): Promise<{ passwordMustChange: boolean; signingKeyId: string | null } | null> {
      const s = session;
      const stamp = unlessHolding?.length ? SESSION_SQL.stampActiveUserLoginWithout(unlessHolding) : SESSION_SQL.stampActiveUserLogin;
      const [stamped] = await direct.allIfChanged<{ passwordMustChange: boolean; signingKeyId: string | null }>(
        { sql: stamp, params: [s.createdAt, s.device, s.createdAt, s.userId, CURRENT_KEY] },
        [
          { sql: SESSION_SQL.insertSession, params: [s.id, s.userId, s.device, s.ip, s.userAgent, s.createdAt, s.authenticatedAt, s.lastSeenAt, s.expiresAt, s.organizationId] },
          { sql: SESSION_SQL.insertRefreshToken, params: [refresh.id, s.id, refresh.tokenHash, s.createdAt] },
          ...along,
        ],
        { booleans: ['passwordMustChange'] },
      );
      return stamped ?? null;
    },

    /** The current signing key's row (null before the first key). */
    async findCurrentSigningKey(): Promise<{ id: string; alg: string; privateKeyEncrypted: string } | null> {
      const [r] = await direct.all<{ id: string; alg: string; privateKeyEncrypted: string }>(SESSION_SQL.currentSigningKey, [CURRENT_KEY]);
      return r ?? null;
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
