/**
 * Passkeys and security keys through the GraphQL API, with a software
 * authenticator (test/helpers/webauthn-authenticator.ts) standing in for the browser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { softwareAuthenticator } from './helpers/webauthn-authenticator.js';
import {
  CreateLink,
  ORIGIN,
  RP_ID,
  StartAuthentication,
  StartRegistration,
  StartWithCode,
  UserEvents,
  VerifyAuthentication,
  VerifyRegistration,
  VerifyWithCode,
  webauthnEnv,
  webauthnSteps,
  type Options,
  type RequestOptions,
} from './helpers/webauthn-operations.js';

const PasskeyNode = graphql(`
  query WaPasskeyNode($id: ID!) {
    node(id: $id) { __typename id ... on PasskeyMethod { kind name createdAt lastUsedAt } }
  }
`);
const RemovePasskey = graphql(`
  mutation WaRemovePasskey($input: RemoveAuthMethodInput!) {
    removeAuthMethod(input: $input) { __typename ... on RemoveAuthMethodSuccess { kind user { mfaEnabled } } ... on Error { code } }
  }
`);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: webauthnEnv });
});
afterAll(() => t.close());

const { newUser, startRegistration, register } = webauthnSteps(() => t);

describe('registration', () => {
  it('offers passkey options: a resident key and user verification required, the RP from config, a fresh challenge', async () => {
    const userId = await newUser('opts@example.com');
    const first = await startRegistration(userId);
    expect(first.rp).toEqual({ id: RP_ID, name: 'Example ID' });
    expect(first.user.name).toBe('opts@example.com');
    expect(Buffer.from(first.user.id, 'base64url').toString()).toBe(userId);
    expect(first.authenticatorSelection).toMatchObject({ residentKey: 'required', requireResidentKey: true, userVerification: 'required' });
    expect(first.attestation).toBe('none');
    expect(first.excludeCredentials).toEqual([]);
    expect(first.challenge).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const second = await startRegistration(userId);
    expect(second.challenge).not.toBe(first.challenge);
  });

  it('offers U2F options: a cross-platform, non-discoverable security key', async () => {
    const userId = await newUser('u2f-opts@example.com');
    const options = await startRegistration(userId, 'U2F');
    expect(options.authenticatorSelection).toMatchObject({ authenticatorAttachment: 'cross-platform', residentKey: 'discouraged', requireResidentKey: false, userVerification: 'discouraged' });
  });

  it('verifies an attestation and stores a PASSKEY with its public facts, and records user.passkey_added', async () => {
    const userId = await newUser('reg@example.com');
    const key = softwareAuthenticator({ origin: ORIGIN });
    const result = await register(userId, key, '  Work laptop ');
    expect(result).toMatchObject({
      __typename: 'VerifyPasskeyRegistrationSuccess',
      user: { id: userId, mfaEnabled: true },
      authMethod: { __typename: 'PasskeyMethod', kind: 'PASSKEY', verified: true, name: 'Work laptop', deviceType: 'singleDevice', backedUp: false, lastUsedAt: null },
    });
    if (result.__typename !== 'VerifyPasskeyRegistrationSuccess') return;
    expect(result.authMethod.id).toMatch(/^am_pk_/);
    expect(result.user.authMethods).toEqual([{ __typename: 'PasskeyMethod', id: result.authMethod.id, kind: 'PASSKEY' }]);

    const row = await t.app.database.client.authMethod.findUniqueOrThrow({ where: { id: result.authMethod.id } });
    expect(row).toMatchObject({ credentialId: key.credentialId, counter: 0, secret: null });
    expect(row.data).toMatchObject({ transports: ['usb'], aaguid: '00000000-0000-0000-0000-000000000000', attestationFormat: 'none', discoverable: true });
    expect((row.data as { publicKey: string }).publicKey).toMatch(/^[A-Za-z0-9_-]+$/);

    const { user } = await t.run(UserEvents, { id: userId });
    const added = user!.events.edges.find((e) => e.node.type === 'USER_PASSKEY_ADDED');
    expect(added?.node.data).toMatchObject({ authMethod: { id: result.authMethod.id, kind: 'PASSKEY', name: 'Work laptop' } });
    expect(JSON.stringify(added?.node.data)).not.toContain((row.data as { publicKey: string }).publicKey);

    // The next registration excludes the credential the user already has.
    const again = await startRegistration(userId);
    expect(again.excludeCredentials).toEqual([{ id: key.credentialId, type: 'public-key', transports: ['usb'] }]);
  });

  it('stores a security key as U2F without user verification, but demands it from a passkey', async () => {
    const userId = await newUser('u2f@example.com');
    const u2f = softwareAuthenticator({ origin: ORIGIN, userVerified: false });
    const options = await startRegistration(userId, 'U2F');
    const ok = await t.run(VerifyRegistration, { input: { userId, response: u2f.register(options) } });
    expect(ok.verifyPasskeyRegistration).toMatchObject({ __typename: 'VerifyPasskeyRegistrationSuccess', authMethod: { __typename: 'U2fMethod', kind: 'U2F', name: 'Security key' } });

    const noUv = softwareAuthenticator({ origin: ORIGIN, userVerified: false });
    const refused = await t.run(VerifyRegistration, { input: { userId, response: noUv.register(await startRegistration(userId)) } });
    expect(refused.verifyPasskeyRegistration).toMatchObject({ __typename: 'WebAuthnVerificationError', code: 'WEBAUTHN_VERIFICATION_FAILED', reason: 'USER_VERIFICATION_REQUIRED' });
  });

  it('refuses the same credential twice and a malformed response', async () => {
    const userId = await newUser('twice@example.com');
    const key = softwareAuthenticator({ origin: ORIGIN });
    expect((await register(userId, key)).__typename).toBe('VerifyPasskeyRegistrationSuccess');
    expect(await register(userId, key)).toMatchObject({ __typename: 'AlreadyExistsError', code: 'ALREADY_EXISTS' });
    const bad = await t.run(VerifyRegistration, { input: { userId, response: { id: 'x' } } });
    expect(bad.verifyPasskeyRegistration).toMatchObject({ __typename: 'WebAuthnVerificationError', reason: 'MALFORMED_RESPONSE' });
  });

  it('answers UserNotFoundError for an unknown user and refuses anonymous callers', async () => {
    const missing = await t.run(StartRegistration, { input: { userId: 'usr_missing' } });
    expect(missing.startPasskeyRegistration).toMatchObject({ __typename: 'UserNotFoundError' });
    const anonymous = await t.exec(StartRegistration, { input: { userId: 'usr_missing' } }, { token: null });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('authentication', () => {
  it("signs a user in with one of their credentials, moves the counter and lastUsedAt, and records user.passkey_verified", async () => {
    const userId = await newUser('auth@example.com');
    const key = softwareAuthenticator({ origin: ORIGIN });
    await register(userId, key);
    const started = await t.run(StartAuthentication, { input: { userId } }, { token: null });
    if (started.startPasskeyAuthentication.__typename !== 'StartPasskeyAuthenticationSuccess') throw new Error(JSON.stringify(started));
    const options = started.startPasskeyAuthentication.options as RequestOptions;
    expect(options).toMatchObject({ rpId: RP_ID, userVerification: 'preferred', allowCredentials: [{ id: key.credentialId, type: 'public-key' }] });

    const data = await t.run(VerifyAuthentication, { input: { response: key.authenticate(options) } }, { token: null });
    expect(data.verifyPasskeyAuthentication).toMatchObject({ __typename: 'VerifyPasskeyAuthenticationSuccess', user: { id: userId }, authMethod: { kind: 'PASSKEY' } });
    if (data.verifyPasskeyAuthentication.__typename !== 'VerifyPasskeyAuthenticationSuccess') return;
    expect(data.verifyPasskeyAuthentication.authMethod.lastUsedAt).toBeTruthy();
    // A passkey stands in for password plus second factor: a session, like login's.
    const signedIn = data.verifyPasskeyAuthentication;
    expect(signedIn.accessToken?.split('.')).toHaveLength(3);
    expect(signedIn).toMatchObject({ tokenType: 'Bearer', refreshToken: expect.stringMatching(/^pcr_/), sessionId: expect.stringMatching(/^ses_/) });
    expect(signedIn.user.lastLoginAt).toBeTruthy();
    const row = await t.app.database.client.authMethod.findFirstOrThrow({ where: { credentialId: key.credentialId } });
    expect(row.counter).toBe(1);
    const { user } = await t.run(UserEvents, { id: userId });
    const types = user!.events.edges.map((e) => e.node.type);
    expect(types).toEqual(expect.arrayContaining(['USER_PASSKEY_VERIFIED', 'USER_LOGGED_IN']));
    const loggedIn = user!.events.edges.find((e) => e.node.type === 'USER_LOGGED_IN');
    expect(loggedIn?.node.data).toMatchObject({ method: 'passkey', sessionId: signedIn.sessionId });
  });

  it("gives an access token with which the user may add a passkey to their own account only", async () => {
    const userId = await newUser('self@example.com');
    const other = await newUser('other-self@example.com');
    const key = softwareAuthenticator({ origin: ORIGIN });
    await register(userId, key);
    const started = await t.run(StartAuthentication, { input: {} }, { token: null });
    if (started.startPasskeyAuthentication.__typename !== 'StartPasskeyAuthenticationSuccess') throw new Error(JSON.stringify(started));
    const signedIn = await t.run(VerifyAuthentication, { input: { response: key.authenticate(started.startPasskeyAuthentication.options as RequestOptions) } }, { token: null });
    if (signedIn.verifyPasskeyAuthentication.__typename !== 'VerifyPasskeyAuthenticationSuccess') throw new Error(JSON.stringify(signedIn));
    const token = signedIn.verifyPasskeyAuthentication.accessToken!;

    const second = softwareAuthenticator({ origin: ORIGIN });
    const options = await t.run(StartRegistration, { input: { userId } }, { token });
    if (options.startPasskeyRegistration.__typename !== 'StartPasskeyRegistrationSuccess') throw new Error(JSON.stringify(options));
    const added = await t.run(VerifyRegistration, { input: { userId, response: second.register(options.startPasskeyRegistration.options as Options), name: 'Backup key' } }, { token });
    expect(added.verifyPasskeyRegistration).toMatchObject({ __typename: 'VerifyPasskeyRegistrationSuccess', authMethod: { name: 'Backup key' } });

    const foreign = await t.exec(StartRegistration, { input: { userId: other } }, { token });
    expect(foreign.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('signs in without a user id (discoverable), with user verification required', async () => {
    const userId = await newUser('disco@example.com');
    const key = softwareAuthenticator({ origin: ORIGIN });
    await register(userId, key);
    const started = await t.run(StartAuthentication, { input: {} }, { token: null });
    if (started.startPasskeyAuthentication.__typename !== 'StartPasskeyAuthenticationSuccess') throw new Error(JSON.stringify(started));
    const options = started.startPasskeyAuthentication.options as RequestOptions;
    expect(options.userVerification).toBe('required');
    expect(options.allowCredentials ?? []).toEqual([]);
    const data = await t.run(VerifyAuthentication, { input: { response: key.authenticate(options) } }, { token: null });
    expect(data.verifyPasskeyAuthentication).toMatchObject({ __typename: 'VerifyPasskeyAuthenticationSuccess', user: { id: userId } });
  });

  it('accepts a second origin from the configured list', async () => {
    const userId = await newUser('origin2@example.com');
    const key = softwareAuthenticator({ origin: 'https://other.example.test' });
    expect((await register(userId, key)).__typename).toBe('VerifyPasskeyRegistrationSuccess');
  });

  it('answers InvalidStateError for a user without credentials', async () => {
    const userId = await newUser('nokeys@example.com');
    const data = await t.run(StartAuthentication, { input: { userId } }, { token: null });
    expect(data.startPasskeyAuthentication).toMatchObject({ __typename: 'InvalidStateError', code: 'INVALID_STATE' });
  });
});

describe('removal', () => {
  it('removes a passkey with removeAuthMethod (user.passkey_removed); its assertions are refused afterwards', async () => {
    const userId = await newUser('remove@example.com');
    const key = softwareAuthenticator({ origin: ORIGIN });
    const registered = await register(userId, key);
    if (registered.__typename !== 'VerifyPasskeyRegistrationSuccess') throw new Error(JSON.stringify(registered));
    const node = await t.run(PasskeyNode, { id: registered.authMethod.id });
    expect(node.node).toMatchObject({ __typename: 'PasskeyMethod', kind: 'PASSKEY', name: 'Passkey' });

    const removed = await t.run(RemovePasskey, { input: { id: registered.authMethod.id } });
    expect(removed.removeAuthMethod).toMatchObject({ __typename: 'RemoveAuthMethodSuccess', kind: 'PASSKEY', user: { mfaEnabled: false } });
    const { user } = await t.run(UserEvents, { id: userId });
    expect(user!.events.edges.map((e) => e.node.type)).toContain('USER_PASSKEY_REMOVED');

    const started = await t.run(StartAuthentication, { input: {} }, { token: null });
    if (started.startPasskeyAuthentication.__typename !== 'StartPasskeyAuthenticationSuccess') throw new Error(JSON.stringify(started));
    const data = await t.run(VerifyAuthentication, { input: { response: key.authenticate(started.startPasskeyAuthentication.options as RequestOptions) } }, { token: null });
    expect(data.verifyPasskeyAuthentication).toMatchObject({ __typename: 'WebAuthnVerificationError', reason: 'CREDENTIAL_NOT_FOUND' });
  });
});

describe('registration links', () => {
  it('lets the user register anonymously with a single-use code', async () => {
    const userId = await newUser('link@example.com');
    const link = await t.run(CreateLink, { input: { userId, returnCode: true } });
    if (link.createPasskeyRegistrationLink.__typename !== 'CreatePasskeyRegistrationLinkSuccess') throw new Error(JSON.stringify(link));
    const code = link.createPasskeyRegistrationLink.linkCode!;
    expect(code).toMatch(/^[0-9A-Z]{20}$/);

    const wrong = await t.run(StartWithCode, { input: { userId, code: 'WRONGWRONGWRONGWRONG' } }, { token: null });
    expect(wrong.startPasskeyRegistrationWithCode).toMatchObject({ __typename: 'IncorrectCodeError' });

    const started = await t.run(StartWithCode, { input: { userId, code: code.toLowerCase() } }, { token: null });
    if (started.startPasskeyRegistrationWithCode.__typename !== 'StartPasskeyRegistrationWithCodeSuccess') throw new Error(JSON.stringify(started));
    const key = softwareAuthenticator({ origin: ORIGIN });
    const done = await t.run(VerifyWithCode, { input: { userId, response: key.register(started.startPasskeyRegistrationWithCode.options as Options), name: 'Phone' } }, { token: null });
    expect(done.verifyPasskeyRegistrationWithCode).toMatchObject({ __typename: 'VerifyPasskeyRegistrationWithCodeSuccess', authMethod: { kind: 'PASSKEY' } });

    const reused = await t.run(StartWithCode, { input: { userId, code } }, { token: null });
    expect(reused.startPasskeyRegistrationWithCode).toMatchObject({ __typename: 'CodeAlreadyUsedError' });
  });

  it('does not let the anonymous path finish a ceremony an admin started', async () => {
    const userId = await newUser('link-admin@example.com');
    const options = await startRegistration(userId);
    const key = softwareAuthenticator({ origin: ORIGIN });
    const data = await t.run(VerifyWithCode, { input: { userId, response: key.register(options) } }, { token: null });
    expect(data.verifyPasskeyRegistrationWithCode).toMatchObject({ __typename: 'WebAuthnVerificationError', reason: 'CHALLENGE_NOT_FOUND' });
    // The challenge was left alone: the admin path can still finish it.
    const finished = await t.run(VerifyRegistration, { input: { userId, response: key.register(options) } });
    expect(finished.verifyPasskeyRegistration.__typename).toBe('VerifyPasskeyRegistrationSuccess');
  });

  it('refuses to send a link without PORTCULLIS_PASSKEY_LINK_URL, and an unknown code user looks like a wrong code', async () => {
    const userId = await newUser('link-deliver@example.com');
    const data = await t.run(CreateLink, { input: { userId } });
    expect(data.createPasskeyRegistrationLink).toMatchObject({ __typename: 'InvalidStateError', code: 'INVALID_STATE' });
    const unknown = await t.run(StartWithCode, { input: { userId: 'usr_unknown', code: 'ABCDEFGHJKMNPQRSTVWX' } }, { token: null });
    expect(unknown.startPasskeyRegistrationWithCode).toMatchObject({ __typename: 'IncorrectCodeError' });
  });
});
