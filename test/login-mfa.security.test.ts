/**
 * Threat: an attacker who knows a user's password guesses the second factor.
 * Every wrong code during an MFA login counts towards the code lockout, so
 * guesses are bounded per user (not per MFA token: fetching a new token by
 * logging in again does not reset the count), a burst of parallel guesses
 * cannot exceed the limit, and once locked even the right code opens nothing.
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
    completeMfaLogin(input: $input) { __typename ... on Error { code } }
  }
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

describe('guessing the second factor', () => {
  it('locks the user after the code limit, across fresh MFA tokens, and then refuses the right code', async () => {
    const v = await victim('guess@example.com');
    const right = totpCode(v.secret, totpStep(clock.now()));
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      const r = await guess(await mfaToken(v.email), wrong);
      expect(r.completeMfaLogin.__typename).toBe('IncorrectCodeError');
    }
    const token = (await t.run(GuessLogin, { input: { identifier: v.email, password: PASSWORD } }, { token: null })).login;
    expect(token).toMatchObject({ __typename: 'UserLockedError' });
    const sessions = await t.app.database.client.session.count({ where: { userId: v.id } });
    expect(sessions).toBe(0);
  });

  it('lets no more guesses through than the limit in a parallel burst on one MFA token', async () => {
    const v = await victim('burst@example.com');
    const token = await mfaToken(v.email);
    const right = totpCode(v.secret, totpStep(clock.now()));
    // Wrong codes, none of them valid in the accepted window either side of now.
    const valid = new Set([-1, 0, 1].map((d) => totpCode(v.secret, totpStep(clock.now()) + d)));
    const codes = Array.from({ length: 30 }, (_, i) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0'))
      .filter((c) => !valid.has(c))
      .slice(0, 20);
    const results = await Promise.all(codes.map((code) => guess(token, code)));
    const checked = results.filter((r) => r.completeMfaLogin.__typename === 'IncorrectCodeError').length;
    expect(checked).toBeLessThanOrEqual(5);
    const after = await guess(token, right);
    expect(after.completeMfaLogin.__typename).not.toBe('CompleteMfaLoginSuccess');
    expect(await t.app.database.client.session.count({ where: { userId: v.id } })).toBe(0);
  });
});
