/**
 * FORBIDDEN says why and what would be allowed, so a client can tell a wrong
 * user id from a management-only operation from one that needs the user's
 * own session.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed } from './helpers/seed.js';

const StartTotp = graphql(`
  mutation ForbiddenStartTotp($input: StartTotpRegistrationInput!) { startTotpRegistration(input: $input) { __typename } }
`);
const Lock = graphql(`
  mutation ForbiddenLock($input: LockUserInput!) { lockUser(input: $input) { __typename } }
`);
const Logout = graphql(`
  mutation ForbiddenLogout { logout { __typename } }
`);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

it('names the reason: NOT_SELF, API_KEY_REQUIRED or ACCESS_TOKEN_REQUIRED, and says who may', async () => {
  const me = await seed(t).user().signedIn();
  const other = await seed(t).user();
  const token = me.session!.accessToken;

  const notSelf = await t.exec(StartTotp, { input: { userId: other.id } }, { token });
  expect(notSelf.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_SELF', allowed: expect.stringContaining('API keys') });
  const adminOnly = await t.exec(Lock, { input: { userId: me.id } }, { token });
  expect(adminOnly.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'API_KEY_REQUIRED', allowed: 'API keys' });
  const ownSession = await t.exec(Logout, undefined);
  expect(ownSession.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ACCESS_TOKEN_REQUIRED' });

  // The same operations go through for the callers the answers name.
  expect((await t.run(StartTotp, { input: { userId: me.id } }, { token })).startTotpRegistration.__typename).toBe('StartTotpRegistrationSuccess');
  expect((await t.run(Lock, { input: { userId: other.id } })).lockUser.__typename).toBe('LockUserSuccess');
  expect((await t.run(Logout, undefined, { token })).logout.__typename).toBe('LogoutSuccess');
});
