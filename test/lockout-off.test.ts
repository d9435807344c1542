/**
 * With the lockout policy off (0 attempts), a check reserves nothing but
 * still reads the stored hash with the user in one statement, and still
 * refuses locked and inactive users.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const OffCreateUser = graphql(`
  mutation LockoutOffCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);
const OffVerify = graphql(`
  mutation LockoutOffVerify($input: VerifyPasswordInput!) {
    verifyPassword(input: $input) {
      __typename
      ... on VerifyPasswordSuccess { user { id } }
      ... on IncorrectPasswordError { attemptsBeforeLock }
      ... on Error { code }
    }
  }
`);
const OffState = graphql(`
  query LockoutOffState($id: ID!) { user(id: $id) { state lockedReason } }
`);
const OffLock = graphql(`
  mutation LockoutOffLock($id: ID!) { lockUser(input: { userId: $id }) { __typename } }
`);
const OffUnlock = graphql(`
  mutation LockoutOffUnlock($id: ID!) { unlockUser(input: { userId: $id }) { __typename } }
`);
const OffDeactivate = graphql(`
  mutation LockoutOffDeactivate($id: ID!) { deactivateUser(input: { userId: $id }) { __typename } }
`);

const PASSWORD = 'a perfectly long password';
const queries: string[] = [];
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_LOCKOUT_PASSWORD_ATTEMPTS: '0' }, onQuery: (sql) => queries.push(sql) });
});
afterAll(() => t.close());

let n = 0;
async function newUser(password?: string) {
  const r = await t.run(OffCreateUser, { input: { email: `off${++n}@example.com`, password } });
  if (r.createUser.__typename !== 'CreateUserSuccess') throw new Error(r.createUser.__typename);
  return r.createUser.user.id;
}
const verify = async (userId: string, password: string) => (await t.run(OffVerify, { input: { userId, password } })).verifyPassword;

it('checks passwords without counting attempts: many wrong ones do not lock', async () => {
  const id = await newUser(PASSWORD);
  for (let i = 0; i < 12; i++) {
    expect(await verify(id, 'not the password')).toEqual({ __typename: 'IncorrectPasswordError', code: 'INCORRECT_PASSWORD', attemptsBeforeLock: null });
  }
  expect((await t.run(OffState, { id })).user).toEqual({ state: 'ACTIVE', lockedReason: null });
  expect(await verify(id, PASSWORD)).toEqual({ __typename: 'VerifyPasswordSuccess', user: { id } });
  const row = await t.app.database.client.user.findUniqueOrThrow({ where: { id } });
  expect(row.failedPasswordAttempts).toBe(0);
});

it('reads the user and the stored hash in one statement, and writes no counter', async () => {
  const id = await newUser(PASSWORD);
  queries.length = 0;
  expect(await verify(id, 'not the password')).toMatchObject({ __typename: 'IncorrectPasswordError' });
  const readsOfUser = queries.filter((q) => /\bFROM\s+(?:[`"](?:main|public)[`"]\.)?[`"]User[`"]/.test(q));
  expect(readsOfUser).toHaveLength(1);
  expect(readsOfUser[0]).toMatch(/SELECT "secret" FROM "AuthMethod"/);
  expect(queries.filter((q) => /^\s*UPDATE\s+(?:[`"](?:main|public)[`"]\.)?[`"]User[`"]/i.test(q))).toEqual([]);
});

it('still refuses an admin-locked user, even with the right password, until an unlock', async () => {
  const id = await newUser(PASSWORD);
  expect((await t.run(OffLock, { id })).lockUser.__typename).toBe('LockUserSuccess');
  expect(await verify(id, PASSWORD)).toEqual({ __typename: 'UserLockedError', code: 'USER_LOCKED' });
  expect(await verify(id, 'not the password')).toEqual({ __typename: 'UserLockedError', code: 'USER_LOCKED' });
  expect((await t.run(OffUnlock, { id })).unlockUser.__typename).toBe('UnlockUserSuccess');
  expect(await verify(id, PASSWORD)).toEqual({ __typename: 'VerifyPasswordSuccess', user: { id } });
});

it('still refuses an inactive user, and answers for a user without a password or no user at all', async () => {
  const id = await newUser(PASSWORD);
  expect((await t.run(OffDeactivate, { id })).deactivateUser.__typename).toBe('DeactivateUserSuccess');
  expect(await verify(id, PASSWORD)).toEqual({ __typename: 'UserInactiveError', code: 'USER_INACTIVE' });
  expect(await verify(await newUser(), 'anything at all')).toEqual({ __typename: 'NoPasswordError', code: 'NO_PASSWORD' });
  expect(await verify('usr_01nobodyhome000000000000000', 'anything at all')).toEqual({ __typename: 'UserNotFoundError', code: 'USER_NOT_FOUND' });
});
