/**
 * Threat: a stolen access token turns the second factor off. With only a
 * user's access token, an attacker used to generate fresh backup codes, remove
 * the TOTP authenticator with one of them, and remove the SMS and email
 * factors with no code at all; the next login then needed only the password.
 *
 * Every self-service credential change now needs a session that proved a
 * factor within PORTCULLIS_REAUTH_MAX_AGE_SECONDS (sign-in, or reauthenticate);
 * a backup code minted by the same session never counts as that proof.
 * Management callers (API keys) are not affected.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { manualClock } from '../src/kernel/clock.js';
import { totpCode, totpStep } from '../src/modules/totp/service.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed } from './helpers/seed.js';

const Login = graphql(`
  mutation ReauthLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on MfaRequired { mfaToken } ... on LoginSuccess { accessToken } ... on Error { code } }
  }
`);
const CompleteMfa = graphql(`
  mutation ReauthCompleteMfa($input: CompleteMfaLoginInput!) {
    completeMfaLogin(input: $input) { __typename ... on CompleteMfaLoginSuccess { accessToken } ... on Error { code } }
  }
`);
const GenerateBackupCodes = graphql(`
  mutation ReauthGenerateBackupCodes($input: GenerateBackupCodesInput!) {
    generateBackupCodes(input: $input) {
      __typename
      ... on GenerateBackupCodesSuccess { codes }
      ... on ReauthenticationRequiredError { code maxAgeSeconds }
      ... on Error { code }
    }
  }
`);
const RemoveAuthMethod = graphql(`
  mutation ReauthRemoveAuthMethod($input: RemoveAuthMethodInput!) {
    removeAuthMethod(input: $input) { __typename ... on RemoveAuthMethodSuccess { kind user { mfaEnabled } } ... on Error { code } }
  }
`);
const RemoveOtpSms = graphql(`
  mutation ReauthRemoveOtpSms($input: RemoveOtpSmsInput!) {
    removeOtpSms(input: $input) { __typename ... on Error { code } }
  }
`);
const RemoveOtpEmail = graphql(`
  mutation ReauthRemoveOtpEmail($input: RemoveOtpEmailInput!) {
    removeOtpEmail(input: $input) { __typename ... on Error { code } }
  }
`);
const SetEmail = graphql(`
  mutation ReauthSetEmail($input: SetEmailInput!) {
    setEmail(input: $input) { __typename ... on Error { code } }
  }
`);
const StartPasskey = graphql(`
  mutation ReauthStartPasskey($input: StartPasskeyRegistrationInput!) {
    startPasskeyRegistration(input: $input) { __typename ... on Error { code } }
  }
`);
const Reauthenticate = graphql(`
  mutation ReauthReauthenticate($input: ReauthenticateInput!) {
    reauthenticate(input: $input) {
      __typename
      ... on ReauthenticateSuccess { reauthenticatedAt validUntil user { id } }
      ... on Error { code }
    }
  }
`);
const Me = graphql(`
  query ReauthMe {
    me { id mfaEnabled authMethods { id kind } }
  }
`);

const PASSWORD = 'correct horse battery staple';
const MAX_AGE_S = 300;
const clock = manualClock();
let t: TestApp;

beforeAll(async () => {
  // Access tokens outlive several proof windows here, as a refreshed token would.
  t = await createTestApp({ clock, env: { PORTCULLIS_REAUTH_MAX_AGE_SECONDS: String(MAX_AGE_S), PORTCULLIS_ACCESS_TOKEN_TTL_SECONDS: '3600' } });
});
afterAll(() => t?.close());

let n = 0;
/** A user with a password, TOTP, and SMS and email factors on verified contacts. */
async function victim() {
  const v = await seed(t).user({ email: `victim${++n}@example.com`, phone: `+1415555${String(2000 + n)}`, password: PASSWORD }).withOtpSms().withOtpEmail().withTotp();
  clock.advance(30_000);
  return { id: v.id, email: v.email!, secret: v.totp!.secret, totpId: v.totp!.authMethodId };
}

/** Signs in through the API with password and TOTP: a session that has just proved two factors. */
async function signIn(v: { email: string; secret: string }): Promise<string> {
  const first = await t.run(Login, { input: { identifier: v.email, password: PASSWORD } }, { token: null });
  if (first.login.__typename !== 'MfaRequired') throw new Error(`expected MfaRequired, got ${first.login.__typename}`);
  const code = totpCode(v.secret, totpStep(clock.now()));
  const done = await t.run(CompleteMfa, { input: { mfaToken: first.login.mfaToken, method: 'TOTP', code } }, { token: null });
  if (done.completeMfaLogin.__typename !== 'CompleteMfaLoginSuccess') throw new Error(`sign-in failed: ${done.completeMfaLogin.__typename}`);
  clock.advance(30_000);
  return done.completeMfaLogin.accessToken;
}

/** Lets the session's last proof age past the limit while the access token stays valid. */
const letProofAge = () => clock.advance((MAX_AGE_S + 1) * 1000);

describe('a stolen access token whose session has not proved a factor recently', () => {
  let v: Awaited<ReturnType<typeof victim>>;
  let token: string;
  beforeEach(async () => {
    v = await victim();
    token = await signIn(v);
    letProofAge();
  });

  it('cannot mint backup codes, drop a factor, move the email or register a passkey', async () => {
    const codes = await t.run(GenerateBackupCodes, { input: { userId: v.id } }, { token });
    expect(codes.generateBackupCodes).toEqual({ __typename: 'ReauthenticationRequiredError', code: 'REAUTHENTICATION_REQUIRED', maxAgeSeconds: MAX_AGE_S });
    expect((await t.run(RemoveOtpSms, { input: { userId: v.id } }, { token })).removeOtpSms).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED' });
    expect((await t.run(RemoveOtpEmail, { input: { userId: v.id } }, { token })).removeOtpEmail).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED' });
    const email = await t.run(SetEmail, { input: { userId: v.id, email: 'attacker@example.com' } }, { token });
    expect(email.setEmail).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED' });
    const passkey = await t.run(StartPasskey, { input: { userId: v.id } }, { token });
    expect(passkey.startPasskeyRegistration).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED' });
    const noCode = await t.run(RemoveAuthMethod, { input: { id: v.totpId } }, { token });
    expect(noCode.removeAuthMethod).toMatchObject({ code: 'INVALID_INPUT' });

    // Nothing changed: the next sign-in still needs the second factor.
    const me = await t.run(Me, undefined, { token });
    expect(me.me?.mfaEnabled).toBe(true);
    expect(me.me?.authMethods.map((m) => m.kind).sort()).toEqual(['OTP_EMAIL', 'OTP_SMS', 'PASSWORD', 'TOTP']);
    const again = await t.run(Login, { input: { identifier: v.email, password: PASSWORD } }, { token: null });
    expect(again.login.__typename).toBe('MfaRequired');
  });

  it('cannot re-authenticate with a backup code its own session minted, and the legitimate user can with a factor', async () => {
    // The legitimate user re-authenticates with the password, then generates backup codes.
    const proof = await t.run(Reauthenticate, { input: { password: PASSWORD } }, { token });
    expect(proof.reauthenticate).toMatchObject({ __typename: 'ReauthenticateSuccess', user: { id: v.id } });
    if (proof.reauthenticate.__typename !== 'ReauthenticateSuccess') return;
    expect(new Date(proof.reauthenticate.validUntil).getTime() - new Date(proof.reauthenticate.reauthenticatedAt).getTime()).toBe(MAX_AGE_S * 1000);
    const minted = await t.run(GenerateBackupCodes, { input: { userId: v.id } }, { token });
    if (minted.generateBackupCodes.__typename !== 'GenerateBackupCodesSuccess') throw new Error(minted.generateBackupCodes.__typename);
    const [first, second] = minted.generateBackupCodes.codes;

    // Later, whoever holds this token tries to turn those codes into a fresh proof.
    letProofAge();
    const viaReauth = await t.run(Reauthenticate, { input: { totpCode: first } }, { token });
    expect(viaReauth.reauthenticate).toMatchObject({ code: 'INCORRECT_CODE' });
    const viaRemoval = await t.run(RemoveAuthMethod, { input: { id: v.totpId, code: second } }, { token });
    expect(viaRemoval.removeAuthMethod).toMatchObject({ code: 'INCORRECT_CODE' });
    expect((await t.run(Me, undefined, { token })).me?.mfaEnabled).toBe(true);

    // The same codes work from another session (they are the user's codes, only not this session's proof).
    const other = await signIn(v);
    letProofAge();
    const fromOther = await t.run(Reauthenticate, { input: { totpCode: first } }, { token: other });
    expect(fromOther.reauthenticate.__typename).toBe('ReauthenticateSuccess');

    // And a current TOTP code removes the authenticator from the original session.
    const code = totpCode(v.secret, totpStep(clock.now()));
    const removed = await t.run(RemoveAuthMethod, { input: { id: v.totpId, code } }, { token });
    expect(removed.removeAuthMethod).toMatchObject({ __typename: 'RemoveAuthMethodSuccess', kind: 'TOTP' });
  });

  it('lets the user change factors again after reauthenticate, for the configured time only', async () => {
    const wrong = await t.run(Reauthenticate, { input: { password: 'not the password' } }, { token });
    expect(wrong.reauthenticate).toMatchObject({ code: 'INCORRECT_PASSWORD' });
    expect((await t.run(RemoveOtpSms, { input: { userId: v.id } }, { token })).removeOtpSms).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED' });

    const code = totpCode(v.secret, totpStep(clock.now()));
    expect((await t.run(Reauthenticate, { input: { totpCode: code } }, { token })).reauthenticate.__typename).toBe('ReauthenticateSuccess');
    expect((await t.run(RemoveOtpSms, { input: { userId: v.id } }, { token })).removeOtpSms.__typename).toBe('RemoveOtpSmsSuccess');

    letProofAge();
    expect((await t.run(RemoveOtpEmail, { input: { userId: v.id } }, { token })).removeOtpEmail).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED' });
  });

  it('asks exactly one proof, and only of access-token callers', async () => {
    const two = await t.run(Reauthenticate, { input: { password: PASSWORD, totpCode: '123456' } }, { token });
    expect(two.reauthenticate).toMatchObject({ code: 'INVALID_INPUT' });
    const none = await t.run(Reauthenticate, { input: {} }, { token });
    expect(none.reauthenticate).toMatchObject({ code: 'INVALID_INPUT' });
    const byKey = await t.exec(Reauthenticate, { input: { password: PASSWORD } });
    expect(byKey.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('right after sign-in, and for management callers', () => {
  it('needs no extra proof within the window that sign-in opened', async () => {
    const v = await victim();
    const token = await signIn(v);
    const r = await t.run(RemoveOtpEmail, { input: { userId: v.id } }, { token });
    expect(r.removeOtpEmail.__typename).toBe('RemoveOtpEmailSuccess');
  });

  it('never asks an API key to re-authenticate', async () => {
    const v = await victim();
    letProofAge();
    expect((await t.run(RemoveOtpSms, { input: { userId: v.id } })).removeOtpSms.__typename).toBe('RemoveOtpSmsSuccess');
    expect((await t.run(GenerateBackupCodes, { input: { userId: v.id } })).generateBackupCodes.__typename).toBe('GenerateBackupCodesSuccess');
    expect((await t.run(RemoveAuthMethod, { input: { id: v.totpId } })).removeAuthMethod).toMatchObject({ kind: 'TOTP', user: { mfaEnabled: true } });
  });
});
