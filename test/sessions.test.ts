/**
 * Sign-in end to end through the yoga handler: login with and without MFA
 * (TOTP, backup code; one-time codes in login-otp.test.ts), MFA token expiry and
 * single use, refresh rotation with reuse detection, session expiry, logout
 * and revocation, access tokens as the caller, and signing key rotation.
 */
import { buildHTTPExecutor } from '@graphql-tools/executor-http';
import type { ResultOf } from '@graphql-typed-document-node/core';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { manualClock } from '../src/kernel/clock.js';
import { totpCode, totpStep } from '../src/modules/totp/service.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { configuredVerification, watchArgon2 } from './helpers/hash-work.js';

const Login = graphql(`
  mutation SessionsLogin($input: LoginInput!) {
    login(input: $input) {
      __typename
      ... on LoginSuccess { accessToken refreshToken tokenType expiresAt sessionExpiresAt session { id device ip userAgent current } user { id lastLoginAt lastLoginDevice } }
      ... on MfaRequired { mfaToken methods expiresAt }
      ... on IncorrectPasswordError { code message attemptsBeforeLock }
      ... on UserLockedError { code lockedUntil }
      ... on Error { code message }
    }
  }
`);
const CompleteMfa = graphql(`
  mutation SessionsCompleteMfa($input: CompleteMfaLoginInput!) {
    completeMfaLogin(input: $input) {
      __typename
      ... on CompleteMfaLoginSuccess { accessToken refreshToken session { id } user { id } }
      ... on IncorrectCodeError { code codeAttemptsLeft attemptsBeforeLock }
      ... on CodeAlreadyUsedError { reason }
      ... on Error { code message }
    }
  }
`);
const Refresh = graphql(`
  mutation SessionsRefresh($input: RefreshSessionInput!) {
    refreshSession(input: $input) {
      __typename
      ... on RefreshSessionSuccess { accessToken refreshToken expiresAt session { id lastSeenAt } }
      ... on Error { code message }
    }
  }
`);
const Me = graphql(`
  query SessionsMe {
    me { id email sessions { id device ip current createdAt lastSeenAt } }
  }
`);
const Logout = graphql(`
  mutation SessionsLogout {
    logout { __typename ... on LogoutSuccess { session { id revokedAt revokedReason } } ... on Error { code } }
  }
`);
const LogoutEverywhere = graphql(`
  mutation SessionsLogoutEverywhere {
    logout(input: { everywhere: true }) { __typename ... on LogoutSuccess { session { id revokedReason } } }
  }
`);
const RotateTo = graphql(`
  mutation SessionsRotateTo($algorithm: SigningAlgorithm) {
    rotateSigningKey(input: { algorithm: $algorithm }) { __typename ... on RotateSigningKeySuccess { signingKeyId } }
  }
`);
const RevokeSession = graphql(`
  mutation SessionsRevoke($input: RevokeSessionInput!) {
    revokeSession(input: $input) { __typename ... on RevokeSessionSuccess { session { id revokedReason } } ... on Error { code } }
  }
`);
const RevokeAll = graphql(`
  mutation SessionsRevokeAll($input: RevokeAllSessionsInput!) {
    revokeAllSessions(input: $input) { __typename ... on RevokeAllSessionsSuccess { revokedCount user { id sessions { id } } } ... on Error { code } }
  }
`);
const Rotate = graphql(`
  mutation SessionsRotate {
    rotateSigningKey { __typename ... on RotateSigningKeySuccess { signingKeyId retiredSigningKeyId } }
  }
`);
const UserEvents = graphql(`
  query SessionsUserEvents($id: ID!) {
    user(id: $id) { events(first: 100) { edges { node { type data } } } }
  }
`);

const PASSWORD = 'correct horse battery staple';
const clock = manualClock(new Date('2026-03-01T10:00:00Z'));
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({
    clock,
    env: {
      PORTCULLIS_LOCKOUT_PASSWORD_ATTEMPTS: '3',
      PORTCULLIS_OTP_RESEND_COOLDOWN_SECONDS: '0',
      PORTCULLIS_ACCESS_TOKEN_TTL_SECONDS: '300',
      PORTCULLIS_MFA_TOKEN_TTL_SECONDS: '120',
    },
  });
});
afterAll(() => t?.close());

let n = 0;
/** A user with a password; email and phone verified so OTP factors can be added. */
async function makeUser(extra: { username?: string } = {}) {
  n++;
  const email = `Person${n}@Example.com`;
  const user = await t.app.services.users.createUser({ email, phone: `+1415555${String(1000 + n)}`, ...extra }, systemMeta);
  await t.app.services.passwords.setPassword(user.id, { password: PASSWORD }, systemMeta);
  const now = clock.now();
  await t.app.database.client.user.update({ where: { id: user.id }, data: { emailVerifiedAt: now, phoneVerifiedAt: now } });
  return { id: user.id, email, phone: `+1415555${String(1000 + n)}` };
}

async function addTotp(userId: string) {
  const { secret } = await t.app.services.totp.startTotpRegistration(userId, systemMeta);
  await t.app.services.totp.verifyTotpRegistration(userId, totpCode(secret, totpStep(clock.now())), systemMeta);
  // The registration used this step: later codes must come from a later one.
  clock.advance(30_000);
  return secret;
}

const login = (identifier: string, password = PASSWORD, device?: { name?: string; ip?: string; userAgent?: string }) =>
  t.run(Login, { input: { identifier, password, device } }, { token: null });

async function signIn(identifier: string) {
  const r = (await login(identifier)).login;
  if (r.__typename !== 'LoginSuccess') throw new Error(`login failed: ${JSON.stringify(r)}`);
  return r;
}

/**
 * Login as a request from `remoteAddress` with a User-Agent header, handed to
 * yoga the way src/server/http.ts does, so the request's own device is known.
 */
async function loginFrom(request: { remoteAddress: string; userAgent: string }, identifier: string, device?: { name?: string; ip?: string; userAgent?: string }) {
  const executor = buildHTTPExecutor({
    endpoint: 'http://gateway.test/graphql',
    fetch: (url, init) => t.app.yoga.fetch(new URL(url), init ?? {}, { remoteAddress: request.remoteAddress }),
    headers: { 'user-agent': request.userAgent },
  });
  const result = (await executor({ document: Login, variables: { input: { identifier, password: PASSWORD, device } } })) as { data?: ResultOf<typeof Login> };
  return result.data!.login;
}

async function eventTypes(userId: string) {
  const data = await t.run(UserEvents, { id: userId });
  return data.user!.events.edges.map((e) => e.node);
}

describe('login without MFA', () => {
  it('signs in by email or username, case-insensitively, and the access token acts as the user', async () => {
    const u = await makeUser({ username: 'Ada.L' });
    const byEmail = await signIn(`  ${u.email.toUpperCase()} `);
    expect(byEmail).toMatchObject({ tokenType: 'Bearer', user: { id: u.id }, session: { id: expect.stringMatching(/^ses_/) } });
    expect(byEmail.refreshToken).toMatch(/^pcr_/);
    expect(new Date(byEmail.expiresAt).getTime()).toBe(clock.now().getTime() + 300_000);
    const claims = decodeJwt(byEmail.accessToken);
    expect(claims).toMatchObject({ sub: u.id, sid: byEmail.session.id, aud: 'portcullis', iss: expect.any(String) });
    expect(decodeProtectedHeader(byEmail.accessToken)).toMatchObject({ alg: 'EdDSA', kid: expect.stringMatching(/^sk_/), typ: 'at+jwt' });

    const byName = await signIn('ada.l');
    expect(byName.user.id).toBe(u.id);

    const me = await t.run(Me, undefined, { token: byName.accessToken });
    expect(me.me!.id).toBe(u.id);
    expect(me.me!.sessions.map((s) => s.id).sort()).toEqual([byEmail.session.id, byName.session.id].sort());
    expect(me.me!.sessions.find((s) => s.current)!.id).toBe(byName.session.id);

    const events = await eventTypes(u.id);
    expect(events.filter((e) => e.type === 'USER_LOGGED_IN')).toHaveLength(2);
    expect(JSON.stringify(events)).not.toContain(byName.refreshToken);
  });

  it('records the device given by the calling app, else the request, as lastLoginDevice and on the session', async () => {
    const u = await makeUser();
    const r = (await login(u.email, PASSWORD, { name: "Ada's laptop", ip: '203.0.113.7', userAgent: 'Firefox/130' })).login;
    expect(r).toMatchObject({
      __typename: 'LoginSuccess',
      session: { device: "Ada's laptop", ip: '203.0.113.7', userAgent: 'Firefox/130' },
      user: { lastLoginAt: clock.now().toISOString(), lastLoginDevice: "Ada's laptop" },
    });
    const bad = (await login(u.email, PASSWORD, { ip: 'not-an-ip' })).login;
    expect(bad).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT' });

    // Nothing given: the request's own address and user agent, and the user agent names the device.
    const request = { remoteAddress: '198.51.100.20', userAgent: 'Mozilla/5.0 (X11; Linux) Firefox/131.0' };
    const own = await loginFrom(request, u.email);
    expect(own).toMatchObject({
      __typename: 'LoginSuccess',
      session: { device: request.userAgent, ip: request.remoteAddress, userAgent: request.userAgent },
      user: { lastLoginDevice: request.userAgent },
    });
    // Partly given: the given parts win, the request fills in the rest.
    const named = await loginFrom(request, u.email, { name: "Ada's phone" });
    expect(named).toMatchObject({ session: { device: "Ada's phone", ip: request.remoteAddress, userAgent: request.userAgent }, user: { lastLoginDevice: "Ada's phone" } });
    const relayed = await loginFrom(request, u.email, { ip: '203.0.113.9', userAgent: 'Safari/18' });
    expect(relayed).toMatchObject({ session: { device: 'Safari/18', ip: '203.0.113.9', userAgent: 'Safari/18' } });
  });

  it('answers an unknown identifier exactly like a wrong password', async () => {
    const u = await makeUser();
    const wrong = (await login(u.email, 'wrong password')).login;
    const unknown = (await login('nobody@example.com', 'wrong password')).login;
    const noSuchName = (await login('nobody', 'wrong password')).login;
    expect(wrong).toEqual({ __typename: 'IncorrectPasswordError', code: 'INCORRECT_PASSWORD', message: expect.any(String), attemptsBeforeLock: null });
    expect(unknown).toEqual(wrong);
    expect(noSuchName).toEqual(wrong);
    expect((await eventTypes(u.id)).map((e) => e.type)).toContain('USER_LOGIN_FAILED');
  });

  it('spends one password hash on every outcome, so timing does not tell which identifiers exist', async () => {
    const u = await makeUser({ username: 'timing' });
    const noPassword = await t.app.services.users.createUser({ email: 'nopass@example.com' }, systemMeta);
    const stored = (await t.app.database.client.authMethod.findUniqueOrThrow({ where: { slot: `${u.id}:PASSWORD` } })).secret!;
    const argon2Work = watchArgon2();
    try {
      // The stored hash for the real user; the dummy (any hash) for the rest.
      const outcomes: Array<[identifier: string, password: string, against?: string]> = [
        [u.email, PASSWORD, stored],
        [u.email, 'wrong', stored],
        ['unknown@example.com', 'wrong'],
        ['unknown-name', 'wrong'],
        [noPassword.email!, 'wrong'],
      ];
      for (const [identifier, password, against] of outcomes) {
        argon2Work.take();
        await login(identifier, password);
        // One finished argon2id verification with the configured parameters: the dummy costs what a real check does.
        expect(argon2Work.take(), identifier).toEqual([configuredVerification(t.app.config.passwords.argon2, against)]);
      }
    } finally {
      argon2Work.restore();
    }
    expect((await login('nopass@example.com', 'x')).login).toMatchObject({ __typename: 'IncorrectPasswordError', attemptsBeforeLock: null });
  });

  it('counts wrong passwords towards the lockout, then refuses a locked user even with the right password', async () => {
    const u = await makeUser();
    for (let i = 0; i < 3; i++) expect((await login(u.email, `wrong-${i}`)).login.__typename).toBe('IncorrectPasswordError');
    expect((await login(u.email)).login).toMatchObject({ __typename: 'UserLockedError', code: 'USER_LOCKED' });
  });

  it('refuses a deactivated user', async () => {
    const u = await makeUser();
    await t.app.services.users.deactivateUser(u.id, systemMeta);
    expect((await login(u.email)).login).toMatchObject({ __typename: 'UserInactiveError', code: 'USER_INACTIVE' });
  });

  it('needs no API key, but every other operation still does', async () => {
    const anon = await t.exec(Me, undefined, { token: null });
    expect(anon.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const junk = await t.exec(Me, undefined, { token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' });
    expect(junk.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('login with MFA', () => {
  it('asks for a second factor, then finishes with TOTP; the MFA token is single use', async () => {
    const u = await makeUser();
    const secret = await addTotp(u.id);
    const first = (await login(u.email)).login;
    if (first.__typename !== 'MfaRequired') throw new Error(JSON.stringify(first));
    expect(first.methods).toEqual(['TOTP']);
    expect(first.mfaToken).toMatch(/^pcm_/);

    const wrong = await t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method: 'TOTP', code: '000000' } }, { token: null });
    expect(wrong.completeMfaLogin).toMatchObject({ __typename: 'IncorrectCodeError', code: 'INCORRECT_CODE' });

    const code = totpCode(secret, totpStep(clock.now()));
    const done = await t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method: 'TOTP', code } }, { token: null });
    expect(done.completeMfaLogin).toMatchObject({ __typename: 'CompleteMfaLoginSuccess', user: { id: u.id } });

    clock.advance(30_000);
    const again = await t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method: 'TOTP', code: totpCode(secret, totpStep(clock.now())) } }, { token: null });
    // The MFA token is what was spent here, not a TOTP step.
    expect(again.completeMfaLogin).toMatchObject({ __typename: 'CodeAlreadyUsedError', code: 'CODE_ALREADY_USED', reason: 'CODE_ALREADY_USED' });
    const logins = (await eventTypes(u.id)).filter((e) => e.type === 'USER_LOGGED_IN');
    expect(logins.map((e) => (e.data as { method: string }).method)).toEqual(['totp']);
  });

  it('refuses a TOTP code of a time step already accepted, saying so, and finishes with the next code', async () => {
    const u = await makeUser();
    const secret = await addTotp(u.id);
    const step = totpStep(clock.now());
    const first = (await login(u.email)).login;
    if (first.__typename !== 'MfaRequired') throw new Error(JSON.stringify(first));
    const done = await t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method: 'TOTP', code: totpCode(secret, step) } }, { token: null });
    expect(done.completeMfaLogin.__typename).toBe('CompleteMfaLoginSuccess');

    // A second sign-in within the same 30 seconds: the code on the screen is the one just accepted.
    const second = (await login(u.email)).login;
    if (second.__typename !== 'MfaRequired') throw new Error(JSON.stringify(second));
    const same = await t.run(CompleteMfa, { input: { mfaToken: second.mfaToken, method: 'TOTP', code: totpCode(secret, step) } }, { token: null });
    expect(same.completeMfaLogin).toEqual({
      __typename: 'CodeAlreadyUsedError',
      code: 'CODE_ALREADY_USED',
      reason: 'STEP_ALREADY_USED',
      message: 'A code from this or a later time step was already accepted; wait for the next code.',
    });
    // The MFA token survives, and the next code finishes.
    clock.advance(30_000);
    const next = await t.run(CompleteMfa, { input: { mfaToken: second.mfaToken, method: 'TOTP', code: totpCode(secret, step + 1) } }, { token: null });
    expect(next.completeMfaLogin).toMatchObject({ __typename: 'CompleteMfaLoginSuccess', user: { id: u.id } });
  });

  it('finishes with a backup code, which is then spent', async () => {
    const u = await makeUser();
    await addTotp(u.id);
    const { codes } = await t.app.services.backupCodes.generateBackupCodes(u.id, systemMeta);
    const first = (await login(u.email)).login;
    if (first.__typename !== 'MfaRequired') throw new Error(JSON.stringify(first));
    expect(first.methods).toEqual(['TOTP', 'BACKUP_CODES']);
    const done = await t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method: 'BACKUP_CODES', code: codes[0] } }, { token: null });
    expect(done.completeMfaLogin.__typename).toBe('CompleteMfaLoginSuccess');

    const second = (await login(u.email)).login;
    if (second.__typename !== 'MfaRequired') throw new Error(JSON.stringify(second));
    const reused = await t.run(CompleteMfa, { input: { mfaToken: second.mfaToken, method: 'BACKUP_CODES', code: codes[0] } }, { token: null });
    expect(reused.completeMfaLogin).toMatchObject({ __typename: 'CodeAlreadyUsedError' });
  });

  it('refuses an expired MFA token, and an unknown one', async () => {
    const u = await makeUser();
    const secret = await addTotp(u.id);
    const first = (await login(u.email)).login;
    if (first.__typename !== 'MfaRequired') throw new Error(JSON.stringify(first));
    clock.advance(121_000);
    const late = await t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method: 'TOTP', code: totpCode(secret, totpStep(clock.now())) } }, { token: null });
    expect(late.completeMfaLogin).toMatchObject({ __typename: 'CodeExpiredError', code: 'CODE_EXPIRED' });
    const unknown = await t.run(CompleteMfa, { input: { mfaToken: 'pcm_nope', method: 'TOTP', code: '123456' } }, { token: null });
    expect(unknown.completeMfaLogin).toMatchObject({ __typename: 'InvalidTokenError', code: 'INVALID_TOKEN' });
  });

  it('lets only one of two concurrent completions with the same MFA token open a session', async () => {
    const u = await makeUser();
    await addTotp(u.id);
    const { codes } = await t.app.services.backupCodes.generateBackupCodes(u.id, systemMeta);
    const first = (await login(u.email)).login;
    if (first.__typename !== 'MfaRequired') throw new Error(JSON.stringify(first));
    const results = await Promise.all(
      [codes[0], codes[1]].map((code) => t.run(CompleteMfa, { input: { mfaToken: first.mfaToken, method: 'BACKUP_CODES', code } }, { token: null })),
    );
    const kinds = results.map((r) => r.completeMfaLogin.__typename).sort();
    expect(kinds).toEqual(['CodeAlreadyUsedError', 'CompleteMfaLoginSuccess']);
  });
});

describe('refresh, logout and revocation', () => {
  it('rotates the refresh token on every use; a reused one revokes the whole session', async () => {
    const u = await makeUser();
    const s = await signIn(u.email);
    clock.advance(5_000);
    const r1 = (await t.run(Refresh, { input: { refreshToken: s.refreshToken } }, { token: null })).refreshSession;
    if (r1.__typename !== 'RefreshSessionSuccess') throw new Error(JSON.stringify(r1));
    expect(r1.refreshToken).not.toBe(s.refreshToken);
    expect(r1.session.id).toBe(s.session.id);
    expect((await t.run(Me, undefined, { token: r1.accessToken })).me!.id).toBe(u.id);

    // The old token again: someone else holds a copy. The session ends for everyone.
    const stolen = (await t.run(Refresh, { input: { refreshToken: s.refreshToken } }, { token: null })).refreshSession;
    expect(stolen).toMatchObject({ __typename: 'InvalidTokenError', code: 'INVALID_TOKEN' });
    const legit = (await t.run(Refresh, { input: { refreshToken: r1.refreshToken } }, { token: null })).refreshSession;
    expect(legit).toMatchObject({ __typename: 'InvalidTokenError' });
    const me = await t.exec(Me, undefined, { token: r1.accessToken });
    expect(me.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const events = await eventTypes(u.id);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['USER_REFRESH_TOKEN_REUSED', 'USER_SESSION_REVOKED']));
    expect(events.find((e) => e.type === 'USER_SESSION_REVOKED')!.data).toMatchObject({ sessionId: s.session.id, reason: 'refresh_token_reused' });
  });

  it('lets exactly one of two concurrent refreshes with the same token win (the other is treated as reuse)', async () => {
    const u = await makeUser();
    const s = await signIn(u.email);
    const results = await Promise.all([0, 1].map(() => t.run(Refresh, { input: { refreshToken: s.refreshToken } }, { token: null })));
    const kinds = results.map((r) => r.refreshSession.__typename).sort();
    expect(kinds).toEqual(['InvalidTokenError', 'RefreshSessionSuccess']);
  });

  it('refuses garbage refresh tokens', async () => {
    expect((await t.run(Refresh, { input: { refreshToken: 'pcr_garbage' } }, { token: null })).refreshSession.__typename).toBe('InvalidTokenError');
    expect((await t.run(Refresh, { input: { refreshToken: '' } }, { token: null })).refreshSession.__typename).toBe('InvalidTokenError');
  });

  it('logout ends the session for its refresh token and its access tokens at once', async () => {
    const u = await makeUser();
    const s = await signIn(u.email);
    const other = await signIn(u.email);
    const out = await t.run(Logout, undefined, { token: s.accessToken });
    expect(out.logout).toMatchObject({ __typename: 'LogoutSuccess', session: { id: s.session.id, revokedReason: 'logout' } });
    expect((await t.exec(Me, undefined, { token: s.accessToken })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await t.run(Refresh, { input: { refreshToken: s.refreshToken } }, { token: null })).refreshSession.__typename).toBe('InvalidTokenError');
    // The other session is untouched.
    expect((await t.run(Me, undefined, { token: other.accessToken })).me!.sessions.map((x) => x.id)).toEqual([other.session.id]);
  });

  it('logout with everywhere ends every session of the user, and no other user\'s', async () => {
    const u = await makeUser();
    const v = await makeUser();
    const s = await signIn(u.email);
    const other = await signIn(u.email);
    const theirs = await signIn(v.email);
    const out = await t.run(LogoutEverywhere, undefined, { token: s.accessToken });
    expect(out.logout).toMatchObject({ __typename: 'LogoutSuccess', session: { id: s.session.id, revokedReason: 'logout' } });
    for (const ended of [s, other]) {
      expect((await t.run(Refresh, { input: { refreshToken: ended.refreshToken } }, { token: null })).refreshSession.__typename).toBe('InvalidTokenError');
    }
    expect((await t.run(Me, undefined, { token: theirs.accessToken })).me!.id).toBe(v.id);
  });

  it('admins revoke one session or all of a user; users may revoke only their own', async () => {
    const u = await makeUser();
    const v = await makeUser();
    const a = await signIn(u.email);
    const b = await signIn(u.email);
    const c = await signIn(u.email);
    const theirs = await signIn(v.email);

    // Another user's session looks like no session at all.
    const probe = await t.run(RevokeSession, { input: { id: theirs.session.id } }, { token: a.accessToken });
    expect(probe.revokeSession).toMatchObject({ __typename: 'NotFoundError' });
    const own = await t.run(RevokeSession, { input: { id: b.session.id } }, { token: a.accessToken });
    expect(own.revokeSession).toMatchObject({ __typename: 'RevokeSessionSuccess', session: { id: b.session.id, revokedReason: 'revoked' } });
    expect((await t.run(Refresh, { input: { refreshToken: b.refreshToken } }, { token: null })).refreshSession.__typename).toBe('InvalidTokenError');

    const byAdmin = await t.run(RevokeSession, { input: { id: c.session.id } });
    expect(byAdmin.revokeSession.__typename).toBe('RevokeSessionSuccess');

    const all = await t.run(RevokeAll, { input: { userId: u.id } });
    expect(all.revokeAllSessions).toMatchObject({ __typename: 'RevokeAllSessionsSuccess', revokedCount: 1, user: { id: u.id, sessions: [] } });
    expect((await t.run(Refresh, { input: { refreshToken: a.refreshToken } }, { token: null })).refreshSession.__typename).toBe('InvalidTokenError');
    expect((await t.run(Me, undefined, { token: theirs.accessToken })).me!.id).toBe(v.id);

    const forbidden = await t.exec(RevokeAll, { input: { userId: u.id } }, { token: theirs.accessToken });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('refuses access tokens after they expire, and refresh after the user is locked', async () => {
    const u = await makeUser();
    const s = await signIn(u.email);
    clock.advance(301_000);
    expect((await t.exec(Me, undefined, { token: s.accessToken })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const fresh = (await t.run(Refresh, { input: { refreshToken: s.refreshToken } }, { token: null })).refreshSession;
    if (fresh.__typename !== 'RefreshSessionSuccess') throw new Error(JSON.stringify(fresh));
    await t.app.services.users.lockUser(u.id, systemMeta);
    expect((await t.exec(Me, undefined, { token: fresh.accessToken })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await t.run(Refresh, { input: { refreshToken: fresh.refreshToken } }, { token: null })).refreshSession.__typename).toBe('UserLockedError');
  });
});

describe('session expiry', () => {
  // Its own gateway: a session lifetime (600 s) shorter than an access token's reach past it (300 s).
  const start = new Date('2026-04-01T10:00:00Z');
  const expiryClock = manualClock(start);
  let e: TestApp;
  beforeAll(async () => {
    e = await createTestApp({ clock: expiryClock, env: { PORTCULLIS_ACCESS_TOKEN_TTL_SECONDS: '300', PORTCULLIS_REFRESH_TOKEN_TTL_SECONDS: '600' } });
  });
  afterAll(() => e?.close());

  const signInAt = async (email: string) => {
    const r = (await e.run(Login, { input: { identifier: email, password: PASSWORD } }, { token: null })).login;
    if (r.__typename !== 'LoginSuccess') throw new Error(JSON.stringify(r));
    return r;
  };
  const works = async (accessToken: string) => (await e.exec(Me, undefined, { token: accessToken })).data?.me?.id;
  const refresh = async (refreshToken: string) => (await e.run(Refresh, { input: { refreshToken } }, { token: null })).refreshSession;

  it('ends a session at its lifetime: its access and refresh tokens stop working, a younger session goes on', async () => {
    const user = await e.app.services.users.createUser({ email: 'expiry@example.com' }, systemMeta);
    await e.app.services.passwords.setPassword(user.id, { password: PASSWORD }, systemMeta);
    const old = await signInAt('expiry@example.com');
    expect(old.sessionExpiresAt).toBe(new Date(start.getTime() + 600_000).toISOString());

    // Shortly before the end: a refresh rotates the tokens but does not extend the session, and its
    // access token would by itself be valid until 890 s, well after the session ends at 600 s.
    expiryClock.advance(590_000);
    const late = await refresh(old.refreshToken);
    if (late.__typename !== 'RefreshSessionSuccess') throw new Error(JSON.stringify(late));
    expect(new Date(late.expiresAt).getTime()).toBe(start.getTime() + 890_000);
    const young = await signInAt('expiry@example.com');
    expiryClock.advance(9_999);
    expect(await works(late.accessToken)).toBe(user.id);

    expiryClock.advance(1);
    const refused = await e.exec(Me, undefined, { token: late.accessToken });
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await refresh(late.refreshToken)).toMatchObject({ __typename: 'InvalidTokenError', code: 'INVALID_TOKEN' });
    // The session that started later is untouched.
    expect(await works(young.accessToken)).toBe(user.id);
    expect(await refresh(young.refreshToken)).toMatchObject({ __typename: 'RefreshSessionSuccess', session: { id: young.session.id } });
  });
});

describe('signing key rotation', () => {

  it('signs new tokens with the new key and accepts old ones until they expire', async () => {
    const u = await makeUser();
    const before = await signIn(u.email);
    const oldKid = decodeProtectedHeader(before.accessToken).kid;
    const rotated = await t.run(Rotate);
    if (rotated.rotateSigningKey.__typename !== 'RotateSigningKeySuccess') throw new Error('rotation failed');
    expect(rotated.rotateSigningKey.retiredSigningKeyId).toBe(oldKid);
    const after = await signIn(u.email);
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(rotated.rotateSigningKey.signingKeyId);

    expect((await t.run(Me, undefined, { token: before.accessToken })).me!.id).toBe(u.id);
    const jwks = await t.app.services.signingKeys.publicJwks();
    expect(jwks.keys.map((k) => k.kid)).toEqual([rotated.rotateSigningKey.signingKeyId, oldKid]);
    expect(JSON.stringify(jwks)).not.toMatch(/"d":/);

    const rotateAsUser = await t.exec(Rotate, undefined, { token: after.accessToken });
    expect(rotateAsUser.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    clock.advance(301_000);
    const later = await t.app.services.signingKeys.publicJwks();
    expect(later.keys.map((k) => k.kid)).toEqual([rotated.rotateSigningKey.signingKeyId]);

  });

  it('can move to another algorithm; tokens then carry it and still verify', async () => {
    const u = await makeUser();
    const rotated = await t.run(RotateTo, { algorithm: 'ES256' });
    if (rotated.rotateSigningKey.__typename !== 'RotateSigningKeySuccess') throw new Error('rotation failed');
    const s = await signIn(u.email);
    expect(decodeProtectedHeader(s.accessToken)).toMatchObject({ alg: 'ES256', kid: rotated.rotateSigningKey.signingKeyId });
    expect((await t.run(Me, undefined, { token: s.accessToken })).me!.id).toBe(u.id);
    const jwk = (await t.app.services.signingKeys.publicJwks()).keys.find((k) => k.kid === rotated.rotateSigningKey.signingKeyId);
    expect(jwk).toMatchObject({ alg: 'ES256', kty: 'EC', crv: 'P-256' });
    // Back to the configured algorithm for the tests that follow.
    await t.run(RotateTo, { algorithm: 'EdDSA' });
  });
});
