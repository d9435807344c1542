/**
 * API keys on the provider under test (the suite runs once on SQLite and once
 * on PostgreSQL): a key is revoked once, however many revocations race, and a
 * row made without scopes (as every key was before scopes existed) holds `*`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { createApiKeyStatements, createApiKeyStore, type ApiKeyStore } from './store.js';

const storeDb = useStoreDatabase();
let store: ApiKeyStore;
const at = new Date(Date.UTC(2026, 0, 2));

beforeAll(() => {
  store = createApiKeyStore({ db: storeDb.db });
});

describe('API key store', () => {
  it('revokeApiKeyIfActive revokes once, even for concurrent revocations, and returns the revoked row', async () => {
    const key = await store.insertApiKey({ name: 'revoked', secretHash: 'a'.repeat(64), scopes: 'users:read' });
    const results = await Promise.all(Array.from({ length: 3 }, () => storeDb.inTx((tx) => store.revokeApiKeyIfActive(key.id, at, tx))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(results.find(Boolean)).toMatchObject({ id: key.id, revokedAt: at, scopes: 'users:read' });
    expect(await store.revokeApiKeyIfActive('key_missing', at)).toBeNull();
  });

  it('stampUsed records the last use', async () => {
    const key = await store.insertApiKey({ name: 'used', secretHash: 'b'.repeat(64), scopes: '*' });
    await createApiKeyStatements(storeDb.direct).stampUsed(key.id, at);
    expect((await storeDb.db.apiKey.findUniqueOrThrow({ where: { id: key.id } })).lastUsedAt).toEqual(at);
  });

  it('gives a key stored without scopes (a key from before scopes) every scope', async () => {
    const legacy = await storeDb.db.apiKey.create({ data: { id: 'key_legacy', name: 'legacy', secretHash: 'c'.repeat(64) } });
    expect(legacy.scopes).toBe('*');
    expect(legacy.start).toBeNull();
  });
});
