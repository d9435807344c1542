/**
 * Personal access tokens' store on the provider under test: the database
 * itself keeps names unique among a user's live tokens (both providers treat
 * the NULL name of revoked tokens as distinct), and a token is revoked once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { isUniqueViolation } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { createPersonalAccessTokenStatements, createPersonalAccessTokenStore, type NewPersonalAccessToken, type PersonalAccessTokenStore } from './store.js';

const storeDb = useStoreDatabase();
const { inTx } = storeDb;
let store: PersonalAccessTokenStore;
let userId: string;
const at = new Date(Date.UTC(2026, 0, 2));
let n = 0;
const token = (name: string): NewPersonalAccessToken => ({ userId, name, secretHash: `hash-${++n}`, start: 'pat_abcdef', scopes: '*', expiresAt: null, createdAt: at });

beforeAll(async () => {
  store = createPersonalAccessTokenStore({ db: storeDb.db });
  userId = (await storeDb.db.user.create({ data: { id: newId('User') } })).id;
});

describe('personal access token store', () => {
  it('refuses a second live token of one name, even when inserts race, and frees the name once revoked', async () => {
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => inTx((tx) => store.insertPersonalAccessToken(tx, token('ci')))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) expect(isUniqueViolation((r as PromiseRejectedResult).reason)).toBe(true);
    const live = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ id: string }>).value;

    const revoked = await Promise.all(Array.from({ length: 3 }, () => inTx((tx) => store.revokePersonalAccessTokenIfActive(tx, live.id, at))));
    expect(revoked.filter(Boolean)).toHaveLength(1);
    expect(revoked.find(Boolean)).toMatchObject({ id: live.id, name: 'ci', activeName: null, revokedAt: at });
    // Two revoked tokens and a live one share the name.
    const second = await inTx((tx) => store.insertPersonalAccessToken(tx, token('ci')));
    await inTx((tx) => store.revokePersonalAccessTokenIfActive(tx, second.id, at));
    await inTx((tx) => store.insertPersonalAccessToken(tx, token('ci')));
    expect(await storeDb.db.personalAccessToken.count({ where: { userId, name: 'ci' } })).toBe(3);
  });

  it('stamps the last use, and stamping a token gone with its user is no error', async () => {
    const row = await inTx((tx) => store.insertPersonalAccessToken(tx, token('stamped')));
    const statements = createPersonalAccessTokenStatements(storeDb.direct);
    await statements.stampUsed(row.id, at);
    expect((await storeDb.db.personalAccessToken.findUniqueOrThrow({ where: { id: row.id } })).lastUsedAt).toEqual(at);
    await statements.stampUsed('pt_gone', at);
  });
});
