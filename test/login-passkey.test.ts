/**
 * MFA step-up with a passkey: a user whose second factor is a passkey enters
 * the password, then answers a WebAuthn challenge with a credential of their
 * own; another user's passkey does not finish their sign-in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { softwareAuthenticator } from './helpers/webauthn-authenticator.js';
import { ORIGIN, webauthnEnv, webauthnSteps } from './helpers/webauthn-operations.js';

const PasskeyLogin = graphql(`
  mutation PasskeyMfaLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on MfaRequired { mfaToken methods } ... on Error { code } }
  }
`);
const CompleteWithPasskey = graphql(`
  mutation PasskeyMfaComplete($input: CompleteMfaLoginWithPasskeyInput!) {
    completeMfaLoginWithPasskey(input: $input) {
      __typename
      ... on CompleteMfaLoginWithPasskeySuccess { accessToken user { id lastLoginAt } }
      ... on Error { code message }
    }
  }
`);

const PASSWORD = 'passkeys are nicer than passwords';
let t: TestApp;
const steps = webauthnSteps(() => t);

beforeAll(async () => {
  t = await createTestApp({ env: { ...webauthnEnv } });
});
afterAll(() => t?.close());

async function userWithPasskey(email: string) {
  const id = await steps.newUser(email);
  await t.app.services.passwords.setPassword(id, { password: PASSWORD }, systemMeta);
  const key = softwareAuthenticator({ origin: ORIGIN });
  const registered = await steps.register(id, key);
  expect(registered.__typename).toBe('VerifyPasskeyRegistrationSuccess');
  return { id, email, key };
}

async function mfaToken(email: string) {
  const r = (await t.run(PasskeyLogin, { input: { identifier: email, password: PASSWORD } }, { token: null })).login;
  if (r.__typename !== 'MfaRequired') throw new Error(JSON.stringify(r));
  expect(r.methods).toEqual(['PASSKEY']);
  return r.mfaToken;
}

describe('MFA with a passkey', () => {
  it('finishes the sign-in with the user\'s own passkey, once', async () => {
    const u = await userWithPasskey('pk-mfa@example.com');
    const token = await mfaToken(u.email);
    const response = u.key.authenticate(await steps.startAuthentication());
    const done = await t.run(CompleteWithPasskey, { input: { mfaToken: token, response } }, { token: null });
    expect(done.completeMfaLoginWithPasskey).toMatchObject({ __typename: 'CompleteMfaLoginWithPasskeySuccess', user: { id: u.id } });

    const again = u.key.authenticate(await steps.startAuthentication());
    const reused = await t.run(CompleteWithPasskey, { input: { mfaToken: token, response: again } }, { token: null });
    expect(reused.completeMfaLoginWithPasskey).toMatchObject({ __typename: 'CodeAlreadyUsedError' });
  });

  it("refuses another user's passkey and keeps the MFA token for the right one", async () => {
    const u = await userWithPasskey('pk-victim@example.com');
    const mallory = await userWithPasskey('pk-mallory@example.com');
    const token = await mfaToken(u.email);
    const wrong = mallory.key.authenticate(await steps.startAuthentication());
    const refused = await t.run(CompleteWithPasskey, { input: { mfaToken: token, response: wrong } }, { token: null });
    expect(refused.completeMfaLoginWithPasskey).toMatchObject({ __typename: 'InvalidInputError' });
    const right = u.key.authenticate(await steps.startAuthentication());
    const done = await t.run(CompleteWithPasskey, { input: { mfaToken: token, response: right } }, { token: null });
    expect(done.completeMfaLoginWithPasskey.__typename).toBe('CompleteMfaLoginWithPasskeySuccess');
  });
});
