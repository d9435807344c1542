/**
 * A password sign-in is bound by the hash; on PostgreSQL each statement is
 * also a round trip to the server, spent while the request waits. This
 * counts the driver's queries of a successful sign-in without MFA (after a
 * first one has created the signing key and recorded the day's activity),
 * and of `me` with an access token, so a change that adds a round trip to
 * either hot path is noticed here.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { testProvider } from './helpers/db.js';

const TripsLogin = graphql(`
  mutation TripsLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on LoginSuccess { accessToken refreshToken } ... on Error { code } }
  }
`);

const TripsMe = graphql(`
  query TripsMe { me { id email displayName state createdAt lastActiveAt publicMetadata } }
`);

const PASSWORD = 'counted round trips';

/** Runs `work` and returns the statements the driver sent meanwhile. */
async function counting(work: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const q = args[0] as string | { text?: string };
    sent.push(typeof q === 'string' ? q : (q.text ?? ''));
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    await work();
  } finally {
    pg.Client.prototype.query = query;
  }
  return sent;
}

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

describe.runIf(testProvider === 'postgresql')('round trips of a password sign-in and of `me` (PostgreSQL)', () => {
  it('are three: reserve the attempt (finding the user and reading its factors), commit its success, open the session (reading the signing key)', async () => {
    const user = await t.app.services.users.createUser({ email: 'trips@example.com', username: 'trips' }, systemMeta);
    await t.app.services.passwords.setPassword(user.id, { password: PASSWORD }, systemMeta);
    const login = async (identifier: string) => (await t.run(TripsLogin, { input: { identifier, password: PASSWORD } }, { token: null })).login.__typename;
    expect(await login('trips@example.com')).toBe('LoginSuccess');
    for (const identifier of ['trips@example.com', 'TRIPS', 'trips@example.com']) {
      const sent = await counting(async () => expect(await login(identifier)).toBe('LoginSuccess'));
      expect(sent, sent.join('\n')).toHaveLength(3);
    }
  });

  it('`me` with an access token is one: the session check reads the user it answers with', async () => {
    const user = await t.app.services.users.createUser({ email: 'trips-me@example.com' }, systemMeta);
    await t.app.services.passwords.setPassword(user.id, { password: PASSWORD }, systemMeta);
    const signedIn = (await t.run(TripsLogin, { input: { identifier: 'trips-me@example.com', password: PASSWORD } }, { token: null })).login;
    if (signedIn.__typename !== 'LoginSuccess') throw new Error(signedIn.__typename);
    // The first check of a token signed with a key this instance has not verified with yet loads that key.
    await t.run(TripsMe, {}, { token: signedIn.accessToken });
    let me: unknown;
    const sent = await counting(async () => (me = (await t.run(TripsMe, {}, { token: signedIn.accessToken })).me));
    expect(me).toMatchObject({ id: user.id, email: 'trips-me@example.com', state: 'ACTIVE' });
    expect(sent, sent.join('\n')).toHaveLength(1);
  });
});
