/**
 * MFA step-up with one-time codes by SMS and email: sendMfaOtp delivers a
 * code to the factor of the user an mfaToken belongs to (only to a factor the
 * user has), and completeMfaLogin finishes with it (methods OTP_SMS and
 * OTP_EMAIL, channels SMS and EMAIL). reauthenticate takes such a code too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';

const OtpLogin = graphql(`
  mutation OtpMfaLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on MfaRequired { mfaToken methods } ... on Error { code } }
  }
`);
const SendMfaOtp = graphql(`
  mutation OtpMfaSend($input: SendMfaOtpInput!) {
    sendMfaOtp(input: $input) { __typename ... on SendMfaOtpSuccess { sentTo expiresAt } ... on Error { code message } }
  }
`);
const CompleteMfa = graphql(`
  mutation OtpMfaComplete($input: CompleteMfaLoginInput!) {
    completeMfaLogin(input: $input) {
      __typename
      ... on CompleteMfaLoginSuccess { accessToken user { id } }
      ... on IncorrectCodeError { code codeAttemptsLeft attemptsBeforeLock }
      ... on Error { code message }
    }
  }
`);

const SendOtp = graphql(`
  mutation OtpSelfSend($input: SendOtpInput!) {
    sendOtp(input: $input) { __typename ... on SendOtpSuccess { sentTo } ... on Error { code message } }
  }
`);
const Reauthenticate = graphql(`
  mutation OtpReauthenticate($input: ReauthenticateInput!) {
    reauthenticate(input: $input) { __typename ... on ReauthenticateSuccess { user { id } } ... on Error { code message } }
  }
`);
const FailedLogins = graphql(`
  query OtpFailedLogins($userId: ID!) {
    events(first: 10, userId: $userId, types: [USER_LOGIN_FAILED]) { edges { node { data } } }
  }
`);

const PASSWORD = 'correct horse battery staple';
const sink = codeSink();
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({
    delivery: sink.delivery,
    env: { PORTCULLIS_OTP_RESEND_COOLDOWN_SECONDS: '0' },
  });
});
afterAll(() => t?.close());

let n = 0;
async function makeUser() {
  n++;
  const email = `otp${n}@example.com`;
  const phone = `+1415555${String(2000 + n)}`;
  const user = await t.app.services.users.createUser({ email, phone }, systemMeta);
  await t.app.services.passwords.setPassword(user.id, { password: PASSWORD }, systemMeta);
  const now = new Date();
  await t.app.database.client.user.update({ where: { id: user.id }, data: { emailVerifiedAt: now, phoneVerifiedAt: now } });
  return { id: user.id, email, phone };
}

const login = (identifier: string) => t.run(OtpLogin, { input: { identifier, password: PASSWORD } }, { token: null });

describe('login with one-time codes', () => {
  for (const [channel, method] of [['EMAIL', 'OTP_EMAIL'], ['SMS', 'OTP_SMS']] as const) {
    it(`finishes with a one-time code sent by ${channel} through sendMfaOtp`, async () => {
      const u = await makeUser();
      if (channel === 'EMAIL') await t.app.services.otpFactors.addOtpEmail(u.id, systemMeta);
      else await t.app.services.otpFactors.addOtpSms(u.id, systemMeta);
      const first = (await login(u.email)).login;
      if (first.__typename !== 'MfaRequired') throw new Error(JSON.stringify(first));
      expect(first.methods).toEqual([method]);
      const other = channel === 'EMAIL' ? 'SMS' : 'EMAIL';
      const refused = await t.run(SendMfaOtp, { input: { mfaToken: first.mfaToken, channel: other } }, { token: null });
      expect(refused.sendMfaOtp).toMatchObject({ __typename: 'InvalidInputError' });

      const sent = await t.run(SendMfaOtp, { input: { mfaToken: first.mfaToken, channel } }, { token: null });
      expect(sent.sendMfaOtp).toMatchObject({ __typename: 'SendMfaOtpSuccess', sentTo: expect.stringContaining('•') });
      const code = sink.lastCode(channel === 'EMAIL' ? u.email : u.phone);
      const done = await t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method, code } }, { token: null });
      expect(done.completeMfaLogin).toMatchObject({ __typename: 'CompleteMfaLoginSuccess', user: { id: u.id } });
    });
  }


  it('does not finish with a wrong code, and keeps the MFA token for the right one', async () => {
    const u = await makeUser();
    await t.app.services.otpFactors.addOtpEmail(u.id, systemMeta);
    const first = (await login(u.email)).login;
    if (first.__typename !== 'MfaRequired') throw new Error(JSON.stringify(first));
    await t.run(SendMfaOtp, { input: { mfaToken: first.mfaToken, channel: 'EMAIL' } }, { token: null });
    const code = sink.lastCode(u.email);
    const wrong = code === '000000' ? '111111' : '000000';
    const refused = await t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method: 'OTP_EMAIL', code: wrong } }, { token: null });
    // Both budgets apply to a sent code: its own attempts, and the account's code lockout.
    expect(refused.completeMfaLogin).toMatchObject({ __typename: 'IncorrectCodeError', code: 'INCORRECT_CODE', codeAttemptsLeft: 4, attemptsBeforeLock: 9 });
    const failed = (await t.run(FailedLogins, { userId: u.id })).events.edges.map((e) => e.node.data);
    expect(failed).toEqual([{ reason: 'incorrect_code', method: 'OTP_EMAIL' }]);
    const done = await t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method: 'OTP_EMAIL', code } }, { token: null });
    expect(done.completeMfaLogin.__typename).toBe('CompleteMfaLoginSuccess');
  });

  it('reauthenticate takes a code that sendOtp sent, naming its channel', async () => {
    const u = await makeUser();
    await t.app.services.otpFactors.addOtpSms(u.id, systemMeta);
    const first = (await login(u.email)).login;
    if (first.__typename !== 'MfaRequired') throw new Error(JSON.stringify(first));
    await t.run(SendMfaOtp, { input: { mfaToken: first.mfaToken, channel: 'SMS' } }, { token: null });
    const done = (await t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method: 'OTP_SMS', code: sink.lastCode(u.phone) } }, { token: null })).completeMfaLogin;
    if (done.__typename !== 'CompleteMfaLoginSuccess') throw new Error(JSON.stringify(done));
    const token = done.accessToken;

    const sent = await t.run(SendOtp, { input: { userId: u.id, channel: 'SMS' } }, { token });
    expect(sent.sendOtp.__typename).toBe('SendOtpSuccess');
    const code = sink.lastCode(u.phone);
    // The user has no email factor: a code named for that channel proves nothing.
    const otherChannel = await t.run(Reauthenticate, { input: { otp: { channel: 'EMAIL', code } } }, { token });
    expect(otherChannel.reauthenticate).toMatchObject({ __typename: 'InvalidStateError' });
    const proved = await t.run(Reauthenticate, { input: { otp: { channel: 'SMS', code } } }, { token });
    expect(proved.reauthenticate).toEqual({ __typename: 'ReauthenticateSuccess', user: { id: u.id } });
  });
});
