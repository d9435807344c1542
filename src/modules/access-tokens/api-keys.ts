/**
 * API keys for management callers. A key is shown once at creation; only its
 * SHA-256 is stored (a key has 256 bits of entropy, so a fast hash is enough,
 * unlike a password). Lookup is by hash; the bootstrap key from the
 * environment is compared in constant time.
 */
import type { Db } from '../../kernel/db/client.js';
import { randomSecret } from '../../kernel/ids.js';
import type { Clock } from '../../kernel/clock.js';
import { constantTimeEqual, tokenHash } from '../../kernel/crypto.js';
import { InvalidInputError, NotFoundError } from '../../kernel/errors.js';
import { createApiKeyStore } from './store.js';

/** Every API key starts with it, so a key is told from other tokens by its prefix. */
export const API_KEY_PREFIX = 'pck_';
/** lastUsedAt is written at most this often per key, so reads do not become writes. */
const LAST_USED_RESOLUTION_MS = 60_000;

export type Caller = { kind: 'api_key'; keyId: string } | { kind: 'bootstrap_key' };

export type ApiKeyService = ReturnType<typeof createApiKeyService>;

export function createApiKeyService(deps: { db: Db; clock: Clock; bootstrapApiKey?: string }) {
  const { db, clock } = deps;
  const store = createApiKeyStore(deps);
  const bootstrapDigest = deps.bootstrapApiKey ? tokenHash(deps.bootstrapApiKey) : undefined;

  return {
    /** Creates a key; the returned `key` is the only time the secret exists outside the caller. */
    async createApiKey(name: string) {
      const trimmed = name.trim();
      if (!trimmed || trimmed.length > 100) throw new InvalidInputError('name', 'A key name has 1 to 100 characters.');
      const key = `${API_KEY_PREFIX}${randomSecret(32)}`;
      const row = await store.insertApiKey({ name: trimmed, secretHash: tokenHash(key) });
      return { id: row.id, name: row.name, createdAt: row.createdAt, key };
    },

    async listApiKeys() {
      return db.apiKey.findMany({
        orderBy: { createdAt: 'asc' },
        select: { id: true, name: true, createdAt: true, lastUsedAt: true, revokedAt: true },
      });
    },

    async revokeApiKey(id: string) {
      if (!(await store.revokeApiKeyIfActive(id, clock.now()))) throw new NotFoundError('active API key');
    },

    /** True while the key exists and is not revoked (live subscriptions re-check their caller with it). */
    async isActive(id: string): Promise<boolean> {
      const row = await db.apiKey.findUnique({ where: { id }, select: { revokedAt: true } });
      return row !== null && row.revokedAt === null;
    },

    /** The caller a presented key identifies, or null. Never throws on a bad key. */
    async authenticate(presented: string): Promise<Caller | null> {
      const digest = tokenHash(presented);
      if (bootstrapDigest && constantTimeEqual(digest, bootstrapDigest)) return { kind: 'bootstrap_key' };
      if (!presented.startsWith(API_KEY_PREFIX)) return null;
      const row = await db.apiKey.findUnique({ where: { secretHash: digest } });
      if (!row || row.revokedAt) return null;
      const now = clock.now();
      if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
        await store.stampApiKeyUsed(row.id, now);
      }
      return { kind: 'api_key', keyId: row.id };
    },
  };
}
