/**
 * What a sign-in tells its caller: MfaRequired.methods in the AuthMethodKind
 * spellings, and passwordMustChange on every success that opens a session
 * (login, completeMfaLogin, completeMfaLoginWithPasskey), the same flag as
 * User.passwordMustChange: set by createUser (with a password or an imported
 * hash) and by setPassword, cleared by changePassword.
 */
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { totpCode, totpStep } from '../src/modules/totp/service.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed } from './helpers/seed.js';
import { softwareAuthenticator } from './helpers/webauthn-authenticator.js';
import { ORIGIN, VerifyRegistration, webauthnEnv, webauthnSteps } from './helpers/webauthn-operations.js';

const CreateUser = graphql(`
  mutation ResultsCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id passwordMustChange } } ... on Error { code message } }
  }
`);
const Login = graphql(`
  mutation ResultsLogin($input: LoginInput!) {
    login(input: $input) {
      __typename
      ... on LoginSuccess { accessToken passwordMustChange user { id passwordMustChange } }
      ... on MfaRequired { mfaToken methods }
      ... on Error { code message }
    }
  }
`);
const CompleteMfa = graphql(`
  mutation ResultsCompleteMfa($input: CompleteMfaLoginInput!) {
    completeMfaLogin(input: $input) {
      __typename
      ... on CompleteMfaLoginSuccess { accessToken passwordMustChange user { id } }
      ... on Error { code message }
    }
  }
`);
const CompleteWithPasskey = graphql(`
  mutation ResultsCompleteWithPasskey($input: CompleteMfaLoginWithPasskeyInput!) {
    completeMfaLoginWithPasskey(input: $input) {
      __typename
      ... on CompleteMfaLoginWithPasskeySuccess { accessToken passwordMustChange user { id } }
      ... on Error { code message }
    }
  }
`);
const ChangePassword = graphql(`
  mutation ResultsChangePassword($input: ChangePasswordInput!) {
    changePassword(input: $input) { __typename ... on ChangePasswordSuccess { user { passwordMustChange } } ... on Error { code message } }
  }
`);
const SetPassword = graphql(`
  mutation ResultsSetPassword($input: SetPasswordInput!) {
    setPassword(input: $input) { __typename ... on SetPasswordSuccess { user { passwordMustChange } } ... on Error { code message } }
  }
`);
const UserFlag = graphql(`
  query ResultsUserFlag($id: ID!) { user(id: $id) { passwordMustChange } }
`);
const FailedLogins = graphql(`
  query ResultsFailedLogins($userId: ID!) {
    events(first: 10, userId: $userId, types: [USER_LOGIN_FAILED]) { edges { node { data } } }
  }
`);

const PASSWORD = 'a flagged password';
const clock = manualClock(new Date());
let t: TestApp;
const webauthn = webauthnSteps(() => t);

beforeAll(async () => {
  t = await createTestApp({ clock, env: webauthnEnv });
});
afterAll(() => t?.close());

let n = 0;
async function createUser(input: { password?: string; passwordHash?: string; passwordMustChange?: boolean }) {
  const email = `results${++n}@example.com`;
  const r = (await t.run(CreateUser, { input: { email, ...input } })).createUser;
  if (r.__typename !== 'CreateUserSuccess') throw new Error(JSON.stringify(r));
  return { id: r.user.id, email, created: r.user };
}

const login = async (identifier: string, password = PASSWORD) => (await t.run(Login, { input: { identifier, password } }, { token: null })).login;

async function mfaRequired(identifier: string) {
  const r = await login(identifier);
  if (r.__typename !== 'MfaRequired') throw new Error(JSON.stringify(r));
  return r;
}

async function addPasskey(userId: string) {
  const key = softwareAuthenticator({ origin: ORIGIN });
  expect((await webauthn.register(userId, key)).__typename).toBe('VerifyPasskeyRegistrationSuccess');
  return key;
}

describe('passwordMustChange', () => {
  it('is true on LoginSuccess and on the user for a password created flagged, and false otherwise', async () => {
    const flagged = await createUser({ password: PASSWORD, passwordMustChange: true });
    expect(flagged.created.passwordMustChange).toBe(true);
    expect(await login(flagged.email)).toMatchObject({ __typename: 'LoginSuccess', passwordMustChange: true, user: { id: flagged.id, passwordMustChange: true } });

    const plain = await createUser({ password: PASSWORD });
    expect(await login(plain.email)).toMatchObject({ __typename: 'LoginSuccess', passwordMustChange: false, user: { passwordMustChange: false } });
  });

  it('is true for an imported hash created flagged', async () => {
    const imported = await createUser({ passwordHash: bcrypt.hashSync(PASSWORD, 4), passwordMustChange: true });
    expect(await login(imported.email)).toMatchObject({ __typename: 'LoginSuccess', passwordMustChange: true });
  });

  it('is cleared by changePassword, and set again by setPassword with mustChange', async () => {
    const u = await createUser({ password: PASSWORD, passwordMustChange: true });
    const first = await login(u.email);
    if (first.__typename !== 'LoginSuccess') throw new Error(JSON.stringify(first));
    expect(first.passwordMustChange).toBe(true);

    const NEW = 'the user chose this one';
    const changed = await t.run(ChangePassword, { input: { userId: u.id, currentPassword: PASSWORD, newPassword: NEW } }, { token: first.accessToken });
    expect(changed.changePassword).toEqual({ __typename: 'ChangePasswordSuccess', user: { passwordMustChange: false } });
    expect(await login(u.email, NEW)).toMatchObject({ __typename: 'LoginSuccess', passwordMustChange: false });

    // An admin reset that asks for a new password at next sign-in.
    const reset = await t.run(SetPassword, { input: { userId: u.id, password: 'an admin reset this', mustChange: true } });
    expect(reset.setPassword).toEqual({ __typename: 'SetPasswordSuccess', user: { passwordMustChange: true } });
    expect((await t.run(UserFlag, { id: u.id })).user).toEqual({ passwordMustChange: true });
    expect(await login(u.email, 'an admin reset this')).toMatchObject({ __typename: 'LoginSuccess', passwordMustChange: true });
  });

  it('is told after the second factor too: completeMfaLogin', async () => {
    const flagged = await seed(t).user({ password: PASSWORD }).withTotp();
    await t.app.services.passwords.setPassword(flagged.id, { password: PASSWORD, mustChange: true }, systemMeta);
    const plain = await seed(t).user({ password: PASSWORD }).withTotp();
    // The seeded registrations used the current step; the next one is fresh.
    clock.advance(30_000);
    for (const [u, expected] of [[flagged, true], [plain, false]] as const) {
      const { mfaToken } = await mfaRequired(u.email!);
      const code = totpCode(u.totp!.secret, totpStep(clock.now()));
      const done = await t.run(CompleteMfa, { input: { mfaToken, method: 'TOTP', code } }, { token: null });
      expect(done.completeMfaLogin).toMatchObject({ __typename: 'CompleteMfaLoginSuccess', passwordMustChange: expected, user: { id: u.id } });
    }
  });

  it('is told after the second factor too: completeMfaLoginWithPasskey', async () => {
    const u = await createUser({ password: PASSWORD, passwordMustChange: true });
    const key = await addPasskey(u.id);
    const { mfaToken } = await mfaRequired(u.email);
    const response = key.authenticate(await webauthn.startAuthentication());
    const done = await t.run(CompleteWithPasskey, { input: { mfaToken, response } }, { token: null });
    expect(done.completeMfaLoginWithPasskey).toMatchObject({ __typename: 'CompleteMfaLoginWithPasskeySuccess', passwordMustChange: true, user: { id: u.id } });
  });
});

describe('MFA methods', () => {
  it('are named like the AuthMethodKind of each factor, preferred first; a security key is PASSKEY', async () => {
    const u = await seed(t).user({ password: PASSWORD, phone: '+14155550188' }).withTotp().withBackupCodes().withOtpSms().withOtpEmail();
    const options = await webauthn.startRegistration(u.id, 'U2F');
    const u2f = await t.run(VerifyRegistration, { input: { userId: u.id, response: softwareAuthenticator({ origin: ORIGIN, userVerified: false }).register(options) } });
    expect(u2f.verifyPasskeyRegistration).toMatchObject({ authMethod: { kind: 'U2F' } });
    expect((await mfaRequired(u.email!)).methods).toEqual(['TOTP', 'PASSKEY', 'OTP_SMS', 'OTP_EMAIL', 'BACKUP_CODES']);
  });

  it('finishes with BACKUP_CODES, and a failed attempt records the method in the same spelling', async () => {
    const u = await seed(t).user({ password: PASSWORD }).withTotp().withBackupCodes();
    const { mfaToken } = await mfaRequired(u.email!);
    const wrong = await t.run(CompleteMfa, { input: { mfaToken, method: 'BACKUP_CODES', code: 'AAAAA-AAAAA' } }, { token: null });
    expect(wrong.completeMfaLogin).toMatchObject({ __typename: 'IncorrectCodeError' });
    const failed = (await t.run(FailedLogins, { userId: u.id })).events.edges.map((e) => e.node.data);
    expect(failed).toEqual([{ reason: 'incorrect_code', method: 'BACKUP_CODES' }]);
    const done = await t.run(CompleteMfa, { input: { mfaToken, method: 'BACKUP_CODES', code: u.backupCodes![0] } }, { token: null });
    expect(done.completeMfaLogin).toMatchObject({ __typename: 'CompleteMfaLoginSuccess', passwordMustChange: false });
  });
});
