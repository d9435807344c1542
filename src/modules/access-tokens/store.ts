/**
 * API keys' writes. A key row holds only the SHA-256 of the secret; lookups
 * stay in the service, which decides what a presented key is worth.
 */
import type { Db } from '../../kernel/db/client.js';
import type { ApiKey } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;

export function createApiKeyStore(deps: { db: Db }) {
  const { db } = deps;

  return {
    /** Stores a new key by the hash of its secret; returns the row. */
    insertApiKey(key: { name: string; secretHash: string }): Promise<ApiKey> {
      return db.apiKey.create({ data: { id: newId('ApiKey'), ...key } });
    },

    /** Revokes a key unless it already is; false when there is no such active key. */
    async revokeApiKeyIfActive(id: string, at: Date): Promise<boolean> {
      const { count } = await db.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
      return count === 1;
    },

    /** Records that a key was just used. */
    async stampApiKeyUsed(id: string, at: Date): Promise<void> {
      await db.apiKey.update({ where: { id }, data: { lastUsedAt: at } });
    },
  };
}
