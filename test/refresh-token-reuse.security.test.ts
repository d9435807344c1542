/**
 * Threat: an attacker copies a user's refresh token (a leaked log, a stolen
 * device backup, malware on the client) and keeps the session alive from
 * elsewhere. Refresh tokens rotate on every use, so the copy and the
 * legitimate client's chain meet at a spent token: whoever presents it second
 * proves that two parties hold the session. The gateway then revokes the whole
 * session, so neither the attacker's nor the legitimate client's newer tokens
 * work, answers RefreshTokenReusedError, and records why
 * (user.session_revoked with reason refresh_token_reused, and
 * user.refresh_token_reused). The user's other sessions are left alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const Login = graphql(`
  mutation ReuseLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on LoginSuccess { accessToken refreshToken session { id } } ... on Error { code } }
  }
`);
const Refresh = graphql(`
  mutation ReuseRefresh($input: RefreshSessionInput!) {
    refreshSession(input: $input) {
      __typename
      ... on RefreshSessionSuccess { accessToken refreshToken session { id } }
      ... on Error { code message }
    }
  }
`);
const Me = graphql(`
  query ReuseMe {
    me { id }
  }
`);
const SessionById = graphql(`
  query ReuseSession($id: ID!) {
    node(id: $id) { ... on Session { id revokedAt revokedReason } }
  }
`);
const Events = graphql(`
  query ReuseEvents($userId: ID!) {
    events(first: 50, userId: $userId, types: [USER_SESSION_REVOKED, USER_REFRESH_TOKEN_REUSED]) { edges { node { type data } } }
  }
`);

const PASSWORD = 'correct horse battery staple';
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

let n = 0;
async function victim() {
  const email = `reuse-${++n}@example.com`;
  const user = await t.app.services.users.createUser({ email }, systemMeta);
  await t.app.services.passwords.setPassword(user.id, { password: PASSWORD }, systemMeta);
  const signIn = async () => {
    const r = (await t.run(Login, { input: { identifier: email, password: PASSWORD } }, { token: null })).login;
    if (r.__typename !== 'LoginSuccess') throw new Error(r.__typename);
    return r;
  };
  return { id: user.id, signIn };
}

async function refresh(refreshToken: string) {
  return (await t.run(Refresh, { input: { refreshToken } }, { token: null })).refreshSession;
}

async function refreshed(refreshToken: string) {
  const r = await refresh(refreshToken);
  if (r.__typename !== 'RefreshSessionSuccess') throw new Error(JSON.stringify(r));
  return r;
}

/** Whether an access token still acts as its user inside the gateway. */
async function works(accessToken: string) {
  const r = await t.exec(Me, undefined, { token: accessToken });
  if (r.errors?.length) {
    expect(r.errors[0]!.extensions?.code).toBe('UNAUTHENTICATED');
    return false;
  }
  return r.data!.me !== null;
}

const reusedAnswer = {
  __typename: 'RefreshTokenReusedError',
  code: 'REFRESH_TOKEN_REUSED',
  message: expect.stringMatching(/revoked because .*refresh token.* used twice/),
};

async function expectRevokedForReuse(userId: string, sessionId: string) {
  const session = (await t.run(SessionById, { id: sessionId })).node;
  expect(session).toMatchObject({ id: sessionId, revokedAt: expect.any(String), revokedReason: 'REFRESH_TOKEN_REUSED' });
  const events = (await t.run(Events, { userId })).events.edges.map((e) => e.node);
  expect(events).toEqual(
    expect.arrayContaining([
      { type: 'USER_SESSION_REVOKED', data: expect.objectContaining({ sessionId, reason: 'refresh_token_reused' }) },
      { type: 'USER_REFRESH_TOKEN_REUSED', data: expect.objectContaining({ sessionId }) },
    ]),
  );
  // Revoked once, however many times the spent token came back.
  expect(events.filter((e) => e.type === 'USER_SESSION_REVOKED')).toHaveLength(1);
}

describe('a stolen refresh token', () => {
  it('used after the legitimate client refreshed: reuse error, and the whole session ends, the client\'s newer tokens included', async () => {
    const user = await victim();
    const session = await user.signIn();
    const other = await user.signIn();
    const stolen = session.refreshToken;

    // The legitimate client refreshes first: the stolen copy is now spent.
    const legit = await refreshed(session.refreshToken);
    expect(await works(legit.accessToken)).toBe(true);

    expect(await refresh(stolen)).toMatchObject(reusedAnswer);

    // The legitimate client's newer refresh and access tokens stop working too, and its next refresh says why.
    expect(await refresh(legit.refreshToken)).toMatchObject(reusedAnswer);
    expect(await works(legit.accessToken)).toBe(false);
    expect(await works(session.accessToken)).toBe(false);
    // The attacker retrying gets nothing either.
    expect(await refresh(stolen)).toMatchObject(reusedAnswer);

    await expectRevokedForReuse(user.id, session.session.id);
    // Only the session whose token was copied ends.
    expect(await works(other.accessToken)).toBe(true);
    expect(await refresh(other.refreshToken)).toMatchObject({ __typename: 'RefreshSessionSuccess' });
  });

  it('used before the legitimate client refreshed: the attacker\'s new tokens die when the client presents its (now spent) token', async () => {
    const user = await victim();
    const session = await user.signIn();

    // The attacker wins the race and gets a fresh pair.
    const attacker = await refreshed(session.refreshToken);
    expect(await works(attacker.accessToken)).toBe(true);

    // The legitimate client presents its token, which the attacker spent: reuse.
    expect(await refresh(session.refreshToken)).toMatchObject(reusedAnswer);
    expect(await works(attacker.accessToken)).toBe(false);
    expect(await refresh(attacker.refreshToken)).toMatchObject(reusedAnswer);

    await expectRevokedForReuse(user.id, session.session.id);
  });

  it('is told apart from a token of a session that ended otherwise (logout is not reported as theft)', async () => {
    const user = await victim();
    const session = await user.signIn();
    await t.app.services.sessions.revokeSession(session.session.id, systemMeta);
    expect(await refresh(session.refreshToken)).toMatchObject({ __typename: 'InvalidTokenError', code: 'INVALID_TOKEN' });
  });
});
