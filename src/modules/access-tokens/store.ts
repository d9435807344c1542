/**
 * API keys' writes. A key row holds only the SHA-256 of the secret; lookups
 * stay in the service, which decides what a presented key is worth.
 */
import type { Db, Tx } from '../../kernel/db/client.js';
import type { ApiKey } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';

export interface NewApiKey {
  name: string;
  secretHash: string;
  /** Scope names separated by spaces. */
  scopes: string;
  expiresAt?: Date | null;
  start?: string | null;
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;

export function createApiKeyStore(deps: { db: Db }) {
  const { db } = deps;

  return {
    /** Stores a new key by the hash of its secret; returns the row. */
    insertApiKey(key: NewApiKey, tx: Tx | Db = db): Promise<ApiKey> {
      return tx.apiKey.create({ data: { id: newId('ApiKey'), ...key } });
    },

    /** Revokes a key unless it already is; the revoked row, or null when there is no such active key. */
    async revokeApiKeyIfActive(id: string, at: Date, tx: Tx | Db = db): Promise<ApiKey | null> {
      const { count } = await tx.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
      return count === 1 ? tx.apiKey.findUnique({ where: { id } }) : null;
    },

    /** Records that a key was just used. */
    async stampApiKeyUsed(id: string, at: Date): Promise<void> {
      await db.apiKey.update({ where: { id }, data: { lastUsedAt: at } });
    },
  };
}
