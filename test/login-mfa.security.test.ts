/**
 * Threat: an attacker who knows a user's password guesses the second factor.
 * Every wrong code during an MFA login counts towards the code lockout, so
 * guesses are bounded per user (not per MFA token: fetching a new token by
 * logging in again does not reset the count), a burst of parallel guesses
 * cannot exceed the limit, and once locked even the right code opens nothing.
 * The legitimate user is not shut out for good: after an admin unlock (this
 * file's locks last until one), the right code signs in again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { manualClock } from '../src/kernel/clock.js';
import { totpCode, totpStep } from '../src/modules/totp/service.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const GuessLogin = graphql(`
  mutation GuessLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on MfaRequired { mfaToken } ... on Error { code } }
  }
`);
const GuessComplete = graphql(`
  mutation GuessComplete($input: CompleteMfaLoginInput!) {
    completeMfaLogin(input: $input) {
      __typename
      ... on CompleteMfaLoginSuccess { session { id } user { id } }
      ... on IncorrectCodeError { codeAttemptsLeft attemptsBeforeLock }
      ... on Error { code }
    }
  }
`);
const GuessUnlock = graphql(`
  mutation GuessUnlock($userId: ID!) { unlockUser(input: { userId: $userId }) { __typename } }
`);

const PASSWORD = 'the password was phished';
const clock = manualClock();
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({
    clock,
    env: { PORTCULLIS_LOCKOUT_CODE_ATTEMPTS: '5', PORTCULLIS_LOCKOUT_DURATION_SECONDS: '0' },
  });
});
afterAll(() => t?.close());

async function victim(email: string) {
  const user = await t.app.services.users.createUser({ email }, systemMeta);
  await t.app.services.passwords.setPassword(user.id, { password: PASSWORD }, systemMeta);
  const { secret } = await t.app.services.totp.startTotpRegistration(user.id, systemMeta);
  await t.app.services.totp.verifyTotpRegistration(user.id, totpCode(secret, totpStep(clock.now())), systemMeta);
  clock.advance(30_000);
  return { id: user.id, email, secret };
}

async function mfaToken(email: string) {
  const r = (await t.run(GuessLogin, { input: { identifier: email, password: PASSWORD } }, { token: null })).login;
  if (r.__typename !== 'MfaRequired') throw new Error(JSON.stringify(r));
  return r.mfaToken;
}

const guess = (mfaToken: string, code: string) => t.run(GuessComplete, { input: { mfaToken, method: 'TOTP', code } }, { token: null });
const sessions = (userId: string) => t.app.database.client.session.count({ where: { userId } });

/** After an admin unlock, the user signs in again with password and the right code. */
async function signsInAfterUnlock(v: { id: string; email: string; secret: string }) {
  expect((await t.run(GuessUnlock, { userId: v.id })).unlockUser.__typename).toBe('UnlockUserSuccess');
  const done = await guess(await mfaToken(v.email), totpCode(v.secret, totpStep(clock.now())));
  expect(done.completeMfaLogin).toMatchObject({ __typename: 'CompleteMfaLoginSuccess', user: { id: v.id } });
  expect(await sessions(v.id)).toBe(1);
}

describe('guessing the second factor', () => {
  it('locks the user after the code limit, across fresh MFA tokens; the right code is refused while locked and accepted after an unlock', async () => {
    const v = await victim('guess@example.com');
    const right = totpCode(v.secret, totpStep(clock.now()));
    const wrong = right === '000000' ? '111111' : '000000';
    // A token from before the lock: it stays live, so only the lock can stop it.
    const held = await mfaToken(v.email);
    const remaining: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const r = (await guess(await mfaToken(v.email), wrong)).completeMfaLogin;
      expect(r.__typename).toBe('IncorrectCodeError');
      remaining.push((r as { attemptsBeforeLock: number | null }).attemptsBeforeLock);
      // A TOTP code is not an issued code: only the account's budget applies.
      expect(r).toMatchObject({ codeAttemptsLeft: null });
    }
    // One count per user: every new token continued it.
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const token = (await t.run(GuessLogin, { input: { identifier: v.email, password: PASSWORD } }, { token: null })).login;
    expect(token).toMatchObject({ __typename: 'UserLockedError' });
    expect((await guess(held, right)).completeMfaLogin).toEqual({ __typename: 'UserLockedError', code: 'USER_LOCKED' });
    expect(await sessions(v.id)).toBe(0);

    await signsInAfterUnlock(v);
  });

  it('evaluates exactly the limit in a parallel burst on one MFA token, then refuses the right code until an unlock', async () => {
    const v = await victim('burst@example.com');
    const token = await mfaToken(v.email);
    const right = totpCode(v.secret, totpStep(clock.now()));
    // Wrong codes, none of them valid in the accepted window either side of now.
    const valid = new Set([-1, 0, 1].map((d) => totpCode(v.secret, totpStep(clock.now()) + d)));
    const codes = Array.from({ length: 30 }, (_, i) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0'))
      .filter((c) => !valid.has(c))
      .slice(0, 20);
    expect(codes).toHaveLength(20);
    const results = (await Promise.all(codes.map((code) => guess(token, code)))).map((r) => r.completeMfaLogin.__typename);
    // Attempts are reserved before the code is compared: 5 reach the comparison, the rest are refused unseen.
    expect(results.filter((r) => r === 'IncorrectCodeError')).toHaveLength(5);
    expect(results.filter((r) => r !== 'IncorrectCodeError' && r !== 'UserLockedError' && r !== 'TooManyAttemptsError')).toEqual([]);
    expect((await guess(token, right)).completeMfaLogin).toEqual({ __typename: 'UserLockedError', code: 'USER_LOCKED' });
    expect(await sessions(v.id)).toBe(0);

    await signsInAfterUnlock(v);
  });
});
