/**
 * Threat: an attacker who learned the old password (or stole a session) keeps
 * their session after the victim changes the password. A password change ends
 * the user's other sessions in the same transaction (the caller's own stays,
 * unless signOutEverywhere); an admin's setPassword ends every session. The
 * user.password_changed event says how many ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const Login = graphql(`
  mutation PwSessionsLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on LoginSuccess { accessToken refreshToken session { id } } ... on Error { code } }
  }
`);
const ChangePassword = graphql(`
  mutation PwSessionsChange($input: ChangePasswordInput!) {
    changePassword(input: $input) { __typename ... on Error { code message } }
  }
`);
const SetPassword = graphql(`
  mutation PwSessionsSet($input: SetPasswordInput!) {
    setPassword(input: $input) { __typename ... on Error { code message } }
  }
`);
const Refresh = graphql(`
  mutation PwSessionsRefresh($input: RefreshSessionInput!) {
    refreshSession(input: $input) { __typename ... on Error { code } }
  }
`);
const Me = graphql(`
  query PwSessionsMe {
    me { id }
  }
`);
const Events = graphql(`
  query PwSessionsEvents($userId: ID!) {
    events(first: 50, userId: $userId, types: [USER_PASSWORD_CHANGED, USER_SESSION_REVOKED]) { edges { node { type data } } }
  }
`);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

let n = 0;
async function userWithSessions(count: number, password: string) {
  const email = `pw-sessions-${++n}@example.com`;
  const user = await t.app.services.users.createUser({ email }, systemMeta);
  await t.app.services.passwords.setPassword(user.id, { password }, systemMeta);
  const sessions = [];
  for (let i = 0; i < count; i++) {
    const r = await t.run(Login, { input: { identifier: email, password } }, { token: null });
    if (r.login.__typename !== 'LoginSuccess') throw new Error(r.login.__typename);
    sessions.push(r.login);
  }
  return { id: user.id, sessions };
}

/** True when the access token still signs its holder in. */
async function works(accessToken: string): Promise<boolean> {
  const r = await t.exec(Me, undefined, { token: accessToken });
  if (r.errors?.length) {
    expect(r.errors[0].extensions?.code).toBe('UNAUTHENTICATED');
    return false;
  }
  return r.data?.me?.id !== undefined;
}

async function lastPasswordChange(userId: string) {
  const r = await t.run(Events, { userId });
  const changed = r.events.edges.map((e) => e.node).filter((e) => e.type === 'USER_PASSWORD_CHANGED');
  return changed.at(-1)?.data as { sessionsRevoked: number; reason: string };
}

describe('changing a password', () => {
  it("ends the user's other sessions and keeps the caller's", async () => {
    const { id, sessions } = await userWithSessions(3, 'the old password 1');
    const [mine, stolen, third] = sessions;
    const r = await t.run(ChangePassword, { input: { userId: id, currentPassword: 'the old password 1', newPassword: 'the new password 1' } }, { token: mine.accessToken });
    expect(r.changePassword.__typename).toBe('ChangePasswordSuccess');

    expect(await works(mine.accessToken)).toBe(true);
    expect(await works(stolen.accessToken)).toBe(false);
    expect(await works(third.accessToken)).toBe(false);
    const refreshed = await t.run(Refresh, { input: { refreshToken: stolen.refreshToken } }, { token: null });
    expect(refreshed.refreshSession).toMatchObject({ code: 'INVALID_TOKEN' });
    expect((await t.run(Refresh, { input: { refreshToken: mine.refreshToken } }, { token: null })).refreshSession.__typename).toBe('RefreshSessionSuccess');
    expect(await lastPasswordChange(id)).toMatchObject({ reason: 'changed', sessionsRevoked: 2 });
  });

  it('ends the caller\'s own session too with signOutEverywhere', async () => {
    const { id, sessions } = await userWithSessions(2, 'the old password 2');
    const r = await t.run(
      ChangePassword,
      { input: { userId: id, currentPassword: 'the old password 2', newPassword: 'the new password 2', signOutEverywhere: true } },
      { token: sessions[0].accessToken },
    );
    expect(r.changePassword.__typename).toBe('ChangePasswordSuccess');
    expect(await works(sessions[0].accessToken)).toBe(false);
    expect(await works(sessions[1].accessToken)).toBe(false);
    expect(await lastPasswordChange(id)).toMatchObject({ sessionsRevoked: 2 });
  });

  it('keeps every session when the proof is wrong', async () => {
    const { id, sessions } = await userWithSessions(2, 'the old password 3');
    const r = await t.run(ChangePassword, { input: { userId: id, currentPassword: 'a wrong guess!!', newPassword: 'the new password 3' } }, { token: sessions[0].accessToken });
    expect(r.changePassword).toMatchObject({ code: 'INCORRECT_PASSWORD' });
    expect(await works(sessions[1].accessToken)).toBe(true);
  });
});

describe("an admin's setPassword", () => {
  it('ends every session of the user', async () => {
    const { id, sessions } = await userWithSessions(2, 'the old password 4');
    const r = await t.run(SetPassword, { input: { userId: id, password: 'set by the help desk' } });
    expect(r.setPassword.__typename).toBe('SetPasswordSuccess');
    for (const s of sessions) expect(await works(s.accessToken)).toBe(false);
    expect(await lastPasswordChange(id)).toMatchObject({ reason: 'set', sessionsRevoked: 2 });
    // The new password signs in.
    const again = await t.run(Login, { input: { identifier: `pw-sessions-${n}@example.com`, password: 'set by the help desk' } }, { token: null });
    expect(again.login.__typename).toBe('LoginSuccess');
  });
});
