/**
 * userStats and users(filter: { lastActiveAt }) through the API, on a
 * hand-moved clock: users created, signed in, refreshed and deleted on
 * several UTC days. A user counts once per day however often it signs in or
 * refreshes; the 1/7/30-day windows end with the range and reach before it;
 * byDay holds every day of the range; deleted users stay in the history;
 * ranges are [from, to) of at most 366 days; lastActiveAt is the first
 * activity of the last active day and lists filter and page by it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { graphql } from './gql/index.js';
import type { UserFilter, UserOrder } from './gql/graphql.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const Stats = graphql(`
  query UserStatsOf($from: Date, $to: Date) {
    userStats(from: $from, to: $to) {
      __typename
      ... on UserStats {
        from
        to
        total
        created
        deleted
        active { daily weekly monthly }
        byDay { date created deleted active }
      }
      ... on InvalidInputError { code field message }
    }
  }
`);
const CreateUser = graphql(`
  mutation UserStatsCreate($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } ... on Error { code } }
  }
`);
const DeleteUser = graphql(`
  mutation UserStatsDelete($input: DeleteUserInput!) {
    deleteUser(input: $input) { __typename }
  }
`);
const Login = graphql(`
  mutation UserStatsLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on LoginSuccess { refreshToken accessToken } ... on Error { code } }
  }
`);
const Refresh = graphql(`
  mutation UserStatsRefresh($input: RefreshSessionInput!) {
    refreshSession(input: $input) { __typename ... on RefreshSessionSuccess { refreshToken } ... on Error { code } }
  }
`);
const ActiveUsers = graphql(`
  query UserStatsActiveUsers($filter: UserFilter, $orderBy: UserOrder, $first: Int, $after: String) {
    users(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id lastActiveAt } }
    }
  }
`);

const PASSWORD = 'correct horse battery staple';
const clock = manualClock(new Date('2026-03-01T08:00:00Z'));
let t: TestApp;
/** name → id */
const ids: Record<string, string> = {};
const nameOf = (id: string) => Object.keys(ids).find((name) => ids[name] === id)!;
/** name → the refresh token of its latest sign-in or refresh */
const refreshTokens: Record<string, string> = {};
/** name → the instant of its first activity on its last active day */
const firstActivity: Record<string, string> = {};

const at = (iso: string) => clock.set(new Date(iso));
async function create(name: string) {
  const r = (await t.run(CreateUser, { input: { email: `${name}@stats.example.com`, password: PASSWORD } })).createUser;
  if (r.__typename !== 'CreateUserSuccess') throw new Error(r.__typename);
  ids[name] = r.user.id;
}
async function signIn(name: string) {
  const r = (await t.run(Login, { input: { identifier: `${name}@stats.example.com`, password: PASSWORD } }, { token: null })).login;
  if (r.__typename !== 'LoginSuccess') throw new Error(r.__typename);
  refreshTokens[name] = r.refreshToken;
  return r;
}
async function refresh(name: string) {
  const r = (await t.run(Refresh, { input: { refreshToken: refreshTokens[name] } }, { token: null })).refreshSession;
  if (r.__typename !== 'RefreshSessionSuccess') throw new Error(r.__typename);
  refreshTokens[name] = r.refreshToken;
}
const stats = async (from?: string, to?: string) => (await t.run(Stats, { from, to })).userStats;
async function okStats(from?: string, to?: string) {
  const s = await stats(from, to);
  if (s.__typename !== 'UserStats') throw new Error(`${s.__typename}: ${JSON.stringify(s)}`);
  return s;
}
/** The byDay entries that are not all zero. */
const busyDays = (s: Awaited<ReturnType<typeof okStats>>) => s.byDay.filter((d) => d.created || d.deleted || d.active);

beforeAll(async () => {
  t = await createTestApp({ clock });

  // Mar 1: a, b, c, d created; a signs in three times and refreshes, b signs in once: 2 active.
  at('2026-03-01T08:00:00Z');
  for (const name of ['a', 'b', 'c', 'd']) await create(name);
  await signIn('a');
  firstActivity.a = clock.now().toISOString();
  clock.advance(3_600_000);
  await signIn('a');
  await signIn('a');
  await refresh('a');
  await signIn('b');

  // Mar 2: e created; a refreshes twice, c signs in: 2 active.
  at('2026-03-02T23:59:00Z');
  await create('e');
  await refresh('a');
  await refresh('a');
  await signIn('c');

  // Mar 6: b refreshes the session of Mar 1, d signs in; c is deleted (still counted on Mar 2).
  at('2026-03-06T00:00:00Z');
  await refresh('b');
  await signIn('d');
  firstActivity.d = clock.now().toISOString();
  await t.run(DeleteUser, { input: { userId: ids.c } });

  // Mar 21: a signs in, then again later that day (lastActiveAt stays at the first).
  at('2026-03-21T10:00:00Z');
  await signIn('a');
  firstActivity.a = clock.now().toISOString();
  at('2026-03-21T22:00:00Z');
  await refresh('a');

  // Apr 10: b and e sign in; f is created and never signs in.
  at('2026-04-10T12:00:00Z');
  await signIn('b');
  firstActivity.b = clock.now().toISOString();
  await signIn('e');
  firstActivity.e = clock.now().toISOString();
  await create('f');
  clock.advance(60_000);
});
afterAll(() => t?.close());

describe('userStats', () => {
  it('counts each user once per day however often it signs in or refreshes, and every created and deleted user', async () => {
    const s = await okStats('2026-03-01', '2026-03-08');
    expect(s).toMatchObject({ from: '2026-03-01', to: '2026-03-08', total: 4, created: 5, deleted: 1 });
    expect(s.byDay.map((d) => d.date)).toEqual(['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06', '2026-03-07']);
    expect(busyDays(s)).toEqual([
      { date: '2026-03-01', created: 4, deleted: 0, active: 2 },
      { date: '2026-03-02', created: 1, deleted: 0, active: 2 },
      { date: '2026-03-06', created: 0, deleted: 1, active: 2 },
    ]);
    // The last day (Mar 7) nobody; the week before it a, b, c (deleted since: history) and d.
    expect(s.active).toEqual({ daily: 0, weekly: 4, monthly: 4 });
  });

  it('ends the 1, 7 and 30-day windows with the range and reaches before its start', async () => {
    // Mar 21 alone: a; the week to Mar 21: a; the 30 days to Mar 21 (from Feb 20): a, b, c, d.
    expect((await okStats('2026-03-21', '2026-03-22')).active).toEqual({ daily: 1, weekly: 1, monthly: 4 });
    // Apr 10: b and e; the week: b and e; the 30 days from Mar 12: a (Mar 21), b, e.
    const april = await okStats('2026-04-01', '2026-04-11');
    expect(april.active).toEqual({ daily: 2, weekly: 2, monthly: 3 });
    expect(busyDays(april)).toEqual([{ date: '2026-04-10', created: 1, deleted: 0, active: 2 }]);
    expect(april).toMatchObject({ total: 5, created: 1, deleted: 0 });
    // The week to Mar 12 holds the Mar 6 activity (b, d); the week to Mar 13 starts after it.
    expect((await okStats('2026-03-06', '2026-03-13')).active).toEqual({ daily: 0, weekly: 2, monthly: 4 });
    expect((await okStats('2026-03-07', '2026-03-14')).active).toEqual({ daily: 0, weekly: 0, monthly: 4 });
  });

  it('answers the last 30 days including today by default, and counts the users there were at the end of any range', async () => {
    const s = await okStats();
    expect(s).toMatchObject({ from: '2026-03-12', to: '2026-04-11', total: 5, created: 1, deleted: 0 });
    expect(s.byDay).toHaveLength(30);
    expect(busyDays(s).map((d) => [d.date, d.active])).toEqual([
      ['2026-03-21', 1],
      ['2026-04-10', 2],
    ]);
    expect((await okStats(undefined, '2026-03-02')).from).toBe('2026-01-31');
    // Before anyone was created, and after the last day with anything: totals follow.
    expect((await okStats('2026-02-01', '2026-03-01')).total).toBe(0);
    expect((await okStats('2026-03-01', '2026-03-02')).total).toBe(4);
    expect((await okStats('2026-03-06', '2026-03-07')).total).toBe(4);
    expect((await okStats('2027-01-01', '2027-01-02'))).toMatchObject({ total: 5, active: { daily: 0, weekly: 0, monthly: 0 } });
  });

  it('answers 366 days and refuses longer ranges and ranges whose to is not after from', async () => {
    expect((await okStats('2025-04-11', '2026-04-12')).byDay).toHaveLength(366);
    const cases: Array<[string | undefined, string | undefined, string]> = [
      ['2025-04-10', '2026-04-12', 'from'],
      ['2026-03-08', '2026-03-08', 'to'],
      ['2026-03-09', '2026-03-08', 'to'],
      // Only from: to is tomorrow, 400 days later.
      ['2025-03-07', undefined, 'from'],
    ];
    for (const [from, to, field] of cases) {
      const s = await stats(from, to);
      expect(s, `${from} → ${to}`).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT', field });
    }
    const malformed = await t.exec(Stats, { from: '2026-02-30' });
    expect(malformed.errors?.[0]?.message).toMatch(/Date/);
  });

  it('is for API keys: an access token is refused, an anonymous caller too', async () => {
    const { accessToken } = await signIn('b');
    const asUser = await t.exec(Stats, {}, { token: accessToken });
    expect(asUser.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'API_KEY_REQUIRED' });
    expect(asUser.data ?? null).toBeNull();
    const anonymous = await t.exec(Stats, {}, { token: null });
    expect(anonymous.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('lastActiveAt', () => {
  const list = async (variables: { filter?: UserFilter; orderBy?: UserOrder; first?: number; after?: string | null }) =>
    (await t.run(ActiveUsers, { first: 50, ...variables })).users;

  it('is the first sign-in or refresh of the last active day, null for users never active', async () => {
    const users = await list({});
    expect(Object.fromEntries(users.edges.map((e) => [nameOf(e.node.id), e.node.lastActiveAt]))).toEqual({ ...firstActivity, f: null });
  });

  it('filters users by a range, from inclusive and to exclusive, never-active users matching none', async () => {
    const cases: Array<[UserFilter['lastActiveAt'], string[]]> = [
      [{ from: '2026-04-10T00:00:00Z' }, ['b', 'e']],
      [{ from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z' }, ['a', 'd']],
      [{ from: firstActivity.d, to: firstActivity.a }, ['d']],
      [{ to: '2026-03-06T00:00:00Z' }, []],
      [{}, ['a', 'b', 'd', 'e']],
    ];
    for (const [lastActiveAt, expected] of cases) {
      const users = await list({ filter: { lastActiveAt } });
      expect(users.edges.map((e) => nameOf(e.node.id)).sort(), JSON.stringify(lastActiveAt)).toEqual(expected);
      expect(users.totalCount).toBe(expected.length);
    }
    const reversed = await t.exec(ActiveUsers, { first: 5, filter: { lastActiveAt: { from: '2026-04-10T00:00:00Z', to: '2026-03-01T00:00:00Z' } } });
    expect(reversed.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.lastActiveAt' });
  });

  it('orders by lastActiveAt with the id breaking ties, never-active users last, in pages that neither skip nor repeat', async () => {
    const byId = (names: string[]) => [...names].sort((x, y) => (ids[x] < ids[y] ? -1 : 1));
    // b and e share their instant (Apr 10, 12:00): the id orders them.
    const expected = [...byId(['b', 'e']).reverse(), 'a', 'd', 'f'];
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const users = await list({ orderBy: { field: 'LAST_ACTIVE_AT', direction: 'DESC' }, first: 2, after });
      seen.push(...users.edges.map((e) => nameOf(e.node.id)));
      if (!users.pageInfo.hasNextPage) break;
      after = users.pageInfo.endCursor!;
    }
    expect(seen).toEqual(expected);
  });
});
