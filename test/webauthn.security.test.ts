/**
 * Threats to passkey sign-in and registration:
 * - replay: a captured registration or assertion response is sent again, or
 *   twice at once (challenges are single use, consumed by a conditional update);
 * - stale challenges: a response for a challenge past its lifetime (manual clock);
 * - phishing: a response made for another origin or another RP ID;
 * - cloned authenticators: a valid signature whose counter does not move
 *   forward, refused and recorded as user.passkey_counter_regressed;
 * - forgery and confusion: a bad signature, another user's credential or
 *   challenge, a locked user.
 * Each refusal is followed by the genuine response, which still signs in:
 * the checks refuse the attack, not the user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { softwareAuthenticator } from './helpers/webauthn-authenticator.js';
import { ORIGIN, UserEvents, VerifyRegistration, webauthnEnv, webauthnSteps } from './helpers/webauthn-operations.js';
import { graphql } from './gql/index.js';

const LockUser = graphql(`
  mutation WaLockUser($id: ID!) { lockUser(input: { userId: $id }) { __typename } }
`);
const UnlockUser = graphql(`
  mutation WaUnlockUser($id: ID!) { unlockUser(input: { userId: $id }) { __typename } }
`);

const clock = manualClock(new Date('2026-03-01T10:00:00Z'));
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ clock, env: { ...webauthnEnv, PORTCULLIS_WEBAUTHN_CHALLENGE_TTL_SECONDS: '60' } });
});
afterAll(() => t.close());

const { newUser, startRegistration, register, startAuthentication, authenticate } = webauthnSteps(() => t);

async function enrolled(email: string) {
  const userId = await newUser(email);
  const key = softwareAuthenticator({ origin: ORIGIN });
  const result = await register(userId, key);
  if (result.__typename !== 'VerifyPasskeyRegistrationSuccess') throw new Error(JSON.stringify(result));
  return { userId, key, authMethodId: result.authMethod.id };
}

const eventsOf = async (userId: string) => (await t.run(UserEvents, { id: userId })).user!.events.edges.map((e) => e.node);
const methodRow = (credentialId: string) => t.app.database.client.authMethod.findFirstOrThrow({ where: { credentialId } });

/** The genuine response to a fresh challenge signs `userId` in. */
async function signsIn(key: ReturnType<typeof softwareAuthenticator>, userId: string, options?: { origin?: string }) {
  expect(await authenticate(key.authenticate(await startAuthentication(), options))).toMatchObject({ __typename: 'VerifyPasskeyAuthenticationSuccess', user: { id: userId } });
}

describe('challenges are single use', () => {
  it('refuses a replayed registration response', async () => {
    const userId = await newUser('replay-reg@example.com');
    const key = softwareAuthenticator({ origin: ORIGIN });
    const response = key.register(await startRegistration(userId));
    const first = await t.run(VerifyRegistration, { input: { userId, response } });
    expect(first.verifyPasskeyRegistration.__typename).toBe('VerifyPasskeyRegistrationSuccess');
    const again = await t.run(VerifyRegistration, { input: { userId, response } });
    expect(again.verifyPasskeyRegistration).toMatchObject({ __typename: 'WebAuthnVerificationError', reason: 'CHALLENGE_ALREADY_USED' });
  });

  it('refuses a replayed assertion, and lets exactly one of two concurrent submissions through', async () => {
    const { key } = await enrolled('replay-auth@example.com');
    const response = key.authenticate(await startAuthentication());
    const results = await Promise.all([authenticate(response), authenticate(response)]);
    expect(results.map((r) => r.__typename).sort()).toEqual(['VerifyPasskeyAuthenticationSuccess', 'WebAuthnVerificationError']);
    expect(results.find((r) => r.__typename === 'WebAuthnVerificationError')).toMatchObject({ reason: 'CHALLENGE_ALREADY_USED' });
    expect(await authenticate(response)).toMatchObject({ reason: 'CHALLENGE_ALREADY_USED' });
  });

  it('burns a challenge on a failed attempt, so a corrected response cannot reuse it', async () => {
    const { userId, key } = await enrolled('burn@example.com');
    const options = await startAuthentication();
    expect(await authenticate(key.authenticate(options, { origin: 'https://evil.example' }))).toMatchObject({ reason: 'ORIGIN_MISMATCH' });
    expect(await authenticate(key.authenticate(options))).toMatchObject({ reason: 'CHALLENGE_ALREADY_USED' });
    await signsIn(key, userId);
  });

  it('refuses a challenge the server never issued', async () => {
    const { userId, key } = await enrolled('unknown-challenge@example.com');
    const forged = key.authenticate({ challenge: Buffer.from('not from the server').toString('base64url'), rpId: 'id.example.test' });
    expect(await authenticate(forged)).toMatchObject({ reason: 'CHALLENGE_NOT_FOUND' });
    await signsIn(key, userId);
  });
});

describe('challenges expire', () => {
  it('refuses registration and assertion responses after the challenge lifetime', async () => {
    const { userId, key } = await enrolled('expiry@example.com');
    const regOptions = await startRegistration(userId);
    const authOptions = await startAuthentication(userId);
    clock.advance(59_000);
    // Still inside the lifetime: works.
    const late = softwareAuthenticator({ origin: ORIGIN });
    const inTime = await t.run(VerifyRegistration, { input: { userId, response: late.register(regOptions) } });
    expect(inTime.verifyPasskeyRegistration.__typename).toBe('VerifyPasskeyRegistrationSuccess');
    clock.advance(2_000);
    expect(await authenticate(key.authenticate(authOptions))).toMatchObject({ reason: 'CHALLENGE_EXPIRED' });
    const expiredReg = await t.run(VerifyRegistration, { input: { userId, response: softwareAuthenticator({ origin: ORIGIN }).register(regOptions) } });
    expect(expiredReg.verifyPasskeyRegistration).toMatchObject({ reason: 'CHALLENGE_ALREADY_USED' });
    const fresh = await startRegistration(userId);
    clock.advance(61_000);
    const tooLate = await t.run(VerifyRegistration, { input: { userId, response: softwareAuthenticator({ origin: ORIGIN }).register(fresh) } });
    expect(tooLate.verifyPasskeyRegistration).toMatchObject({ __typename: 'WebAuthnVerificationError', reason: 'CHALLENGE_EXPIRED' });
  });
});

describe('origin and RP ID', () => {
  it('refuses registration from another origin or for another RP ID', async () => {
    const userId = await newUser('phish-reg@example.com');
    const key = softwareAuthenticator({ origin: ORIGIN });
    const wrongOrigin = await t.run(VerifyRegistration, { input: { userId, response: key.register(await startRegistration(userId), { origin: 'https://id.example.test.evil.example' }) } });
    expect(wrongOrigin.verifyPasskeyRegistration).toMatchObject({ reason: 'ORIGIN_MISMATCH' });
    const wrongRp = await t.run(VerifyRegistration, { input: { userId, response: key.register(await startRegistration(userId), { rpId: 'evil.example' }) } });
    expect(wrongRp.verifyPasskeyRegistration).toMatchObject({ reason: 'RP_ID_MISMATCH' });
    expect(await t.app.database.client.authMethod.count({ where: { userId } })).toBe(0);
    // The same authenticator on the right origin and RP ID registers.
    expect(await register(userId, key)).toMatchObject({ __typename: 'VerifyPasskeyRegistrationSuccess', user: { id: userId } });
    expect(await t.app.database.client.authMethod.count({ where: { userId } })).toBe(1);
  });

  it('refuses assertions from another origin or for another RP ID', async () => {
    const { userId, key } = await enrolled('phish-auth@example.com');
    expect(await authenticate(key.authenticate(await startAuthentication(), { origin: 'http://id.example.test' }))).toMatchObject({ reason: 'ORIGIN_MISMATCH' });
    expect(await authenticate(key.authenticate(await startAuthentication(), { rpId: 'example.test' }))).toMatchObject({ reason: 'RP_ID_MISMATCH' });
    expect(await authenticate(key.authenticate(await startAuthentication(), { type: 'webauthn.create' }))).toMatchObject({ __typename: 'WebAuthnVerificationError' });
    // Both configured origins sign in.
    await signsIn(key, userId);
    await signsIn(key, userId, { origin: 'https://other.example.test' });
  });
});

describe('signature counter', () => {
  it('refuses a counter that does not move forward and records user.passkey_counter_regressed', async () => {
    const { userId, key } = await enrolled('clone@example.com');
    expect((await authenticate(key.authenticate(await startAuthentication(), { counter: 5 }))).__typename).toBe('VerifyPasskeyAuthenticationSuccess');
    const before = await methodRow(key.credentialId);
    expect(before.counter).toBe(5);

    for (const counter of [5, 3]) {
      const result = await authenticate(key.authenticate(await startAuthentication(), { counter }));
      expect(result).toMatchObject({ __typename: 'WebAuthnVerificationError', reason: 'COUNTER_REGRESSED' });
    }
    const after = await methodRow(key.credentialId);
    expect(after.counter).toBe(5);
    expect(after.lastUsedAt).toEqual(before.lastUsedAt);
    const regressions = (await eventsOf(userId)).filter((e) => e.type === 'USER_PASSKEY_COUNTER_REGRESSED');
    expect(regressions.map((e) => e.data)).toMatchObject([
      { storedCounter: 5, receivedCounter: 5, authMethod: { id: before.id } },
      { storedCounter: 5, receivedCounter: 3 },
    ]);
    // The genuine authenticator, moving forward, still works.
    expect((await authenticate(key.authenticate(await startAuthentication(), { counter: 6 }))).__typename).toBe('VerifyPasskeyAuthenticationSuccess');
  });

  it('accepts authenticators that keep their counter at zero (no counter support)', async () => {
    const { key } = await enrolled('zero@example.com');
    for (let i = 0; i < 2; i++) {
      expect((await authenticate(key.authenticate(await startAuthentication(), { counter: 0 }))).__typename).toBe('VerifyPasskeyAuthenticationSuccess');
    }
  });
});

describe('forgery and confusion', () => {
  it('refuses a bad signature without recording a counter regression', async () => {
    const { userId, key } = await enrolled('forged@example.com');
    const response = key.authenticate(await startAuthentication(), { counter: 0 }) as { response: { signature: string } };
    const sig = Buffer.from(response.response.signature, 'base64url');
    sig[sig.length - 1] ^= 0x01;
    response.response.signature = sig.toString('base64url');
    expect(await authenticate(response)).toMatchObject({ __typename: 'WebAuthnVerificationError' });
    expect((await eventsOf(userId)).map((e) => e.type)).not.toContain('USER_PASSKEY_COUNTER_REGRESSED');
    expect((await methodRow(key.credentialId)).lastUsedAt).toBeNull();
    await signsIn(key, userId);
  });

  it("does not let one user's challenge be answered with another user's credential", async () => {
    const alice = await enrolled('alice@example.com');
    const mallory = await enrolled('mallory@example.com');
    const forAlice = await startAuthentication(alice.userId);
    expect(await authenticate(mallory.key.authenticate(forAlice))).toMatchObject({ reason: 'CREDENTIAL_NOT_FOUND' });
    // A user handle naming someone else is refused too.
    expect(await authenticate(mallory.key.authenticate(await startAuthentication(), { userHandle: Buffer.from(alice.userId).toString('base64url') }))).toMatchObject({
      reason: 'CREDENTIAL_NOT_FOUND',
    });
    // Alice answers her own challenge; Mallory signs in as Mallory only.
    expect(await authenticate(alice.key.authenticate(await startAuthentication(alice.userId)))).toMatchObject({
      __typename: 'VerifyPasskeyAuthenticationSuccess',
      user: { id: alice.userId },
    });
    await signsIn(mallory.key, mallory.userId);
  });

  it("does not let a registration challenge started for one user register a credential for another", async () => {
    const alice = await newUser('reg-alice@example.com');
    const bob = await newUser('reg-bob@example.com');
    const key = softwareAuthenticator({ origin: ORIGIN });
    const data = await t.run(VerifyRegistration, { input: { userId: bob, response: key.register(await startRegistration(alice)) } });
    expect(data.verifyPasskeyRegistration).toMatchObject({ reason: 'CHALLENGE_NOT_FOUND' });
    expect(await t.app.database.client.authMethod.count({ where: { userId: bob } })).toBe(0);
    // Bob registers with a challenge started for him.
    expect(await register(bob, key)).toMatchObject({ __typename: 'VerifyPasskeyRegistrationSuccess', user: { id: bob } });
  });

  it('refuses an unknown credential and a locked user', async () => {
    const stranger = softwareAuthenticator({ origin: ORIGIN });
    stranger.register({ challenge: 'x', rp: { id: 'id.example.test' }, user: { id: 'dXNy' } });
    expect(await authenticate(stranger.authenticate(await startAuthentication()))).toMatchObject({ reason: 'CREDENTIAL_NOT_FOUND' });

    const { userId, key } = await enrolled('locked@example.com');
    await t.run(LockUser, { id: userId });
    expect(await authenticate(key.authenticate(await startAuthentication()))).toMatchObject({ __typename: 'UserLockedError', code: 'USER_LOCKED' });
    expect((await methodRow(key.credentialId)).lastUsedAt).toBeNull();
    expect((await t.run(UnlockUser, { id: userId })).unlockUser.__typename).toBe('UnlockUserSuccess');
    await signsIn(key, userId);
  });
});
