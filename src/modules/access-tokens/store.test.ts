/**
 * API keys on the provider under test (the suite runs once on SQLite and once
 * on PostgreSQL): the stored hash is the hex SHA-256 of the whole key, as it
 * always was (keys issued before still authenticate), and a key is revoked
 * once.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../test/helpers/db.js';
import { manualClock } from '../../kernel/clock.js';
import { createDatabase, type Database } from '../../kernel/db/client.js';
import { createApiKeyService, type ApiKeyService } from './api-keys.js';
import { createApiKeyStore, type ApiKeyStore } from './store.js';

const clock = manualClock();
let testDb: TestDatabase;
let database: Database;
let store: ApiKeyStore;
let apiKeys: ApiKeyService;

beforeAll(async () => {
  testDb = await freshDatabase();
  database = await createDatabase(testDb.provider, testDb.url);
  store = createApiKeyStore({ db: database.client });
  apiKeys = createApiKeyService({ db: database.client, clock, bootstrapApiKey: 'bootstrap-secret' });
});
afterAll(async () => {
  await database.close();
  await testDb.drop();
});

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');

describe('API key store', () => {
  it('stores the hex SHA-256 of the key, and a key stored that way authenticates', async () => {
    const created = await apiKeys.createApiKey('new');
    expect((await database.client.apiKey.findUniqueOrThrow({ where: { id: created.id } })).secretHash).toBe(sha256Hex(created.key));
    const legacy = await store.insertApiKey({ name: 'legacy', secretHash: sha256Hex('pck_issued-before') });
    expect(await apiKeys.authenticate('pck_issued-before')).toEqual({ kind: 'api_key', keyId: legacy.id });
    expect(await apiKeys.authenticate('pck_unknown')).toBeNull();
    expect(await apiKeys.authenticate('bootstrap-secret')).toEqual({ kind: 'bootstrap_key' });
  });

  it('revokeApiKeyIfActive revokes once, even for concurrent revocations', async () => {
    const key = await store.insertApiKey({ name: 'revoked', secretHash: sha256Hex('pck_revoked') });
    const results = await Promise.all(Array.from({ length: 3 }, () => store.revokeApiKeyIfActive(key.id, clock.now())));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.revokeApiKeyIfActive('key_missing', clock.now())).toBe(false);
    expect(await apiKeys.authenticate('pck_revoked')).toBeNull();
  });

  it('stampApiKeyUsed records the last use', async () => {
    const key = await store.insertApiKey({ name: 'used', secretHash: sha256Hex('pck_used') });
    await store.stampApiKeyUsed(key.id, new Date(Date.UTC(2026, 0, 2)));
    expect((await database.client.apiKey.findUniqueOrThrow({ where: { id: key.id } })).lastUsedAt).toEqual(new Date(Date.UTC(2026, 0, 2)));
  });
});
