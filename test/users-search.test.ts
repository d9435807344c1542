/**
 * users(filter: { query }) through the search indexes (FTS5 on SQLite,
 * pg_trgm on PostgreSQL): a match in each searched column, case-insensitive;
 * queries of one or two characters (no trigram holds them); the index kept
 * right by updates and deletes; totalCount's bound of 1,000 and
 * totalCountExact; and the migrations indexing the users already there.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/kernel/db/client.js';
import { migrate, readMigrations } from '../src/kernel/db/migrator.js';
import { newId } from '../src/kernel/ids.js';
import { findTextPageIds, findUserPage, ftsQuery, userListWhere } from '../src/modules/users/store.js';
import { graphql } from './gql/index.js';
import type { UserFilter } from './gql/graphql.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { emptyDatabase, testProvider } from './helpers/db.js';

const CreateUser = graphql(`
  mutation SearchCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } ... on Error { code message } }
  }
`);
const UpdateUser = graphql(`
  mutation SearchUpdateUser($input: UpdateUserInput!) {
    updateUser(input: $input) { __typename ... on Error { code message } }
  }
`);
const DeleteUser = graphql(`
  mutation SearchDeleteUser($id: ID!) {
    deleteUser(input: { userId: $id }) { __typename ... on Error { code } }
  }
`);
const LockUser = graphql(`
  mutation SearchLockUser($id: ID!) {
    lockUser(input: { userId: $id }) { __typename ... on Error { code } }
  }
`);
const Search = graphql(`
  query SearchUsers($filter: UserFilter, $first: Int, $after: String) {
    users(filter: $filter, first: $first, after: $after) {
      totalCount
      totalCountExact
      pageInfo { hasNextPage endCursor }
      edges { node { id email } }
    }
  }
`);
const TwoSearches = graphql(`
  query SearchTwice($a: String!, $b: String!) {
    a: users(filter: { query: $a }, first: 1) { totalCount totalCountExact }
    b: users(filter: { query: $b }, first: 1) { totalCount totalCountExact }
  }
`);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

async function createUser(input: { email?: string; username?: string; givenName?: string; familyName?: string; displayName?: string }): Promise<string> {
  const res = await t.run(CreateUser, { input });
  if (res.createUser.__typename !== 'CreateUserSuccess') throw new Error(JSON.stringify(res.createUser));
  return res.createUser.user.id;
}

async function search(filter: UserFilter, first = 50) {
  return (await t.run(Search, { filter, first })).users;
}
const ids = (found: Awaited<ReturnType<typeof search>>) => found.edges.map((e) => e.node.id).sort();

/** Before every user the API creates here: bulk users come first in creation order. */
const BULK_START = Date.now() - 3_600_000;

/** Writes users straight to the table (as a bulk import would), created `from` ms after BULK_START and on; the search index learns of them all the same. */
async function insertUsers(emails: string[], givenName: string, from = 0) {
  const at = (i: number) => new Date(BULK_START + from + i);
  const rows = emails.map((email, i) => ({ id: newId('User'), email, emailNormalized: email, givenName, createdAt: at(i), updatedAt: at(i) }));
  await t.app.database.client.user.createMany({ data: rows });
  return rows.map((r) => r.id);
}

describe('matches', () => {
  it('finds a user by a part of each searched field, whatever the case', async () => {
    const byEmail = await createUser({ email: 'Quartzite.Walker@Fieldtest.example' });
    const byUsername = await createUser({ email: 'u1@other.example', username: 'Marblehead_77' });
    const byGiven = await createUser({ email: 'u2@other.example', givenName: 'Obsidiana' });
    const byFamily = await createUser({ email: 'u3@other.example', familyName: 'Feldspathy' });
    const byDisplay = await createUser({ email: 'u4@other.example', displayName: 'Captain Basaltine' });
    const cases: Array<[string, string]> = [
      ['QUARTZITE.walk', byEmail],
      ['fieldtest.EX', byEmail],
      ['BLEHEAD_7', byUsername],
      ['sidian', byGiven],
      ['OBSIDIANA', byGiven],
      ['dspath', byFamily],
      ['captain basal', byDisplay],
    ];
    for (const [query, id] of cases) {
      const found = await search({ query });
      expect(ids(found), query).toEqual([id]);
      expect(found.totalCount, query).toBe(1);
      expect(found.totalCountExact, query).toBe(true);
    }
    // Whitespace around the query is not part of it; a string in none of the fields matches no one.
    expect(ids(await search({ query: '  sidian  ' }))).toEqual([byGiven]);
    expect(await search({ query: 'quartzite.walker@fieldtest.examplex' })).toMatchObject({ totalCount: 0, edges: [] });
  });

  it('finds one and two characters anywhere in a value, its last characters included', async () => {
    const atEnd = await createUser({ email: 'end@short.example', givenName: 'Quinnǂ' });
    const atStart = await createUser({ email: 'start@short.example', familyName: 'ǂKxala' });
    const inside = await createUser({ email: 'inside@short.example', displayName: 'Ma🦊rta Vqzu' });
    expect(ids(await search({ query: 'ǂ' }))).toEqual([atEnd, atStart].sort());
    expect(ids(await search({ query: 'ǂk' }))).toEqual([atStart]);
    expect(ids(await search({ query: 'Nǂ' }))).toEqual([atEnd]);
    expect(ids(await search({ query: '🦊' }))).toEqual([inside]);
    expect(ids(await search({ query: 'QZ' }))).toEqual([inside]);
    expect(ids(await search({ query: 'zu' }))).toEqual([inside]);
    expect(await search({ query: 'ǂǂ' })).toMatchObject({ totalCount: 0, totalCountExact: true, edges: [] });
  });

  it('keeps the index right when names, emails and usernames change and when users are deleted', async () => {
    const id = await createUser({ email: 'gneiss.before@change.example', username: 'schistosity', givenName: 'Pegmatine' });
    expect(ids(await search({ query: 'pegmatine' }))).toEqual([id]);

    await t.run(UpdateUser, { input: { userId: id, givenName: 'Rhyolitha', email: 'gneiss.after@change.example', username: null } });
    expect((await search({ query: 'pegmatine' })).totalCount).toBe(0);
    expect((await search({ query: 'gneiss.before' })).totalCount).toBe(0);
    expect((await search({ query: 'schistos' })).totalCount).toBe(0);
    expect(ids(await search({ query: 'rhyolith' }))).toEqual([id]);
    expect(ids(await search({ query: 'gneiss.after' }))).toEqual([id]);

    // A change of something not searched leaves the search alone.
    await t.run(LockUser, { id });
    expect(ids(await search({ query: 'rhyolith' }))).toEqual([id]);

    await t.run(DeleteUser, { id });
    expect(await search({ query: 'rhyolith' })).toMatchObject({ totalCount: 0, totalCountExact: true, edges: [] });
    expect((await search({ query: 'gneiss.after' })).totalCount).toBe(0);
  });
});

describe('totalCount', () => {
  let first: string[];
  beforeAll(async () => {
    first = await insertUsers(Array.from({ length: 1000 }, (_, i) => `bound-${String(i).padStart(4, '0')}@limit.example`), 'Boundary');
  });

  it('is exact up to 1,000 matching users, and 1,000 with totalCountExact false beyond; the pages stay whole', async () => {
    expect(await search({ query: 'limit.example' }, 3)).toMatchObject({ totalCount: 1000, totalCountExact: true });
    const [extra] = await insertUsers(['bound-1000@limit.example'], 'Boundary', 1000);
    const beyond = await search({ query: '@LIMIT.example' }, 20);
    expect(beyond).toMatchObject({ totalCount: 1000, totalCountExact: false, pageInfo: { hasNextPage: true } });
    expect(beyond.edges.map((e) => e.node.id)).toEqual(first.slice(0, 20));
    // The next pages continue in order, to the last matching user.
    let after = beyond.pageInfo.endCursor;
    const seen = beyond.edges.map((e) => e.node.id);
    for (let page = 0; page < 30 && after; page++) {
      const next = (await t.run(Search, { filter: { query: '@limit.example' }, first: 50, after })).users;
      seen.push(...next.edges.map((e) => e.node.id));
      after = next.pageInfo.hasNextPage ? next.pageInfo.endCursor : null;
    }
    expect(seen).toEqual([...first, extra]);
    // A query of one or two characters that many users hold is bounded the same way.
    expect(await search({ query: 'Y' }, 1)).toMatchObject({ totalCount: 1000, totalCountExact: false });
    expect(await search({ query: 'ry' }, 1)).toMatchObject({ totalCount: 1000, totalCountExact: false });
  });

  it('counts exactly what the other tests of the filter leave, and without a query counts every user', async () => {
    const locked = [first[3], first[500], first[999]];
    for (const id of locked) await t.run(LockUser, { id });
    const found = await search({ query: 'limit.example', state: 'LOCKED' });
    expect(found).toMatchObject({ totalCount: 3, totalCountExact: true });
    expect(ids(found)).toEqual([...locked].sort());
    const all = await t.app.database.client.user.count();
    expect(await search({}, 1)).toMatchObject({ totalCount: all, totalCountExact: true });
  });

  it('counts by the same comparison as the page: beyond ASCII, SQLite tells case apart and PostgreSQL does not', async () => {
    await insertUsers(Array.from({ length: 1001 }, (_, i) => `unicode-${i}@case.example`), 'Łazarz', 5000);
    expect(await search({ query: 'Łaza' }, 1)).toMatchObject({ totalCount: 1000, totalCountExact: false });
    const lower = await search({ query: 'łaza' }, 1);
    if (testProvider === 'sqlite') expect(lower).toMatchObject({ totalCount: 0, totalCountExact: true, edges: [] });
    else expect(lower).toMatchObject({ totalCount: 1000, totalCountExact: false });
  });

  it('is counted for each users field of a document on its own', async () => {
    const res = await t.run(TwoSearches, { a: 'limit.example', b: 'bound-000' });
    expect(res.a).toEqual({ totalCount: 1000, totalCountExact: false });
    expect(res.b).toEqual({ totalCount: 10, totalCountExact: true });
  });
});

it('the search migration indexes the users stored before it', async () => {
  const db = await emptyDatabase();
  const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-migrations-'));
  try {
    cpSync(path.resolve(import.meta.dirname, '..', 'prisma', 'migrations'), dir, { recursive: true });
    const search = readMigrations(db.provider, dir).find((m) => m.name.endsWith('_user_search'));
    if (!search) throw new Error('no user_search migration');
    for (const m of readMigrations(db.provider, dir)) if (m.name >= search.name) rmSync(path.join(dir, db.provider, m.name), { recursive: true });
    await migrate(db.provider, db.url, { dir });
    const id = newId('User');
    const at = db.provider === 'sqlite' ? '2026-01-01T00:00:00.000+00:00' : '2026-01-01T00:00:00.000Z';
    const insert = `INSERT INTO "User" ("id", "email", "emailNormalized", "givenName", "updatedAt") VALUES ('${id}', 'old@before.example', 'old@before.example', 'Anorthosite', '${at}')`;
    if (db.provider === 'sqlite') {
      const { default: Database } = await import('better-sqlite3');
      const sqlite = new Database(db.url.replace(/^file:/, ''));
      sqlite.exec(insert);
      sqlite.close();
    } else {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query(insert);
      await client.end();
    }

    expect((await migrate(db.provider, db.url)).applied).toContain(search.name);
    if (db.provider === 'postgresql') {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE tablename = 'User' AND indexdef LIKE '%gin_trgm_ops%' ORDER BY 1`);
      await client.end();
      expect(rows.map((r) => r.indexname)).toEqual(['User_searchText_trgm_idx']);
    }
    const app = await createTestApp({ database: db });
    try {
      for (const query of ['northos', 'BEFORE.ex', 'An']) {
        expect((await app.run(Search, { filter: { query }, first: 5 })).users.edges.map((e) => e.node.id), query).toEqual([id]);
      }
    } finally {
      await app.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
});

it.skipIf(testProvider !== 'sqlite')('the search-order migration lists the users stored before it whose key is out of creation order', async () => {
  const db = await emptyDatabase();
  const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-migrations-'));
  try {
    cpSync(path.resolve(import.meta.dirname, '..', 'prisma', 'migrations'), dir, { recursive: true });
    const order = readMigrations(db.provider, dir).find((m) => m.name.endsWith('_user_search_order'));
    if (!order) throw new Error('no user_search_order migration');
    for (const m of readMigrations(db.provider, dir)) if (m.name >= order.name) rmSync(path.join(dir, db.provider, m.name), { recursive: true });
    await migrate(db.provider, db.url, { dir });
    // Keys in insert order; b was created before a, d at the same instant as c: both out of order.
    const at = (minute: number) => `2026-01-01T00:0${minute}:00.000+00:00`;
    const users = [
      ['usr_a', at(2)],
      ['usr_b', at(1)],
      ['usr_c', at(3)],
      ['usr_d', at(3)],
      ['usr_e', at(4)],
    ];
    const { default: Database } = await import('better-sqlite3');
    const sqlite = new Database(db.url.replace(/^file:/, ''));
    for (const [id, created] of users) {
      sqlite.exec(`INSERT INTO "User" ("id", "email", "emailNormalized", "createdAt", "updatedAt") VALUES ('${id}', '${id}@sorted.example', '${id}@sorted.example', '${created}', '${created}')`);
    }
    sqlite.close();
    expect((await migrate(db.provider, db.url)).applied).toContain(order.name);

    // Read through the index in key order, the pages are those of creation order all the same.
    const database = await createDatabase(db.provider, db.url);
    try {
      const query = 'sorted.example';
      const search = { match: ftsQuery(query)!.match };
      const where = userListWhere(db.provider, { query });
      for (const direction of ['ASC', 'DESC'] as const) {
        for (const take of [1, 2, 3, -1, -2]) {
          for (const cursor of [undefined, 'usr_a', 'usr_c', 'usr_e']) {
            const page = { cursor: cursor ? { id: cursor } : undefined, take };
            const expected = (await findUserPage(database.client, { ...page, select: { id: true } }, where, { field: 'CREATED_AT', direction })).map((u) => u.id);
            expect(await findTextPageIds(database.direct, db.provider, query, search, page, { field: 'CREATED_AT', direction }), `${direction} ${take} after ${cursor}`).toEqual(expected);
          }
        }
      }
      // From a user out of order, the index's order says nothing: the page is left to the `where`.
      expect(await findTextPageIds(database.direct, db.provider, query, search, { cursor: { id: 'usr_b' }, take: 2 }, null)).toBeNull();
    } finally {
      await database.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
});
