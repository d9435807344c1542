/**
 * API keys' writes. A key row holds only the SHA-256 of the secret; lookups
 * stay in the service, which decides what a presented key is worth.
 */
import type { Db, Tx } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
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

/** Every request with an API key: its lookup and the (rare) use stamp, straight to the driver. */
export const API_KEY_SQL = {
  bySecretHash: 'SELECT * FROM "ApiKey" WHERE "secretHash" = ?',
  stampUsed: 'UPDATE "ApiKey" SET "lastUsedAt" = ? WHERE "id" = ?',
} as const;
const API_KEY_ROW = { dates: ['createdAt', 'lastUsedAt', 'revokedAt', 'expiresAt'] } as const;

export function createApiKeyStatements(direct: DirectSql) {
  return {
    /** The key whose secret has this SHA-256; null when none. */
    async findBySecretHash(hash: string): Promise<ApiKey | null> {
      const [row] = await direct.all<ApiKey>(API_KEY_SQL.bySecretHash, [hash], API_KEY_ROW);
      return row ?? null;
    },
    /** Records that a key was just used. */
    async stampUsed(id: string, at: Date): Promise<void> {
      await direct.run(API_KEY_SQL.stampUsed, [at, id]);
    },
  };
}

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
  };
}
