/**
 * A page worked out on a search's candidates (findCandidatePageIds, in SQL
 * on their sort keys) is the page findUserPage reads with `id IN
 * (candidates)`: every order and direction, forward and backward, from
 * every cursor (candidates or not) and with none; on the provider under test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../kernel/db/client.js';
import { freshDatabase, type TestDatabase } from '../../../test/helpers/db.js';
import { createUserStore, findCandidatePageIds, findUserPage, findUsersInOrder, type UserListOrder } from './store.js';

let testDb: TestDatabase;
let database: Database;
beforeAll(async () => {
  testDb = await freshDatabase();
  database = await createDatabase(testDb.provider, testDb.url);
});
afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

describe("a page of a search's candidates", () => {
  it('is the page findUserPage reads narrowed to them, in every order, both ways, from every cursor', { timeout: 120_000 }, async () => {
    const db = database.client;
    const store = createUserStore();
    // 18 users with ties in every column and empty values; two of every three are candidates.
    const instants = [null, new Date('2026-03-01T00:00:00Z'), new Date('2026-03-02T00:00:00Z'), new Date('2026-03-03T00:00:00Z')];
    const created = [new Date('2026-01-01T00:00:00Z'), new Date('2026-01-02T00:00:00Z'), new Date('2026-01-03T00:00:00Z')];
    const ids: string[] = [];
    for (let i = 0; i < 18; i++) {
      const email = i % 5 === 0 ? null : `c${String((i * 7) % 18).padStart(2, '0')}@example.com`;
      const user = await db.$transaction((tx) => store.insertUser(tx, { email, emailNormalized: email }));
      await db.user.update({ where: { id: user.id }, data: { lastLoginAt: instants[(i * 3) % 4], lastActiveAt: instants[i % 4], createdAt: created[i % 3] } });
      ids.push(user.id);
    }
    const candidates = ids.filter((_, i) => i % 3 !== 1);
    const where = { id: { in: candidates } };
    const cursors = [undefined, ...ids];

    for (const field of ['CREATED_AT', 'EMAIL', 'LAST_LOGIN_AT', 'LAST_ACTIVE_AT'] as const) {
      for (const direction of ['ASC', 'DESC'] as const) {
        const order: UserListOrder = { field, direction };
        for (const take of [1, 5, 20, -1, -5, -20]) {
          for (const cursor of cursors) {
            const page = { cursor: cursor ? { id: cursor } : undefined, take };
            const expected = (await findUserPage(db, { ...page, select: { id: true } }, where, order)).map((u) => u.id);
            const found = await findCandidatePageIds(database.direct, database.provider, candidates, page, order);
            expect(found, `${field} ${direction} take ${take} after ${cursor}`).toEqual(expected);
          }
        }
      }
    }

    // A cursor naming a user that is gone: an empty page, as findUserPage gives.
    expect(await findCandidatePageIds(database.direct, database.provider, candidates, { cursor: { id: 'usr_gone' }, take: 5 }, { field: 'LAST_LOGIN_AT' })).toEqual([]);
    // The rows are read in the order of the ids asked for, only those the `where` matches, with the id even when not selected.
    const picked = [candidates[3], ids[1], candidates[0]];
    const rows = await findUsersInOrder(db, { select: { email: true } }, where, picked);
    expect(rows.map((r) => r.id)).toEqual([candidates[3], candidates[0]]);
  });
});
