/**
 * A password sign-in is bound by the hash; on PostgreSQL each statement is
 * also a round trip to the server, spent while the request waits. This
 * counts the driver's queries of a successful sign-in without MFA (after a
 * first one has created the signing key and recorded the day's activity), so
 * a change that adds a round trip to the hot path is noticed here.
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

const PASSWORD = 'counted round trips';
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

describe.runIf(testProvider === 'postgresql')('round trips of a password sign-in (PostgreSQL)', () => {
  it('are three: reserve the attempt (finding the user and reading its factors), commit its success, open the session (reading the signing key)', async () => {
    const user = await t.app.services.users.createUser({ email: 'trips@example.com', username: 'trips' }, systemMeta);
    await t.app.services.passwords.setPassword(user.id, { password: PASSWORD }, systemMeta);
    const login = async (identifier: string) => (await t.run(TripsLogin, { input: { identifier, password: PASSWORD } }, { token: null })).login.__typename;
    expect(await login('trips@example.com')).toBe('LoginSuccess');
    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const q = args[0] as string | { text?: string };
      sent.push(typeof q === 'string' ? q : (q.text ?? ''));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    try {
      for (const identifier of ['trips@example.com', 'TRIPS', 'trips@example.com']) {
        const before = sent.length;
        expect(await login(identifier)).toBe('LoginSuccess');
        expect(sent.slice(before), sent.slice(before).join('\n')).toHaveLength(3);
      }
    } finally {
      pg.Client.prototype.query = query;
    }
  });
});
