/**
 * A page worked out on a search's candidates (findCandidatePageIds, in SQL
 * on their sort keys) is the page findUserPage reads with `id IN
 * (candidates)`: every order and direction, forward and backward, from
 * every cursor (candidates or not) and with none; on the provider under test.
 * So is a page of a text query's matches read through the index
 * (findTextPageIds), users created out of order among them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../kernel/db/client.js';
import { freshDatabase, testProvider, type TestDatabase } from '../../../test/helpers/db.js';
import { createUserStore, findCandidatePageIds, findTextMatchPageIds, findTextPageIds, findTextUsersInOrder, findUserPage, findUsersInOrder, ftsQuery, selectsColumnsOnly, userListWhere, type TextSearch, type UserListOrder } from './store.js';

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

  // PostgreSQL finds the page of a query many users match with the list's `where` (findUserPage itself).
  it.runIf(testProvider === 'sqlite')("SQLite: reads a text query's page from the index as the `where` gives it, in every order it serves, users out of creation order included", { timeout: 120_000 }, async () => {
    const db = database.client;
    const store = createUserStore();
    const provider = database.provider;
    const ids: string[] = [];
    // Two of every three match "needle", in the email or (upper-cased) in a name; created in order, one a millisecond.
    const base = Date.parse('2026-05-01T00:00:00Z');
    for (let i = 0; i < 24; i++) {
      const email = i % 3 === 1 ? `n${i}@example.com` : i % 3 === 0 ? `needle${i}@example.com` : `n${i}@example.org`;
      const user = await db.user.create({ data: { id: `usr_order${String(i).padStart(2, '0')}`, email, emailNormalized: email, givenName: i % 3 === 2 ? 'NeEdLe' : 'Ann', createdAt: new Date(base + i) } });
      ids.push(user.id);
    }
    // Users written with an earlier instant than some already there (an import) are out of key order; the last one is not.
    for (const [k, at] of [base - 5, base + 7, base + 30].entries()) {
      const user = await db.user.create({ data: { id: `usr_late${k}`, email: `needle-late${k}@example.com`, emailNormalized: `needle-late${k}@example.com`, createdAt: new Date(at) } });
      ids.push(user.id);
    }
    // The last user inserted in order, whose instant is moved back: out of order too.
    const moved = await db.$transaction((tx) => store.insertUser(tx, { email: 'needle-moved@example.com', emailNormalized: 'needle-moved@example.com' }));
    await db.user.update({ where: { id: moved.id }, data: { createdAt: new Date(base + 10) } });
    ids.push(moved.id);

    const outOfOrder = [ids[24], ids[25], moved.id];
    const query = 'needle';
    const search: TextSearch = { match: ftsQuery(query)!.match };
    const where = userListWhere(provider, { query });
    let read = 0;
    for (const field of ['CREATED_AT', 'EMAIL', 'LAST_LOGIN_AT', 'LAST_ACTIVE_AT'] as const) {
      for (const direction of ['ASC', 'DESC'] as const) {
        const order: UserListOrder = { field, direction };
        for (const take of [1, 5, 20, -1, -5, -20]) {
          for (const cursor of [undefined, ...ids]) {
            const page = { cursor: cursor ? { id: cursor } : undefined, take };
            const found = await findTextPageIds(database.direct, provider, query, search, page, order);
            if (found === null) {
              // The index is read in creation order only, and not from a user out of it.
              expect(field !== 'CREATED_AT' || outOfOrder.includes(cursor ?? ''), `${field} ${direction} take ${take} after ${cursor}`).toBe(true);
              continue;
            }
            read++;
            const expected = (await findUserPage(db, { ...page, select: { id: true } }, where, order)).map((u) => u.id);
            expect(found, `${field} ${direction} take ${take} after ${cursor}`).toEqual(expected);
          }
        }
      }
    }
    // Every order's pages on PostgreSQL; on SQLite, creation order's from no cursor and every user in key order.
    expect(read).toBe(provider === 'sqlite' ? 2 * 6 * (1 + 25) : 4 * 2 * 6 * (1 + 28));
  });

  // Last: its users, created now, would be out of key order for the test above.
  it("reads a text query's page rows straight from the driver exactly as Prisma reads them with the list's `where`", { timeout: 120_000 }, async () => {
    const db = database.client;
    const provider = database.provider;
    const people = [
      { email: 'Zoe.Quill@Example.com', username: 'QuillZ', givenName: 'Zoë', familyName: 'Quill', displayName: 'Zoë Quill' },
      { email: 'lukasz@example.org', username: null, givenName: 'Łukasz', familyName: 'Wąs', displayName: null },
      { email: 'under_score@example.net', username: 'pct%user', givenName: 'Ann', familyName: 'Lee', displayName: 'ANN LEE' },
      { email: null, username: 'quillfan', givenName: null, familyName: null, displayName: 'q' },
      { email: 'other@example.com', username: 'nobody', givenName: 'Bo', familyName: 'Ek', displayName: 'Bo Ek' },
    ];
    const ids: string[] = [];
    for (const [i, p] of people.entries()) {
      const user = await db.user.create({
        data: {
          id: `usr_textrow${i}`,
          email: p.email,
          emailNormalized: p.email?.toLowerCase() ?? null,
          username: p.username,
          usernameNormalized: p.username?.toLowerCase() ?? null,
          givenName: p.givenName,
          familyName: p.familyName,
          displayName: p.displayName,
          publicMetadata: { plan: 'pro', seats: i },
          lastLoginAt: i % 2 ? new Date('2026-02-03T04:05:06.789Z') : null,
          lastActiveAt: i % 3 ? new Date(Date.UTC(2026, 1, 3 + (i % 2))) : null,
        },
      });
      ids.push(user.id);
    }
    // Ids in a chosen order, one unknown and one twice: only the matches come back, in that order.
    const asked = [ids[4], 'usr_unknown', ids[2], ids[0], ids[1], ids[3], ids[0]];
    for (const query of ['quill', 'QUILL', 'zoë', 'ZOË', 'łukasz', 'wąs', 'ann lee', '_', '%', 'pct%', 'e', 'example.', 'nothing-at-all']) {
      const where = userListWhere(provider, { query });
      const expected = await findUsersInOrder(db, {}, where, asked);
      const found = await findTextUsersInOrder(database.direct, provider, query, asked);
      expect(found, query).toEqual(expected);
    }
    // A page of a query's matches worked out in SQL is the page findUserPage reads with the query's `where`.
    for (const query of ['quill', 'E', 'ł', '_']) {
      const where = userListWhere(provider, { query });
      for (const field of ['CREATED_AT', 'EMAIL', 'LAST_LOGIN_AT', 'LAST_ACTIVE_AT'] as const) {
        for (const direction of ['ASC', 'DESC'] as const) {
          for (const take of [2, 20, -2]) {
            for (const cursor of [undefined, ids[0], ids[2], ids[3], 'usr_gone']) {
              const page = { cursor: cursor ? { id: cursor } : undefined, take };
              const expected = (await findUserPage(db, { ...page, select: { id: true } }, where, { field, direction })).map((u) => u.id);
              const found = await findTextMatchPageIds(database.direct, provider, query, page, { field, direction });
              expect(found, `${query} ${field} ${direction} take ${take} after ${cursor}`).toEqual(expected);
            }
          }
        }
      }
    }
    // Only selections of the user's own columns take the direct read.
    expect(selectsColumnsOnly({})).toBe(true);
    expect(selectsColumnsOnly({ select: { id: true, email: true } })).toBe(true);
    expect(selectsColumnsOnly({ include: {} })).toBe(true);
    expect(selectsColumnsOnly({ include: { memberships: true } })).toBe(false);
    expect(selectsColumnsOnly({ select: { id: true, memberships: { select: { id: true } } } })).toBe(false);
  });
});
