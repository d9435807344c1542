/**
 * Threat: a second factor enrolled while a password sign-in is under way is
 * skipped. Sign-in reads whether the user holds a second factor with the
 * attempt's reservation, before the password hash; a factor enrolled during
 * the hash must still be asked for: the statement that opens the session
 * refuses while the user holds one, and the sign-in answers MfaRequired
 * instead, with no session, no refresh token and no user.logged_in. A factor
 * removed during the hash no longer stands in the way.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { totpCode, totpStep } from '../src/modules/totp/service.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const RaceLogin = graphql(`
  mutation RaceLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on LoginSuccess { session { id } } ... on MfaRequired { methods } ... on Error { code } }
  }
`);

const PASSWORD = 'raced against an enrolment';
const clock = manualClock();
let t: TestApp;
let verify: (stored: string, password: string) => Promise<boolean>;

beforeAll(async () => {
  t = await createTestApp({ clock });
  verify = t.app.services.passwordHasher.verify;
});
afterEach(() => {
  t.app.services.passwordHasher.verify = verify;
});
afterAll(() => t?.close());

async function user(email: string) {
  const created = await t.app.services.users.createUser({ email }, systemMeta);
  await t.app.services.passwords.setPassword(created.id, { password: PASSWORD }, systemMeta);
  return created.id;
}

async function enrolTotp(userId: string) {
  const { secret, authMethodId } = await t.app.services.totp.startTotpRegistration(userId, systemMeta);
  await t.app.services.totp.verifyTotpRegistration(userId, totpCode(secret, totpStep(clock.now())), systemMeta);
  clock.advance(30_000);
  return authMethodId;
}

/** Runs `meanwhile` while the password of the next check is being hashed. */
function duringTheHash(meanwhile: () => Promise<unknown>) {
  t.app.services.passwordHasher.verify = async (stored, password) => {
    const ok = await verify(stored, password);
    await meanwhile();
    return ok;
  };
}

const login = async (email: string) => (await t.run(RaceLogin, { input: { identifier: email, password: PASSWORD } }, { token: null })).login;
const opened = async (userId: string) => ({
  sessions: await t.app.database.client.session.count({ where: { userId } }),
  refreshTokens: await t.app.database.client.refreshToken.count({ where: { session: { userId } } }),
  loggedIn: await t.app.database.client.event.count({ where: { userId, type: 'user.logged_in' } }),
});

describe('a second factor enrolled during a password sign-in', () => {
  it('is asked for: MfaRequired, and nothing of a session is written', async () => {
    const id = await user('enrolled-meanwhile@example.com');
    duringTheHash(() => enrolTotp(id));
    expect(await login('enrolled-meanwhile@example.com')).toEqual({ __typename: 'MfaRequired', methods: ['TOTP'] });
    expect(await opened(id)).toEqual({ sessions: 0, refreshTokens: 0, loggedIn: 0 });
    // The attempt itself succeeded: the password counter starts again, as after any right password.
    expect((await t.app.database.client.user.findUniqueOrThrow({ where: { id } })).failedPasswordAttempts).toBe(0);
  });

  it('is asked for after an expired policy lock too, where the session opens on the slower path', async () => {
    const id = await user('locked-then-enrolled@example.com');
    // A policy lock whose time is up: the reservation ends it; the session's own statement then sees a user it must re-check.
    duringTheHash(async () => {
      await t.app.database.client.user.update({ where: { id }, data: { state: 'LOCKED', lockedReason: 'too_many_failed_passwords', lockedUntil: new Date(clock.now().getTime() - 1000) } });
      await enrolTotp(id);
    });
    expect(await login('locked-then-enrolled@example.com')).toEqual({ __typename: 'MfaRequired', methods: ['TOTP'] });
    expect(await opened(id)).toEqual({ sessions: 0, refreshTokens: 0, loggedIn: 0 });
  });

  it('no longer stands in the way once removed during the hash: the session opens', async () => {
    const id = await user('removed-meanwhile@example.com');
    const factor = await enrolTotp(id);
    duringTheHash(() => t.app.services.authMethods.removeAuthMethod(factor, systemMeta));
    expect(await login('removed-meanwhile@example.com')).toMatchObject({ __typename: 'LoginSuccess' });
    expect(await opened(id)).toEqual({ sessions: 1, refreshTokens: 1, loggedIn: 1 });
  });
});
