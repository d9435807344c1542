/**
 * Personal access tokens: `Authorization: Bearer pat_…` acts as its user like
 * an access token, narrowed to the token's scopes and without a session, so
 * scripts and CLIs need no sign-in. A token is shown once; only its SHA-256 is
 * stored (256 bits of entropy), with its first characters to recognise it.
 *
 * Who makes them: an API key holding personal_access_tokens:manage, for any
 * user (giving only scopes it holds), or the user itself with an access token
 * whose session re-authenticated recently. Never a personal access token: a
 * leaked token must not mint others that outlive its revocation.
 */
import type { Clock } from '../../kernel/clock.js';
import { tokenHash } from '../../kernel/crypto.js';
import { isUniqueViolation, type Db } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
import type { PersonalAccessToken } from '../../kernel/db/models.js';
import { AlreadyExistsError, assertThat, InvalidStateError, NotFoundError, UserNotFoundError } from '../../kernel/errors.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import { randomSecret } from '../../kernel/ids.js';
import { checkExpiry, checkTokenName, LAST_USED_RESOLUTION_MS, START_CHARS } from '../access-tokens/api-keys.js';
import { ScopeNotHeldError } from '../access-tokens/errors.js';
import { checkScopes, parseStoredScopes, PERSONAL_ACCESS_TOKEN_SCOPES, scopeNotHeld, storedScopes } from '../access-tokens/scopes.js';
import type { Outbox } from '../catalog.js';
import { userMayAct, type ReauthGuard } from '../sessions/service.js';
import { createPersonalAccessTokenStatements, createPersonalAccessTokenStore } from './store.js';

/** Every personal access token starts with it, so a token is told from other tokens by its prefix. */
export const PERSONAL_ACCESS_TOKEN_PREFIX = 'pat_';

/** The user and scopes a presented token acts with, why it is refused (revoked, expired, user may not act), or null. */
export type TokenCaller = { kind: 'token'; tokenId: string; userId: string; scopes: string[] } | { kind: 'refused'; reason: string };

export type PersonalAccessTokenService = ReturnType<typeof createPersonalAccessTokenService>;

/** What the audit trail says of a token: never its secret. */
const audited = (t: PersonalAccessToken) => ({ id: t.id, name: t.name, scopes: parseStoredScopes(t.scopes), expiresAt: t.expiresAt?.toISOString() ?? null });

/** A caller acting with a personal access token may not make or revoke one (asserted again below the schema). */
const assertNotByToken = (meta: RequestMeta) =>
  assertThat(!meta.actor.personalAccessTokenId, () => new InvalidStateError('A personal access token cannot create or revoke personal access tokens.'));

export function createPersonalAccessTokenService(deps: { db: Db; direct: DirectSql; clock: Clock; outbox: Outbox; reauth: ReauthGuard }) {
  const { db, clock, outbox } = deps;
  const store = createPersonalAccessTokenStore(deps);
  // Every request with a token looks it up: straight to the driver.
  const statements = createPersonalAccessTokenStatements(deps.direct);

  return {
    /**
     * Creates a token for a user; the returned `token` is the only time the
     * secret exists outside the caller. A user acting on itself needs a recent
     * re-authentication (ReauthenticationRequiredError); `grantor`: the scopes
     * of the API key that creates it (a key gives only scopes it holds).
     * Names are unique among the user's live tokens (AlreadyExistsError, also
     * for two requests racing). Records user.pat_created.
     */
    async createPersonalAccessToken(
      input: { userId: string; name: string; scopes: readonly string[]; expiresAt?: Date | null },
      meta: RequestMeta,
      grantor: readonly string[] = ['*'],
    ) {
      assertNotByToken(meta);
      assertThat(meta.actor.type !== 'user' || meta.actor.id === input.userId, () => new UserNotFoundError(input.userId));
      const name = checkTokenName(input.name);
      const scopes = checkScopes(input.scopes, PERSONAL_ACCESS_TOKEN_SCOPES);
      const notHeld = scopeNotHeld(grantor, scopes);
      if (notHeld) throw new ScopeNotHeldError(notHeld);
      const now = clock.now();
      const expiresAt = checkExpiry(input.expiresAt, now);
      await deps.reauth.assertRecentAuthentication(meta);
      const token = `${PERSONAL_ACCESS_TOKEN_PREFIX}${randomSecret(32)}`;
      try {
        const row = await outbox.transaction(async (tx) => {
          const user = await tx.user.findUnique({ where: { id: input.userId }, select: { id: true } });
          assertThat(user, () => new UserNotFoundError(input.userId));
          const created = await store.insertPersonalAccessToken(tx, {
            userId: input.userId,
            name,
            secretHash: tokenHash(token),
            start: token.slice(0, PERSONAL_ACCESS_TOKEN_PREFIX.length + START_CHARS),
            scopes: storedScopes(scopes),
            expiresAt,
            createdAt: now,
          });
          await outbox.record(tx, { type: 'user.pat_created', userId: input.userId, data: { personalAccessToken: audited(created) } }, meta);
          return created;
        });
        return { personalAccessToken: row, token };
      } catch (error) {
        if (isUniqueViolation(error)) throw new AlreadyExistsError('name', 'personal access token of this user');
        throw error;
      }
    },

    /**
     * Revokes a token at once (requests with it are refused and its live
     * subscriptions end). `ownerId` restricts it to that user's tokens (a user
     * acting on itself): another user's token is NotFound, so ids cannot be
     * probed. Records user.pat_revoked.
     */
    async revokePersonalAccessToken(id: string, meta: RequestMeta, options: { ownerId?: string } = {}): Promise<PersonalAccessToken> {
      assertNotByToken(meta);
      const found = await db.personalAccessToken.findUnique({ where: { id }, select: { userId: true } });
      if (!found || (options.ownerId !== undefined && found.userId !== options.ownerId)) throw new NotFoundError('personal access token');
      return outbox.transaction(async (tx) => {
        const revoked = await store.revokePersonalAccessTokenIfActive(tx, id, clock.now());
        if (!revoked) throw new NotFoundError('active personal access token');
        await outbox.record(tx, { type: 'user.pat_revoked', userId: revoked.userId, data: { personalAccessToken: audited(revoked) } }, meta);
        return revoked;
      });
    },

    /** The caller a presented token names, refused with a reason, or null when no token has this value. Never throws on a bad token. */
    async authenticate(presented: string): Promise<TokenCaller | null> {
      if (!presented.startsWith(PERSONAL_ACCESS_TOKEN_PREFIX)) return null;
      const row = await statements.findBySecretHash(tokenHash(presented));
      if (!row) return null;
      const now = clock.now();
      if (row.revokedAt) return { kind: 'refused', reason: 'This personal access token was revoked.' };
      if (row.expiresAt && row.expiresAt <= now) return { kind: 'refused', reason: `This personal access token expired at ${row.expiresAt.toISOString()}.` };
      if (!userMayAct(row.user, now)) return { kind: 'refused', reason: 'The user of this personal access token is locked or deactivated.' };
      if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
        await statements.stampUsed(row.id, now);
      }
      return { kind: 'token', tokenId: row.id, userId: row.userId, scopes: parseStoredScopes(row.scopes) };
    },

    /** True while the token may act: not revoked, not expired, its user may act (live subscriptions re-check their caller with it). */
    async isActive(id: string, userId: string): Promise<boolean> {
      const row = await db.personalAccessToken.findUnique({
        where: { id },
        select: { userId: true, revokedAt: true, expiresAt: true, user: { select: { state: true, lockedUntil: true } } },
      });
      const now = clock.now();
      return row !== null && row.userId === userId && !row.revokedAt && (!row.expiresAt || row.expiresAt > now) && userMayAct(row.user, now);
    },
  };
}
