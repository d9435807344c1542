/**
 * users(filter: { createdAt, lastLoginAt }, orderBy: { field: CREATED_AT |
 * LAST_LOGIN_AT | EMAIL }) through the API: ranges are [from, to), users who
 * never signed in match no lastLoginAt range and sort last in both
 * directions, users without an email too, equal values
 * are ordered by id so pages neither skip nor repeat (forward and backward),
 * and a range whose from is after its to is an input error. lastLoginAt comes from
 * real sign-ins on a hand-moved clock (a password login, an MFA login; a
 * password without its second factor and a refresh do not count).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { totpCode, totpStep } from '../src/modules/totp/service.js';
import { graphql } from './gql/index.js';
import type { UserFilter, UserOrder } from './gql/graphql.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed } from './helpers/seed.js';

const ListUsers = graphql(`
  query ListUsersByTime($first: Int, $after: String, $last: Int, $before: String, $filter: UserFilter, $orderBy: UserOrder) {
    users(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { node { id email createdAt lastLoginAt } }
    }
  }
`);
const Login = graphql(`
  mutation ListUsersLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on LoginSuccess { refreshToken } ... on MfaRequired { mfaToken } ... on Error { code } }
  }
`);
const CompleteMfa = graphql(`
  mutation ListUsersCompleteMfa($input: CompleteMfaLoginInput!) {
    completeMfaLogin(input: $input) { __typename ... on Error { code message } }
  }
`);
const Refresh = graphql(`
  mutation ListUsersRefresh($input: RefreshSessionInput!) {
    refreshSession(input: $input) { __typename ... on Error { code } }
  }
`);

const PASSWORD = 'correct horse battery staple';
const DOMAIN = '@list.example.com';
// Every user of this file has such a username; the list filters on it, so users of other tests cannot creep in.
const TAG = 'listuser-';
const clock = manualClock(new Date('2026-05-01T00:00:00Z'));
const at = (iso: string) => new Date(iso);
// Creation instants (written on the rows: createdAt is the database's own clock) and sign-in instants (the gateway's clock).
const C0 = '2026-04-01T00:00:00.000Z';
const C1 = '2026-04-02T00:00:00.000Z';
const C2 = '2026-04-03T00:00:00.000Z';
const C3 = '2026-04-04T00:00:00.000Z';
const L1 = '2026-05-02T08:00:00.000Z';
const L2 = '2026-05-03T08:00:00.000Z';
const L3 = '2026-05-04T08:00:00.000Z';

let t: TestApp;
/** SQL statements run, while `recording`. */
const statements: string[] = [];
let recording = false;
/** name → id */
const ids: Record<string, string> = {};
const nameOf = (id: string) => Object.keys(ids).find((name) => ids[name] === id)!;

beforeAll(async () => {
  t = await createTestApp({ clock, onQuery: (sql) => void (recording && statements.push(sql)) });
  const make = async (name: string, createdAt: string, totp = false, email: string | null = `${name}${DOMAIN}`) => {
    let scenario = seed(t).user({ email, username: `${TAG}${name}`, password: PASSWORD });
    if (totp) scenario = scenario.withTotp();
    const user = await scenario;
    await t.app.database.client.user.update({ where: { id: user.id }, data: { createdAt: at(createdAt) } });
    ids[name] = user.id;
    return user;
  };
  const login = async (name: string) => (await t.run(Login, { input: { identifier: `${name}${DOMAIN}`, password: PASSWORD } }, { token: null })).login;

  // c and b share a creation instant; a and m; d and g; e, f and n. m and n have no email.
  await make('a', C0);
  await make('m', C0, false, null);
  await make('n', C3, false, null);
  await make('b', C1);
  await make('c', C1);
  const d = await make('d', C2, true);
  await make('g', C2);
  await make('e', C3);
  await make('f', C3, true);

  clock.set(at(L1));
  expect((await login('a')).__typename).toBe('LoginSuccess');
  expect((await login('g')).__typename).toBe('LoginSuccess');

  // b, c and d sign in at the same instant: d through its second factor.
  clock.set(at(L2));
  const b = await login('b');
  if (b.__typename !== 'LoginSuccess') throw new Error(b.__typename);
  expect((await login('c')).__typename).toBe('LoginSuccess');
  const mfa = await login('d');
  if (mfa.__typename !== 'MfaRequired') throw new Error(mfa.__typename);
  const done = await t.run(CompleteMfa, { input: { mfaToken: mfa.mfaToken, method: 'TOTP', code: totpCode(d.totp!.secret, totpStep(at(L2))) } }, { token: null });
  expect(done.completeMfaLogin.__typename).toBe('CompleteMfaLoginSuccess');

  // g signs in again: its last sign-in moves to L3. b only refreshes, which is no sign-in.
  clock.set(at(L3));
  expect((await login('g')).__typename).toBe('LoginSuccess');
  expect((await t.run(Refresh, { input: { refreshToken: b.refreshToken } }, { token: null })).refreshSession.__typename).toBe('RefreshSessionSuccess');

  // f enters its password but never gives its second factor: not signed in. e never tries.
  expect((await login('f')).__typename).toBe('MfaRequired');
  clock.advance(60_000);
});
afterAll(() => t?.close());

const mine = (filter: UserFilter = {}): UserFilter => ({ query: TAG, ...filter });

async function list(variables: { filter?: UserFilter; orderBy?: UserOrder; first?: number; after?: string | null; last?: number; before?: string | null }) {
  const data = await t.run(ListUsers, { first: variables.last ? undefined : 100, ...variables, filter: mine(variables.filter) });
  return data.users;
}
const names = (users: Awaited<ReturnType<typeof list>>) => users.edges.map((e) => nameOf(e.node.id));
/** Names in id order (ids are ULIDs made at creation: random within one millisecond, so the test asks the ids). */
const byId = (group: string[], direction: 'ASC' | 'DESC' = 'ASC') => {
  const sorted = [...group].sort((x, y) => (ids[x]! < ids[y]! ? -1 : 1));
  return direction === 'ASC' ? sorted : sorted.reverse();
};

/** Walks a whole list forward, `size` at a time. */
async function pagesForward(orderBy: UserOrder, size: number, filter?: UserFilter) {
  const seen: string[] = [];
  let after: string | null = null;
  for (let page = 0; page < 20; page++) {
    const users = await list({ orderBy, filter, first: size, after });
    seen.push(...names(users));
    if (!users.pageInfo.hasNextPage) return seen;
    after = users.pageInfo.endCursor!;
  }
  throw new Error('no last page');
}

/** Walks a whole list backward from its end, `size` at a time. */
async function pagesBackward(orderBy: UserOrder, size: number, filter?: UserFilter) {
  const seen: string[] = [];
  let before: string | null = null;
  for (let page = 0; page < 20; page++) {
    const users = await list({ orderBy, filter, last: size, before });
    seen.unshift(...names(users));
    if (!users.pageInfo.hasPreviousPage) return seen;
    before = users.pageInfo.startCursor!;
  }
  throw new Error('no first page');
}

describe('lastLoginAt', () => {
  it('is set by every successful sign-in (password, MFA), and not by a refresh or a password without its second factor', async () => {
    const users = await list({});
    const last = Object.fromEntries(users.edges.map((e) => [nameOf(e.node.id), e.node.lastLoginAt]));
    expect(last).toEqual({ a: L1, b: L2, c: L2, d: L2, g: L3, e: null, f: null, m: null, n: null });
  });
});

describe('filter by range', () => {
  it('lastLoginAt: from inclusive, to exclusive; never-signed-in users match no range', async () => {
    const cases: Array<[UserFilter['lastLoginAt'], string[]]> = [
      [{ from: L2, to: L3 }, ['b', 'c', 'd']],
      [{ from: L1, to: L2 }, ['a']],
      [{ from: L3 }, ['g']],
      [{ to: L2 }, ['a']],
      [{ from: L2, to: L2 }, []],
      [{}, ['a', 'b', 'c', 'd', 'g']],
    ];
    for (const [lastLoginAt, expected] of cases) {
      const users = await list({ filter: { lastLoginAt } });
      expect(names(users).sort(), JSON.stringify(lastLoginAt)).toEqual(expected);
      expect(users.totalCount).toBe(expected.length);
    }
  });

  it('createdAt: from inclusive, to exclusive', async () => {
    const cases: Array<[UserFilter['createdAt'], string[]]> = [
      [{ from: C1, to: C2 }, ['b', 'c']],
      [{ from: C2 }, ['d', 'e', 'f', 'g', 'n']],
      [{ to: C1 }, ['a', 'm']],
      [{ from: '2026-04-02T00:00:00.001Z', to: C3 }, ['d', 'g']],
    ];
    for (const [createdAt, expected] of cases) {
      const users = await list({ filter: { createdAt } });
      expect(names(users).sort(), JSON.stringify(createdAt)).toEqual(expected);
      expect(users.totalCount).toBe(expected.length);
    }
  });

  it('combines both ranges with the other filters', async () => {
    const users = await list({ filter: { createdAt: { from: C1 }, lastLoginAt: { to: L3 } } });
    expect(names(users).sort()).toEqual(['b', 'c', 'd']);
  });

  it('refuses a range whose from is after its to, naming the field', async () => {
    for (const field of ['createdAt', 'lastLoginAt'] as const) {
      const r = await t.exec(ListUsers, { first: 10, filter: { [field]: { from: L3, to: L1 } } });
      expect(r.data?.users ?? null).toBeNull();
      expect(r.errors).toHaveLength(1);
      expect(r.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: `filter.${field}` });
      expect(r.errors![0]!.message).toBe(
        `filter.${field}.from (${L3}) is after filter.${field}.to (${L1}); from is inclusive, to exclusive.`,
      );
    }
  });
});

describe('order', () => {
  it('LAST_LOGIN_AT ascending and descending: equal instants by id in the same direction, never-signed-in users last both ways', async () => {
    const asc = await list({ orderBy: { field: 'LAST_LOGIN_AT', direction: 'ASC' } });
    expect(names(asc)).toEqual(['a', ...byId(['b', 'c', 'd']), 'g', ...byId(['e', 'f', 'm', 'n'])]);
    const desc = await list({ orderBy: { field: 'LAST_LOGIN_AT', direction: 'DESC' } });
    expect(names(desc)).toEqual(['g', ...byId(['b', 'c', 'd'], 'DESC'), 'a', ...byId(['e', 'f', 'm', 'n'], 'DESC')]);
  });

  it('CREATED_AT ascending and descending, equal instants by id', async () => {
    const asc = await list({ orderBy: { field: 'CREATED_AT', direction: 'ASC' } });
    expect(names(asc)).toEqual([...byId(['a', 'm']), ...byId(['b', 'c']), ...byId(['d', 'g']), ...byId(['e', 'f', 'n'])]);
    const desc = await list({ orderBy: { field: 'CREATED_AT', direction: 'DESC' } });
    expect(names(desc)).toEqual([...byId(['e', 'f', 'n'], 'DESC'), ...byId(['d', 'g'], 'DESC'), ...byId(['b', 'c'], 'DESC'), ...byId(['a', 'm'], 'DESC')]);
  });

  it('EMAIL: users without an email come last in both directions, on both databases', async () => {
    const asc = await list({ orderBy: { field: 'EMAIL', direction: 'ASC' } });
    expect(names(asc)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', ...byId(['m', 'n'])]);
    const desc = await list({ orderBy: { field: 'EMAIL', direction: 'DESC' } });
    expect(names(desc)).toEqual(['g', 'f', 'e', 'd', 'c', 'b', 'a', ...byId(['m', 'n'], 'DESC')]);
  });

  it('pages across boundaries inside equal timestamps and into the never-signed-in users, forward and backward, without a skip or a repeat', async () => {
    for (const field of ['LAST_LOGIN_AT', 'CREATED_AT', 'EMAIL'] as const) {
      for (const direction of ['ASC', 'DESC'] as const) {
        const orderBy = { field, direction };
        const whole = names(await list({ orderBy }));
        expect(whole).toHaveLength(9);
        for (const size of [1, 2, 3]) {
          expect(await pagesForward(orderBy, size), `${field} ${direction} first ${size}`).toEqual(whole);
          expect(await pagesBackward(orderBy, size), `${field} ${direction} last ${size}`).toEqual(whole);
        }
      }
    }
    // A page boundary that falls between b, c and d, which signed in at the same instant.
    const first = await list({ orderBy: { field: 'LAST_LOGIN_AT', direction: 'ASC' }, filter: { lastLoginAt: { from: L2, to: L3 } }, first: 2 });
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = await list({ orderBy: { field: 'LAST_LOGIN_AT', direction: 'ASC' }, filter: { lastLoginAt: { from: L2, to: L3 } }, first: 2, after: first.pageInfo.endCursor });
    expect([...names(first), ...names(rest)]).toEqual(byId(['b', 'c', 'd']));
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });

  it('reads each page with the database\'s LIMIT and an ORDER BY an index serves (no NULLS LAST, no CASE), whichever the direction', async () => {
    for (const direction of ['ASC', 'DESC'] as const) {
      const orderBy = { field: 'LAST_LOGIN_AT' as const, direction };
      // Three rows from the end of the signed-in users: the page runs on into the never-signed-in ones.
      const first = await list({ orderBy, first: 3 });
      statements.length = 0;
      recording = true;
      try {
        expect(names(await list({ orderBy, first: 4, after: first.pageInfo.endCursor }))).toHaveLength(4);
      } finally {
        recording = false;
      }
      const reads = statements.filter((sql) => /FROM\s+\S*User\S*\s+WHERE.*ORDER BY/s.test(sql) && !/COUNT\(/i.test(sql));
      expect(reads.length, direction).toBe(2);
      for (const sql of reads) {
        expect(sql).toMatch(/LIMIT (\?|\$\d+)/);
        expect(sql).not.toMatch(/NULLS (FIRST|LAST)|CASE WHEN/i);
      }
    }
  });
});
