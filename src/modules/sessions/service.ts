/**
 * Sessions: a signed-in device. Each session has short-lived access tokens
 * (JWTs signed with the gateway's current key, verifiable by anyone holding
 * the JWKS) and one live refresh token (opaque, stored as a SHA-256 hash,
 * replaced on every use).
 *
 * Theft detection (OAuth 2.0 Security BCP, refresh token rotation): a refresh
 * token is consumed by a conditional update; presenting one that was already
 * used means two parties hold it, so the whole session is revoked (reason
 * `refresh_token_reused`), `user.refresh_token_reused` is recorded, and the
 * answer is RefreshTokenReusedError, as it is for any later refresh of that
 * session. A legitimate client that lost the answer to a refresh must sign in
 * again.
 *
 * Each access token carries a unique `jti`, so a receiver can tell two tokens
 * apart (denylists, replay caches, logs) even when they were issued in the
 * same second for the same session.
 *
 * Revocation: access tokens are checked against their session row on every
 * request (`authenticateAccessToken`), so logout and revocation stop access
 * tokens and refresh tokens at once, not only at expiry, on every instance.
 * That check, the refresh and the opening of a session are prepared
 * statements straight to the driver (SESSION_SQL in store.ts): one read per
 * authenticated request, one transaction per refresh or sign-in.
 */
import { SignJWT, errors as joseErrors, jwtVerify, type JWTHeaderParameters } from 'jose';
import type { Db, Tx } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
import type { AuthMethodKind, User } from '../../kernel/db/models.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import { newId, newTokenId, randomSecret } from '../../kernel/ids.js';
import type { Clock } from '../../kernel/clock.js';
import { assertThat, NotFoundError, UserInactiveError, UserLockedError, UserNotFoundError } from '../../kernel/errors.js';
import { InvalidTokenError, NotAMemberError, ReauthenticationRequiredError, RefreshTokenReusedError, SecondFactorHeldError } from './errors.js';
import type { SessionRevokedReason } from './events.js';
import type { SigningKeyService } from './signing-keys.js';
import { tokenHash } from '../../kernel/crypto.js';
import { createSessionStatements, createSessionStore, liveSessionsWhere as liveSessionsWhereAt } from './store.js';

export interface TokenPolicy {
  issuer: string;
  audience: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  /** How recently a session must have proved a factor for its user to change their own credentials. */
  reauthMaxAgeSeconds: number;
}

/** Where a session was opened from. */
export interface SessionDevice {
  /** A readable name ("Ada's iPhone"); default: the user agent. */
  name?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

export interface SessionTokens {
  userId: string;
  sessionId: string;
  accessToken: string;
  /** When the access token expires. */
  expiresAt: Date;
  refreshToken: string;
  /** When the session ends unless revoked before. */
  sessionExpiresAt: Date;
}

/** How the user proved who they are, for the user.logged_in event (idp: an external identity provider). */
export type LoginMethod = 'password' | 'totp' | 'backup_code' | 'otp_sms' | 'otp_email' | 'passkey' | 'idp';

const REFRESH_PREFIX = 'pcr_';
/** lastSeenAt is written at most this often per session, so authenticated reads do not all become writes. */
const LAST_SEEN_RESOLUTION_MS = 60_000;
const MAX_DEVICE_LENGTH = 200;

const clip = (value: string | null | undefined) => (value ? value.slice(0, MAX_DEVICE_LENGTH) : null);

/**
 * The claims an access token carries for a user besides the standard ones
 * (organization context, roles); null when `organizationId` names an
 * organization the user is not a member of. The organizations module
 * provides it (services.ts).
 */
export type ClaimsProvider = (userId: string, organizationId: string | null) => Promise<Record<string, unknown> | null>;

const noClaims: ClaimsProvider = async (_userId, organizationId) => (organizationId ? null : {});

/**
 * Several claims providers as one (organization and role claims, metadata
 * claims…): their claims merged in order, or null when any of them says the
 * user is not a member of the organization.
 */
export function composeClaims(...providers: ClaimsProvider[]): ClaimsProvider {
  return async (userId, organizationId) => {
    const all = await Promise.all(providers.map((provider) => provider(userId, organizationId)));
    return all.some((claims) => claims === null) ? null : Object.assign({}, ...all);
  };
}

/**
 * Told of every sign-in and refresh, after it committed (the statistics
 * module counts active users; services.ts). Must be cheap and must not throw.
 */
export type ActivityHook = (userId: string, at: Date) => Promise<void>;

export type SessionService = ReturnType<typeof createSessionService>;

/** What credential services need of sessions: the recent-authentication rule. */
export type ReauthGuard = Pick<SessionService, 'assertRecentAuthentication'>;

/** Whether a user may act (hold a session, use a personal access token): active, or locked by a policy lock that has ended. */
export function userMayAct(user: { state: string; lockedUntil: Date | null }, now: Date): boolean {
  if (user.state === 'ACTIVE') return true;
  return user.state === 'LOCKED' && user.lockedUntil !== null && user.lockedUntil <= now;
}

export function createSessionService(deps: {
  db: Db;
  /** The hot statements (sign-in, refresh, access-token checks) go straight to the driver. */
  direct: DirectSql;
  clock: Clock;
  outbox: Outbox;
  signingKeys: SigningKeyService;
  policy: TokenPolicy;
  claims?: ClaimsProvider;
  activity?: ActivityHook;
}) {
  const { db, clock, outbox, signingKeys, policy } = deps;
  const claimsFor = deps.claims ?? noClaims;
  const activity = deps.activity ?? (async () => {});
  const store = createSessionStore(deps);
  const statements = createSessionStatements(deps.direct);
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

  /** `currentKid`: the current key's id, when the caller's statement just read it. */
  async function signAccessToken(userId: string, sessionId: string, now: Date, claims: Record<string, unknown>, currentKid?: string | null): Promise<{ token: string; expiresAt: Date }> {
    const current = await signingKeys.currentSigningKey(currentKid);
    const iat = seconds(now);
    const exp = iat + policy.accessTtlSeconds;
    const header: JWTHeaderParameters = { alg: current.alg, kid: current.kid, typ: 'at+jwt' };
    const token = await new SignJWT({ ...claims, sid: sessionId })
      .setProtectedHeader(header)
      .setSubject(userId)
      .setIssuer(policy.issuer)
      .setAudience(policy.audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(newTokenId())
      .sign(current.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** A new refresh token for a session, stored as its hash; returned in the clear, once. */
  async function issueRefreshToken(tx: Tx, sessionId: string, now: Date): Promise<string> {
    const token = `${REFRESH_PREFIX}${randomSecret(32)}`;
    await store.insertRefreshToken(tx, { sessionId, tokenHash: tokenHash(token), createdAt: now });
    return token;
  }

  /** Marks a session revoked (once) and records user.session_revoked; true when this call revoked it. */
  async function revokeInTx(tx: Tx, session: { id: string; userId: string }, reason: SessionRevokedReason, meta: RequestMeta): Promise<boolean> {
    const revoked = await store.revokeSessionOnce(tx, session.id, reason, clock.now());
    if (revoked) {
      await outbox.record(tx, { type: 'user.session_revoked', userId: session.userId, data: { sessionId: session.id, reason } }, meta);
    }
    return revoked;
  }

  /**
   * Revokes every live session of a user inside the caller's transaction (a
   * password change commits with the sessions it ends), except one; records
   * user.session_revoked for each. Returns how many.
   */
  async function revokeAllInTx(tx: Tx, userId: string, reason: SessionRevokedReason, meta: RequestMeta, exceptSessionId?: string): Promise<number> {
    const live = await store.findLiveSessions(tx, userId, clock.now(), exceptSessionId);
    let revoked = 0;
    for (const s of live) if (await revokeInTx(tx, s, reason, meta)) revoked++;
    return revoked;
  }

  /** A user may hold sessions only while active; a policy lock whose time is up no longer counts. */
  const userCanHoldSession = (user: { state: string; lockedUntil: Date | null }) => userMayAct(user, clock.now());

  return {
    /**
     * Opens a session for a user who has just proved who they are (password
     * login, MFA, or a passkey assertion) and returns its first tokens.
     * Updates lastLoginAt / lastLoginDevice and records user.logged_in.
     * With `organizationId` the session speaks for that organization (its
     * access tokens carry org_id, org_roles and permissions); throws
     * NotAMemberError, opening nothing, when the user is not a member.
     * `identityProviderId`: the provider of an idp sign-in, recorded with it.
     * `unlessHolding`: open only while the user holds no verified auth method
     * of these kinds, checked by the statement that opens it; else throws
     * SecondFactorHeldError, opening nothing (a password sign-in that read
     * no second factor before the hash: one enrolled since is asked for).
     */
    async createSession(
      userId: string,
      device: SessionDevice,
      meta: RequestMeta,
      method: LoginMethod = 'password',
      organizationId: string | null = null,
      details: { identityProviderId?: string; unlessHolding?: readonly AuthMethodKind[] } = {},
    ): Promise<SessionTokens & { passwordMustChange: boolean }> {
      const { unlessHolding, ...recorded } = details;
      const claims = await claimsFor(userId, organizationId);
      if (!claims) throw new NotAMemberError(organizationId!);
      const now = clock.now();
      const sessionId = newId('Session');
      const sessionExpiresAt = new Date(now.getTime() + policy.refreshTtlSeconds * 1000);
      const name = clip(device.name ?? device.userAgent);
      const session = { id: sessionId, userId, device: name, ip: clip(device.ip), userAgent: clip(device.userAgent), createdAt: now, authenticatedAt: now, lastSeenAt: now, expiresAt: sessionExpiresAt, organizationId };
      const loggedIn = { type: 'user.logged_in' as const, userId, data: { sessionId, method, device: name, ...recorded } };
      // The usual case, straight to the driver: the sign-in stamp is conditional on the user still
      // being active (and reads the must-change flag), and the session, its refresh token and the
      // event commit only with it.
      const token = `${REFRESH_PREFIX}${randomSecret(32)}`;
      const event = outbox.statement(loggedIn, meta);
      const opened = await statements.openSession(session, { id: newId('RefreshToken'), tokenHash: tokenHash(token) }, [event], unlessHolding);
      let refreshToken = token;
      let passwordMustChange = opened?.passwordMustChange ?? false;
      // Not active: a policy lock whose time is up opens here, in a Prisma transaction; anything else is
      // refused, and so is a user who holds a factor named by `unlessHolding`.
      if (!opened) {
        ({ refreshToken, passwordMustChange } = await db.$transaction(async (tx) => {
          const current = await tx.user.findUnique({ where: { id: userId }, select: { state: true, lockedUntil: true, passwordMustChange: true } });
          if (!current) throw new NotFoundError('user');
          if (!userCanHoldSession(current)) throw current.state === 'INACTIVE' ? new UserInactiveError() : new UserLockedError(current.lockedUntil);
          if (unlessHolding?.length && (await store.holdsVerified(tx, userId, unlessHolding))) throw new SecondFactorHeldError();
          await store.insertSession(tx, session);
          const token = await issueRefreshToken(tx, sessionId, now);
          await store.stampUserLogin(tx, userId, now, name);
          await outbox.record(tx, loggedIn, meta);
          return { refreshToken: token, passwordMustChange: current.passwordMustChange };
        }));
      }
      outbox.committed({ notified: opened !== null && event.notified });
      await activity(userId, now);
      // The statement that opened the session also read which key is current.
      const access = await signAccessToken(userId, sessionId, now, claims, opened?.signingKeyId);
      return { userId, sessionId, accessToken: access.token, expiresAt: access.expiresAt, refreshToken, sessionExpiresAt, passwordMustChange };
    },

    /**
     * Exchanges a refresh token for a new access token and a new refresh
     * token. Throws RefreshTokenReusedError for a token that was already
     * used (which revokes the session) and for any token of a session revoked
     * that way; InvalidTokenError for an unknown, expired or otherwise revoked
     * one; UserLockedError or UserInactiveError when the user may not act.
     *
     * The new access token speaks for the session's organization, read
     * afresh (roles changed since show now). `organizationId` switches it
     * (null: to none) and throws NotAMemberError, spending nothing, when the
     * user is not a member; a session whose user has left its organization
     * goes on without one.
     */
    async refreshSession(refreshToken: string, meta: RequestMeta, options: { organizationId?: string | null } = {}): Promise<SessionTokens> {
      const now = clock.now();
      const row = refreshToken.startsWith(REFRESH_PREFIX) ? await statements.findRefreshToken(tokenHash(refreshToken)) : null;
      if (!row) throw new InvalidTokenError('refresh token');
      const { session } = row;
      if (session.revokedAt) throw session.revokedReason === 'refresh_token_reused' ? new RefreshTokenReusedError() : new InvalidTokenError('refresh token');
      if (session.expiresAt <= now) throw new InvalidTokenError('refresh token');

      const reused = async () => {
        const revoked = await db.$transaction(async (tx) => {
          const done = await revokeInTx(tx, session, 'refresh_token_reused', meta);
          if (done) await outbox.record(tx, { type: 'user.refresh_token_reused', userId: session.userId, data: { sessionId: session.id } }, meta);
          return done;
        });
        if (revoked) outbox.committed();
        // Revoked here or by the racing request that also saw the reuse: the answer says why either way.
        return new RefreshTokenReusedError();
      };
      if (row.usedAt) throw await reused();
      if (!userCanHoldSession(session.user)) {
        throw session.user.state === 'INACTIVE' ? new UserInactiveError() : new UserLockedError(session.user.lockedUntil);
      }
      const switching = options.organizationId !== undefined;
      let organizationId = switching ? options.organizationId! : session.organizationId;
      let claims = await claimsFor(session.userId, organizationId);
      if (!claims && switching) throw new NotAMemberError(organizationId!);
      if (!claims) claims = (await claimsFor(session.userId, (organizationId = null)))!;

      // The conditional consume: of two requests presenting the same token, one wins; the successor commits with it.
      const next = `${REFRESH_PREFIX}${randomSecret(32)}`;
      const consumed = await statements.rotateRefreshToken(
        { id: row.id, at: now },
        { id: newId('RefreshToken'), sessionId: session.id, tokenHash: tokenHash(next) },
        { ip: meta.ip ? clip(meta.ip) : null, organizationId },
      );
      if (!consumed) throw await reused();
      await activity(session.userId, now);
      const access = await signAccessToken(session.userId, session.id, now, claims);
      return { userId: session.userId, sessionId: session.id, accessToken: access.token, expiresAt: access.expiresAt, refreshToken: next, sessionExpiresAt: session.expiresAt };
    },

    /**
     * The caller an access token names, or null when the token is not ours,
     * is expired, or its session is revoked, expired or belongs to a user who
     * may not act. Never throws on a bad token.
     */
    async authenticateAccessToken(token: string): Promise<{ userId: string; sessionId: string; user: User } | null> {
      let payload;
      try {
        ({ payload } = await jwtVerify(
          token,
          async (header) => {
            const found = header.kid ? await signingKeys.verificationKey(header.kid) : null;
            if (!found || found.alg !== header.alg) throw new joseErrors.JWKSNoMatchingKey();
            return found.key;
          },
          { issuer: policy.issuer, audience: policy.audience, algorithms: ['EdDSA', 'ES256'], currentDate: clock.now(), typ: 'at+jwt' },
        ));
      } catch {
        return null;
      }
      const userId = payload.sub;
      const sessionId = payload.sid;
      if (typeof userId !== 'string' || typeof sessionId !== 'string') return null;
      // Every request: revocation, expiry and the user's state stop the token at once, on every instance.
      // The user's row comes with it: `me` answers with it rather than reading the user again.
      const found = await statements.findSessionWithUser(sessionId);
      if (!found) return null;
      const session = found.check;
      const now = clock.now();
      if (session.userId !== userId || session.revokedAt || session.expiresAt <= now || !userCanHoldSession(session.user)) return null;
      if (now.getTime() - session.lastSeenAt.getTime() > LAST_SEEN_RESOLUTION_MS) {
        await statements.stampSessionSeen(sessionId, now);
      }
      return { userId, sessionId, user: found.user };
    },

    /**
     * True while a session may act: not revoked, not expired, and its user may
     * hold sessions. Access tokens are short-lived, but a live subscription
     * outlives its token: it re-checks its session with this.
     */
    async isSessionActive(sessionId: string, userId: string): Promise<boolean> {
      const session = await statements.findSession(sessionId);
      return session !== null && session.userId === userId && !session.revokedAt && session.expiresAt > clock.now() && userCanHoldSession(session.user);
    },

    /** Ends the caller's own session; `everywhere` also ends every other session of that user. */
    async logout(sessionId: string, meta: RequestMeta, options: { everywhere?: boolean } = {}): Promise<{ sessionId: string; userId: string }> {
      const ended = await this.revokeSession(sessionId, meta, { reason: 'logout' });
      if (options.everywhere) await this.revokeAllSessions(ended.userId, meta, { reason: 'logout' });
      return ended;
    },

    /**
     * Revokes one session. `ownerId` restricts it to that user's sessions (a
     * user acting on themselves); another user's session is NotFound, so ids
     * cannot be probed.
     */
    async revokeSession(sessionId: string, meta: RequestMeta, options: { ownerId?: string; reason?: SessionRevokedReason } = {}) {
      const session = await db.session.findUnique({ where: { id: sessionId }, select: { id: true, userId: true, revokedAt: true } });
      if (!session || (options.ownerId !== undefined && session.userId !== options.ownerId)) throw new NotFoundError('session');
      if (session.revokedAt) throw new NotFoundError('active session');
      const done = await db.$transaction((tx) => revokeInTx(tx, session, options.reason ?? 'revoked', meta));
      if (!done) throw new NotFoundError('active session');
      outbox.committed();
      return { sessionId: session.id, userId: session.userId };
    },

    /** Revokes every live session of a user (after a suspected compromise). Returns how many. */
    async revokeAllSessions(userId: string, meta: RequestMeta, options: { exceptSessionId?: string; reason?: SessionRevokedReason } = {}): Promise<number> {
      return outbox.transaction(async (tx) => {
        const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
        assertThat(user, () => new UserNotFoundError(userId));
        return revokeAllInTx(tx, userId, options.reason ?? 'revoked_all', meta, options.exceptSessionId);
      });
    },

    revokeAllInTx,

    /**
     * Re-authentication (OWASP ASVS 3.7, Kratos' privileged sessions): a user
     * acting on themselves may add, remove or change a credential only while
     * their session has proved a factor within reauthMaxAgeSeconds (at
     * sign-in or through reauthenticate). Management callers are not users and
     * pass. Throws ReauthenticationRequiredError.
     */
    async assertRecentAuthentication(meta: RequestMeta): Promise<void> {
      if (meta.actor.type !== 'user') return;
      const sessionId = meta.actor.sessionId;
      const session = sessionId
        ? await db.session.findUnique({ where: { id: sessionId }, select: { authenticatedAt: true, revokedAt: true } })
        : null;
      const oldest = clock.now().getTime() - policy.reauthMaxAgeSeconds * 1000;
      if (!session || session.revokedAt || session.authenticatedAt.getTime() < oldest) {
        throw new ReauthenticationRequiredError(policy.reauthMaxAgeSeconds);
      }
    },

    /** Stamps a live session as having just proved `method`; records user.reauthenticated. Returns until when it counts. */
    async markReauthenticated(sessionId: string, userId: string, method: LoginMethod, meta: RequestMeta): Promise<{ authenticatedAt: Date; validUntil: Date }> {
      const now = clock.now();
      const updated = await outbox.transaction(async (tx) => {
        const marked = await store.markSessionReauthenticated(tx, sessionId, userId, now);
        if (marked) await outbox.record(tx, { type: 'user.reauthenticated', userId, data: { sessionId, method } }, meta);
        return marked;
      });
      if (!updated) throw new InvalidTokenError('session');
      return { authenticatedAt: now, validUntil: new Date(now.getTime() + policy.reauthMaxAgeSeconds * 1000) };
    },

    /** The `where` of live sessions: not revoked, not expired (for the User.sessions field). */
    liveSessionsWhere() {
      return liveSessionsWhereAt(clock.now());
    },
  };
}
