/**
 * The sign-in store's contract, on the provider under test (the suite runs
 * once on SQLite and once on PostgreSQL): an MFA challenge is consumed at
 * most once, and never after it expired.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../test/helpers/db.js';
import { createDatabase, type Database } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';
import { createSignInStore, type SignInStore } from './store.js';

let testDb: TestDatabase;
let database: Database;
let store: SignInStore;

beforeAll(async () => {
  testDb = await freshDatabase();
  database = await createDatabase(testDb.provider, testDb.url);
  store = createSignInStore({ db: database.client });
});
afterAll(async () => {
  await database.close();
  await testDb.drop();
});

const at = (s: number) => new Date(Date.UTC(2026, 0, 2, 3, 4, s, 500));

async function challenge(expiresAt: Date) {
  const tokenHash = `hash-${newId('MfaChallenge')}`;
  await store.insertMfaChallenge({ userId: 'usr_x', tokenHash, device: 'd', ip: null, userAgent: 'u', organizationId: null, expiresAt, createdAt: at(0) });
  return database.client.mfaChallenge.findUniqueOrThrow({ where: { tokenHash } });
}

describe('sign-in store', () => {
  it('insertMfaChallenge stores the challenge unconsumed', async () => {
    expect(await challenge(at(30))).toMatchObject({ userId: 'usr_x', device: 'd', ip: null, userAgent: 'u', expiresAt: at(30), consumedAt: null, createdAt: at(0) });
  });

  it('consumeMfaChallengeIfLive lets exactly one of concurrent consumes win', async () => {
    const row = await challenge(at(30));
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => store.consumeMfaChallengeIfLive(row.id, at(i + 1))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await database.client.mfaChallenge.findUniqueOrThrow({ where: { id: row.id } })).consumedAt).not.toBeNull();
    expect(await store.consumeMfaChallengeIfLive(row.id, at(10))).toBe(false);
  });

  it('consumeMfaChallengeIfLive refuses a challenge expired at the time given', async () => {
    const row = await challenge(at(30));
    expect(await store.consumeMfaChallengeIfLive(row.id, at(30))).toBe(false);
    expect((await database.client.mfaChallenge.findUniqueOrThrow({ where: { id: row.id } })).consumedAt).toBeNull();
    expect(await store.consumeMfaChallengeIfLive(row.id, at(29))).toBe(true);
    expect((await database.client.mfaChallenge.findUniqueOrThrow({ where: { id: row.id } })).consumedAt).toEqual(at(29));
  });
});
