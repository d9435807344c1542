/**
 * API keys for management callers. A key is shown once at creation; only its
 * SHA-256 is stored (a key has 256 bits of entropy, so a fast hash is enough,
 * unlike a password), with its first characters to recognise it. Lookup is by
 * hash; the bootstrap key from the environment is compared in constant time.
 *
 * A key holds scopes (scopes.ts): the fields of the schema each name the one
 * they need. A key gives only scopes it holds, so no key makes a stronger one.
 */
import type { Db } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
import type { ApiKey } from '../../kernel/db/models.js';
import { randomSecret } from '../../kernel/ids.js';
import type { Clock } from '../../kernel/clock.js';
import { constantTimeEqual, tokenHash } from '../../kernel/crypto.js';
import { assertThat, InvalidInputError, NotFoundError } from '../../kernel/errors.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import { ScopeNotHeldError } from './errors.js';
import { checkScopes, parseStoredScopes, scopeNotHeld, storedScopes } from './scopes.js';
import { createApiKeyStatements, createApiKeyStore } from './store.js';

/** Every API key starts with it, so a key is told from other tokens by its prefix. */
export const API_KEY_PREFIX = 'pck_';
/** lastUsedAt is written at most this often per key or token, so reads do not become writes. */
export const LAST_USED_RESOLUTION_MS = 60_000;
/** Characters of the secret kept after the prefix to recognise a key or token (36 of its 256 bits). */
export const START_CHARS = 6;
const NAME_MAX = 100;

export type Caller =
  | { kind: 'api_key'; keyId: string; scopes: string[] }
  | { kind: 'bootstrap_key' }
  /** A key the gateway knows but refuses (expired or revoked): why, for the 401. */
  | { kind: 'refused'; reason: string };

export type ApiKeyService = ReturnType<typeof createApiKeyService>;

/** The name of a key or token: trimmed, 1 to 100 characters. */
export function checkTokenName(name: string): string {
  const trimmed = name.trim();
  assertThat(trimmed.length >= 1 && trimmed.length <= NAME_MAX, () => new InvalidInputError('name', `A name has 1 to ${NAME_MAX} characters.`));
  return trimmed;
}

/** An expiry in the future, or none. */
export function checkExpiry(expiresAt: Date | null | undefined, now: Date): Date | null {
  if (expiresAt == null) return null;
  assertThat(!Number.isNaN(expiresAt.getTime()) && expiresAt > now, () => new InvalidInputError('expiresAt', 'expiresAt must be in the future.'));
  return expiresAt;
}

/** What the audit trail says of a key: never its secret. */
const auditedKey = (key: ApiKey) => ({ id: key.id, name: key.name, scopes: parseStoredScopes(key.scopes), expiresAt: key.expiresAt?.toISOString() ?? null });

export function createApiKeyService(deps: { db: Db; direct: DirectSql; clock: Clock; outbox: Outbox; bootstrapApiKey?: string }) {
  const { db, clock, outbox } = deps;
  const store = createApiKeyStore(deps);
  // Every request with a key looks it up: straight to the driver.
  const statements = createApiKeyStatements(deps.direct);
  const bootstrapDigest = deps.bootstrapApiKey ? tokenHash(deps.bootstrapApiKey) : undefined;

  return {
    /**
     * Creates a key; the returned `key` is the only time the secret exists
     * outside the caller. `grantor`: the scopes of whoever creates it (an API
     * key gives only scopes it holds: ScopeNotHeldError); the CLI and the
     * bootstrap key hold `*`. Records api_key.created.
     */
    async createApiKey(input: { name: string; scopes: readonly string[]; expiresAt?: Date | null }, meta: RequestMeta, grantor: readonly string[] = ['*']) {
      const name = checkTokenName(input.name);
      const scopes = checkScopes(input.scopes);
      const notHeld = scopeNotHeld(grantor, scopes);
      if (notHeld) throw new ScopeNotHeldError(notHeld);
      const expiresAt = checkExpiry(input.expiresAt, clock.now());
      const key = `${API_KEY_PREFIX}${randomSecret(32)}`;
      const apiKey = await outbox.transaction(async (tx) => {
        const row = await store.insertApiKey({ name, secretHash: tokenHash(key), scopes: storedScopes(scopes), expiresAt, start: key.slice(0, API_KEY_PREFIX.length + START_CHARS) }, tx);
        await outbox.record(tx, { type: 'api_key.created', data: { apiKey: auditedKey(row) } }, meta);
        return row;
      });
      return { id: apiKey.id, name: apiKey.name, scopes, expiresAt, createdAt: apiKey.createdAt, key };
    },

    /** Every key, oldest first (the CLI's list; GraphQL pages through apiKeys). */
    async listApiKeys() {
      return db.apiKey.findMany({
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        select: { id: true, name: true, scopes: true, start: true, createdAt: true, expiresAt: true, lastUsedAt: true, revokedAt: true },
      });
    },

    /**
     * Revokes a key at once (requests and live subscriptions made with it
     * stop); NotFoundError unless it is active. `grantor`: a key revokes only
     * keys no stronger than itself (ScopeNotHeldError). Records api_key.revoked.
     */
    async revokeApiKey(id: string, meta: RequestMeta, grantor: readonly string[] = ['*']): Promise<ApiKey> {
      const target = await db.apiKey.findUnique({ where: { id }, select: { scopes: true } });
      const notHeld = target ? scopeNotHeld(grantor, parseStoredScopes(target.scopes)) : undefined;
      if (notHeld) throw new ScopeNotHeldError(notHeld);
      return outbox.transaction(async (tx) => {
        const revoked = await store.revokeApiKeyIfActive(id, clock.now(), tx);
        if (!revoked) throw new NotFoundError('active API key');
        await outbox.record(tx, { type: 'api_key.revoked', data: { apiKey: auditedKey(revoked) } }, meta);
        return revoked;
      });
    },

    /** True while the key exists, is not revoked and has not expired (live subscriptions re-check their caller with it). */
    async isActive(id: string): Promise<boolean> {
      const row = await db.apiKey.findUnique({ where: { id }, select: { revokedAt: true, expiresAt: true } });
      return row !== null && row.revokedAt === null && (row.expiresAt === null || row.expiresAt > clock.now());
    },

    /** The caller a presented key identifies, refused with a reason (revoked, expired), or null. Never throws on a bad key. */
    async authenticate(presented: string): Promise<Caller | null> {
      const digest = tokenHash(presented);
      if (bootstrapDigest && constantTimeEqual(digest, bootstrapDigest)) return { kind: 'bootstrap_key' };
      if (!presented.startsWith(API_KEY_PREFIX)) return null;
      const row = await statements.findBySecretHash(digest);
      if (!row) return null;
      const now = clock.now();
      if (row.revokedAt) return { kind: 'refused', reason: 'This API key was revoked.' };
      if (row.expiresAt && row.expiresAt <= now) return { kind: 'refused', reason: `This API key expired at ${row.expiresAt.toISOString()}.` };
      if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
        await statements.stampUsed(row.id, now);
      }
      return { kind: 'api_key', keyId: row.id, scopes: parseStoredScopes(row.scopes) };
    },
  };
}
