/**
 * Threats to user statistics: an attacker inflating the active-user figures
 * (or a user's lastActiveAt) without signing in: failed passwords, a password
 * without its second factor, a replayed refresh token, a locked account's
 * refresh; and a signed-in user reading the figures or finding who is active.
 * Only a completed sign-in or a successful refresh counts; the figures and
 * the lastActiveAt filter are for API keys only; a range cannot be stretched
 * to make the gateway read years of tallies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { totpCode, totpStep } from '../src/modules/totp/service.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed, type SeededUser } from './helpers/seed.js';

const Stats = graphql(`
  query StatsThreatStats($from: Date, $to: Date) {
    userStats(from: $from, to: $to) { __typename ... on UserStats { active { daily } byDay { active } } ... on InvalidInputError { field } }
  }
`);
const Login = graphql(`
  mutation StatsThreatLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on LoginSuccess { accessToken refreshToken } ... on MfaRequired { mfaToken } ... on Error { code } }
  }
`);
const CompleteMfa = graphql(`
  mutation StatsThreatMfa($input: CompleteMfaLoginInput!) {
    completeMfaLogin(input: $input) { __typename ... on Error { code } }
  }
`);
const Refresh = graphql(`
  mutation StatsThreatRefresh($input: RefreshSessionInput!) {
    refreshSession(input: $input) { __typename ... on RefreshSessionSuccess { refreshToken } ... on Error { code } }
  }
`);
const ActiveList = graphql(`
  query StatsThreatList($filter: UserFilter) {
    users(first: 10, filter: $filter) { totalCount }
  }
`);
const Me = graphql(`
  query StatsThreatMe {
    me { id lastActiveAt }
  }
`);

const PASSWORD = 'correct horse battery staple';
const clock = manualClock(new Date('2026-06-01T09:00:00Z'));
let t: TestApp;
let day = 0;

beforeAll(async () => {
  t = await createTestApp({ clock });
});
afterAll(() => t?.close());

/** A fresh UTC day for each test, so its active count starts at 0. */
function nextDay() {
  clock.set(new Date(Date.UTC(2026, 5, 2 + day++, 9)));
  return clock.now().toISOString().slice(0, 10);
}
async function activeOn(date: string) {
  const to = new Date(Date.parse(date) + 86_400_000).toISOString().slice(0, 10);
  const s = (await t.run(Stats, { from: date, to })).userStats;
  if (s.__typename !== 'UserStats') throw new Error(s.__typename);
  return s.active.daily;
}
const login = async (user: SeededUser, password = PASSWORD) => (await t.run(Login, { input: { identifier: user.email!, password } }, { token: null })).login;
const lastActiveAt = async (user: SeededUser) => (await t.app.database.client.user.findUniqueOrThrow({ where: { id: user.id } })).lastActiveAt;

describe('inflating the figures', () => {
  it('wrong passwords count for nothing', async () => {
    const date = nextDay();
    const user = await seed(t).user({ password: PASSWORD });
    for (let i = 0; i < 3; i++) expect((await login(user, 'not the password at all')).__typename).toBe('IncorrectPasswordError');
    expect(await activeOn(date)).toBe(0);
    expect(await lastActiveAt(user)).toBeNull();
  });

  it('a password without its second factor counts for nothing; completing the sign-in counts once', async () => {
    const date = nextDay();
    const user = await seed(t).user({ password: PASSWORD }).withTotp();
    const pending = await login(user);
    if (pending.__typename !== 'MfaRequired') throw new Error(pending.__typename);
    expect(await activeOn(date)).toBe(0);
    const wrong = await t.run(CompleteMfa, { input: { mfaToken: pending.mfaToken, method: 'TOTP', code: '000000' } }, { token: null });
    expect(wrong.completeMfaLogin.__typename).not.toBe('CompleteMfaLoginSuccess');
    expect(await activeOn(date)).toBe(0);
    clock.advance(60_000);
    const again = await login(user);
    if (again.__typename !== 'MfaRequired') throw new Error(again.__typename);
    const code = totpCode(user.totp!.secret, totpStep(clock.now()));
    expect((await t.run(CompleteMfa, { input: { mfaToken: again.mfaToken, method: 'TOTP', code } }, { token: null })).completeMfaLogin.__typename).toBe('CompleteMfaLoginSuccess');
    expect(await activeOn(date)).toBe(1);
  });

  it("a replayed refresh token and a locked user's refresh count for nothing", async () => {
    nextDay();
    const thief = await seed(t).user({ password: PASSWORD });
    const locked = await seed(t).user({ password: PASSWORD });
    const first = await login(thief);
    const lockedSession = await login(locked);
    if (first.__typename !== 'LoginSuccess' || lockedSession.__typename !== 'LoginSuccess') throw new Error('sign-in failed');
    await t.app.services.users.lockUser(locked.id, systemMeta);

    // The next day: the legitimate refresh spends the token; the copy replayed after it revokes the session.
    const date = nextDay();
    expect((await t.run(Refresh, { input: { refreshToken: first.refreshToken } }, { token: null })).refreshSession.__typename).toBe('RefreshSessionSuccess');
    const replay = nextDay();
    expect((await t.run(Refresh, { input: { refreshToken: first.refreshToken } }, { token: null })).refreshSession.__typename).toBe('RefreshTokenReusedError');
    expect((await t.run(Refresh, { input: { refreshToken: lockedSession.refreshToken } }, { token: null })).refreshSession.__typename).toBe('UserLockedError');
    expect(await activeOn(date)).toBe(1);
    expect(await activeOn(replay)).toBe(0);
    expect((await lastActiveAt(thief))?.toISOString().slice(0, 10)).toBe(date);
  });
});

describe('reading the figures', () => {
  it('a signed-in user reads its own lastActiveAt, but neither the statistics nor who else is active', async () => {
    nextDay();
    const user = await seed(t).user({ password: PASSWORD });
    const signedIn = await login(user);
    if (signedIn.__typename !== 'LoginSuccess') throw new Error(signedIn.__typename);
    const token = signedIn.accessToken;
    expect((await t.run(Me, {}, { token })).me).toEqual({ id: user.id, lastActiveAt: clock.now().toISOString() });
    const stats = await t.exec(Stats, {}, { token });
    expect(stats.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'API_KEY_REQUIRED' });
    const list = await t.exec(ActiveList, { filter: { lastActiveAt: { from: '2026-01-01T00:00:00Z' } } }, { token });
    expect(list.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(list.data ?? null).toBeNull();
  });

  it('refuses a range longer than 366 days, however far in the past or future', async () => {
    for (const [from, to] of [
      ['0001-01-01', '9999-12-31'],
      ['1970-01-01', '2026-06-01'],
      ['2026-06-01', '2030-01-01'],
    ]) {
      expect((await t.run(Stats, { from, to })).userStats, `${from} → ${to}`).toEqual({ __typename: 'InvalidInputError', field: 'from' });
    }
    // A year at either end of the calendar answers, all zeros.
    for (const [from, to] of [
      ['0001-01-01', '0002-01-01'],
      ['9999-01-01', '9999-12-31'],
    ]) {
      const s = (await t.run(Stats, { from, to })).userStats;
      expect(s.__typename === 'UserStats' && s.byDay.every((d) => d.active === 0), `${from} → ${to}`).toBe(true);
    }
  });
});
