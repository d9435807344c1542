import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import type { CreateUserInput } from './gql/graphql.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const CreateUser = graphql(`
  mutation CreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess {
        user { id email emailVerified phone username givenName familyName displayName state metadata hasPassword mfaEnabled createdAt }
      }
      ... on AlreadyExistsError { code message field }
      ... on InvalidInputError { code message field }
    }
  }
`);

const UpdateUser = graphql(`
  mutation UpdateUser($input: UpdateUserInput!) {
    updateUser(input: $input) {
      __typename
      ... on UpdateUserSuccess { user { id email phone username givenName familyName displayName updatedAt } }
      ... on AlreadyExistsError { field }
      ... on Error { code message }
    }
  }
`);

const Lifecycle = graphql(`
  mutation Lifecycle($id: ID!, $reason: String) {
    lock: lockUser(input: { userId: $id, reason: $reason }) {
      __typename
      ... on LockUserSuccess { user { state lockedReason } }
      ... on InvalidStateError { code state }
    }
  }
`);

const Unlock = graphql(`
  mutation Unlock($id: ID!) {
    unlockUser(input: { userId: $id }) { __typename ... on UnlockUserSuccess { user { state } } ... on Error { code } }
  }
`);
const Deactivate = graphql(`
  mutation Deactivate($id: ID!) {
    deactivateUser(input: { userId: $id }) { __typename ... on DeactivateUserSuccess { user { state } } ... on Error { code } }
  }
`);
const Reactivate = graphql(`
  mutation Reactivate($id: ID!) {
    reactivateUser(input: { userId: $id }) { __typename ... on ReactivateUserSuccess { user { state } } ... on Error { code } }
  }
`);
const DeleteUser = graphql(`
  mutation DeleteUser($id: ID!) {
    deleteUser(input: { userId: $id }) { __typename ... on DeleteUserSuccess { deletedUserId } ... on Error { code } }
  }
`);
const GetUser = graphql(`
  query GetUser($id: ID!) {
    user(id: $id) { id email state events(first: 20) { edges { node { type actor { type } data } } } }
    node(id: $id) { __typename id ... on User { email } }
  }
`);
const ListUsers = graphql(`
  query ListUsers($first: Int, $after: String, $filter: UserFilter, $orderBy: UserOrder) {
    users(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id email state } }
    }
  }
`);
const Events = graphql(`
  query UserEvents($userId: ID!) {
    events(first: 50, userId: $userId) { edges { node { id type userId user { id } data } } }
  }
`);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

async function createUser(input: CreateUserInput) {
  const data = await t.run(CreateUser, { input });
  if (data.createUser.__typename !== 'CreateUserSuccess') throw new Error(`createUser failed: ${JSON.stringify(data.createUser)}`);
  return data.createUser.user;
}

describe('createUser', () => {
  it('creates a user with a prefixed id, trims the email and stores the phone in E.164', async () => {
    const user = await createUser({ email: '  Ada@Example.COM ', phone: '+44 20 7946 0958', username: 'ada', givenName: 'Ada', metadata: { plan: 'pro' } });
    expect(user.id).toMatch(/^usr_[0-9a-z]{26}$/);
    expect(user.email).toBe('Ada@Example.COM');
    expect(user.phone).toBe('+442079460958');
    expect(user).toMatchObject({ username: 'ada', givenName: 'Ada', state: 'ACTIVE', emailVerified: false, hasPassword: false, mfaEnabled: false, metadata: { plan: 'pro' } });
  });

  it('refuses a duplicate email compared case-insensitively, and a duplicate username', async () => {
    await createUser({ email: 'dup@example.com', username: 'dupe' });
    const byEmail = await t.run(CreateUser, { input: { email: 'DUP@example.com ' } });
    expect(byEmail.createUser).toMatchObject({ __typename: 'AlreadyExistsError', code: 'ALREADY_EXISTS', field: 'email' });
    const byName = await t.run(CreateUser, { input: { username: 'DUPE' } });
    expect(byName.createUser).toMatchObject({ __typename: 'AlreadyExistsError', field: 'username' });
  });

  it('lets exactly one of many concurrent creations with the same email win', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => t.run(CreateUser, { input: { email: 'race@example.com' } })));
    const kinds = results.map((r) => r.createUser.__typename).sort();
    expect(kinds.filter((k) => k === 'CreateUserSuccess')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'AlreadyExistsError')).toHaveLength(7);
  });

  it('answers bad input with InvalidInputError naming the field', async () => {
    for (const [input, field] of [
      [{ email: 'not-an-email' }, 'email'],
      [{ phone: '12' }, 'phone'],
      [{ username: 'has spaces' }, 'username'],
      [{ metadata: [1, 2] }, 'metadata'],
    ] as const) {
      const data = await t.run(CreateUser, { input });
      expect(data.createUser).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT', field });
    }
  });
});

describe('updateUser', () => {
  it('changes the given fields, leaves the others, and clears with null', async () => {
    const user = await createUser({ email: 'upd@example.com', givenName: 'Grace', displayName: 'G' });
    const data = await t.run(UpdateUser, { input: { userId: user.id, givenName: 'Grace H.', displayName: null, phone: '+1 415 555 0123' } });
    expect(data.updateUser).toMatchObject({ __typename: 'UpdateUserSuccess', user: { email: 'upd@example.com', givenName: 'Grace H.', displayName: null, phone: '+14155550123' } });
  });

  it('answers UserNotFoundError for an unknown id and AlreadyExistsError for a taken email', async () => {
    const missing = await t.run(UpdateUser, { input: { userId: 'usr_nope', givenName: 'x' } });
    expect(missing.updateUser).toMatchObject({ __typename: 'UserNotFoundError', code: 'USER_NOT_FOUND' });
    await createUser({ email: 'taken@example.com' });
    const other = await createUser({ email: 'other@example.com' });
    const taken = await t.run(UpdateUser, { input: { userId: other.id, email: 'TAKEN@example.com' } });
    expect(taken.updateUser).toMatchObject({ __typename: 'AlreadyExistsError', code: 'ALREADY_EXISTS' });
  });
});

describe('updateUser of names and the username (one direct write with its event)', () => {
  it('writes the names, records user.updated with the user as written and the given inputs, and moves updatedAt', async () => {
    const user = await createUser({ email: 'names@example.com', givenName: 'Ada', familyName: 'Byron' });
    const data = await t.run(UpdateUser, { input: { userId: user.id, username: 'Ada.L', familyName: null, displayName: 'Countess' } });
    if (data.updateUser.__typename !== 'UpdateUserSuccess') throw new Error(JSON.stringify(data.updateUser));
    const updated = data.updateUser.user;
    expect(updated).toMatchObject({ username: 'Ada.L', givenName: 'Ada', familyName: null, displayName: 'Countess', email: 'names@example.com' });
    expect(Date.parse(updated.updatedAt as string)).toBeGreaterThanOrEqual(Date.parse(user.createdAt as string));

    const { events } = await t.run(Events, { userId: user.id });
    const event = events.edges.map((e) => e.node).find((n) => n.type === 'USER_UPDATED');
    expect(event?.data).toEqual({
      changes: expect.arrayContaining(['username', 'familyName', 'displayName']),
      user: expect.objectContaining({ id: user.id, username: 'Ada.L', givenName: 'Ada', familyName: null, displayName: 'Countess', email: 'names@example.com', updatedAt: updated.updatedAt }),
    });
    expect((event?.data as { changes: string[] }).changes).toHaveLength(3);
  });

  it('answers UserNotFoundError for an unknown id and records nothing', async () => {
    const missing = await t.run(UpdateUser, { input: { userId: 'usr_gone', displayName: 'x', username: 'ghost' } });
    expect(missing.updateUser).toMatchObject({ __typename: 'UserNotFoundError', code: 'USER_NOT_FOUND' });
    const { events } = await t.run(Events, { userId: 'usr_gone' });
    expect(events.edges).toEqual([]);
  });

  it('refuses an invalid name or username with InvalidInputError and writes nothing', async () => {
    const user = await createUser({ email: 'badname@example.com', username: 'keeps' });
    const bad = await t.run(UpdateUser, { input: { userId: user.id, username: 'has spaces' } });
    expect(bad.updateUser).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT' });
    const { events } = await t.run(Events, { userId: user.id });
    expect(events.edges.map((e) => e.node.type)).toEqual(['USER_CREATED']);
  });

  it('answers AlreadyExistsError on username for a taken username, whatever its case, and records nothing', async () => {
    await createUser({ email: 'holder@example.com', username: 'holder' });
    const other = await createUser({ email: 'taker@example.com' });
    const taken = await t.run(UpdateUser, { input: { userId: other.id, username: 'HOLDER', givenName: 'T' } });
    expect(taken.updateUser).toMatchObject({ __typename: 'AlreadyExistsError', code: 'ALREADY_EXISTS', field: 'username' });
    const { events } = await t.run(Events, { userId: other.id });
    expect(events.edges.map((e) => e.node.type)).toEqual(['USER_CREATED']);
  });

  it('lets exactly one of many concurrent updates to the same username win', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, (_, i) => createUser({ email: `race${i}@example.com` })));
    const results = await Promise.all(users.map((u) => t.run(UpdateUser, { input: { userId: u.id, username: 'contested' } })));
    const kinds = results.map((r) => r.updateUser.__typename).sort();
    expect(kinds.filter((k) => k === 'UpdateUserSuccess')).toHaveLength(1);
    expect(results.filter((r) => r.updateUser.__typename !== 'UpdateUserSuccess').map((r) => r.updateUser)).toEqual(
      Array.from({ length: 5 }, () => expect.objectContaining({ __typename: 'AlreadyExistsError', field: 'username' })),
    );
  });
});

describe('lifecycle', () => {
  it('follows the state machine and refuses illegal transitions with InvalidStateError', async () => {
    const { id } = await createUser({ email: 'life@example.com' });
    expect((await t.run(Lifecycle, { id, reason: 'fraud review' })).lock).toMatchObject({ __typename: 'LockUserSuccess', user: { state: 'LOCKED', lockedReason: 'fraud review' } });
    expect((await t.run(Lifecycle, { id })).lock).toMatchObject({ __typename: 'InvalidStateError', code: 'INVALID_STATE', state: 'LOCKED' });
    expect((await t.run(Unlock, { id })).unlockUser).toMatchObject({ __typename: 'UnlockUserSuccess', user: { state: 'ACTIVE' } });
    expect((await t.run(Unlock, { id })).unlockUser).toMatchObject({ __typename: 'InvalidStateError' });
    expect((await t.run(Reactivate, { id })).reactivateUser).toMatchObject({ __typename: 'InvalidStateError' });
    expect((await t.run(Deactivate, { id })).deactivateUser).toMatchObject({ __typename: 'DeactivateUserSuccess', user: { state: 'INACTIVE' } });
    expect((await t.run(Lifecycle, { id })).lock).toMatchObject({ __typename: 'InvalidStateError', state: 'INACTIVE' });
    expect((await t.run(Reactivate, { id })).reactivateUser).toMatchObject({ __typename: 'ReactivateUserSuccess', user: { state: 'ACTIVE' } });

    const { user } = await t.run(GetUser, { id });
    const types = user!.events.edges.map((e) => e.node.type);
    expect(types).toEqual(['USER_CREATED', 'USER_LOCKED', 'USER_UNLOCKED', 'USER_DEACTIVATED', 'USER_REACTIVATED']);
    expect(user!.events.edges[1].node.data).toMatchObject({ reason: 'fraud review', user: { state: 'LOCKED' } });
  });

  it('lets only one of two concurrent locks succeed', async () => {
    const { id } = await createUser({ email: 'lockrace@example.com' });
    const results = await Promise.all([t.run(Lifecycle, { id }), t.run(Lifecycle, { id })]);
    expect(results.map((r) => r.lock.__typename).sort()).toEqual(['InvalidStateError', 'LockUserSuccess']);
  });

  it('deletes a user: gone from every query, the deletion stays in the event log, later operations say not found', async () => {
    const { id } = await createUser({ email: 'gone@example.com' });
    expect((await t.run(DeleteUser, { id })).deleteUser).toEqual({ __typename: 'DeleteUserSuccess', deletedUserId: id });
    const after = await t.run(GetUser, { id });
    expect(after.user).toBeNull();
    expect(after.node).toBeNull();
    expect((await t.run(DeleteUser, { id })).deleteUser).toMatchObject({ __typename: 'UserNotFoundError' });
    expect((await t.run(Lifecycle, { id })).lock).toMatchObject({ __typename: 'UserNotFoundError' });
    const list = await t.run(ListUsers, { filter: { email: 'gone@example.com' } });
    expect(list.users.totalCount).toBe(0);
    const log = await t.run(Events, { userId: id });
    expect(log.events.edges.map((e) => e.node.type)).toEqual(['USER_CREATED', 'USER_DELETED']);
    expect(log.events.edges[1].node).toMatchObject({ userId: id, user: null, data: { user: { email: 'gone@example.com' } } });
  });
});

describe('users and node', () => {
  it('resolves node(id) to the User type', async () => {
    const { id } = await createUser({ email: 'node@example.com' });
    const data = await t.run(GetUser, { id });
    expect(data.node).toEqual({ __typename: 'User', id, email: 'node@example.com' });
  });

  it('pages through users with cursors, filters by text and state, orders by email', async () => {
    const emails = ['zed@list.test', 'amy@list.test', 'max@list.test', 'bob@list.test', 'kim@list.test'];
    for (const email of emails) await createUser({ email, givenName: `Listy ${email.slice(0, 3)}` });
    const firstPage = await t.run(ListUsers, { first: 2, filter: { query: 'LIST.test' }, orderBy: { field: 'EMAIL', direction: 'ASC' } });
    expect(firstPage.users.totalCount).toBe(5);
    expect(firstPage.users.edges.map((e) => e.node.email)).toEqual(['amy@list.test', 'bob@list.test']);
    expect(firstPage.users.pageInfo.hasNextPage).toBe(true);
    const second = await t.run(ListUsers, { first: 10, after: firstPage.users.pageInfo.endCursor, filter: { query: 'list.test' }, orderBy: { field: 'EMAIL', direction: 'ASC' } });
    expect(second.users.edges.map((e) => e.node.email)).toEqual(['kim@list.test', 'max@list.test', 'zed@list.test']);
    const byName = await t.run(ListUsers, { first: 10, filter: { query: 'listy AMY' } });
    expect(byName.users.edges.map((e) => e.node.email)).toEqual(['amy@list.test']);
    const desc = await t.run(ListUsers, { first: 1, filter: { query: 'list.test' }, orderBy: { field: 'CREATED_AT', direction: 'DESC' } });
    expect(desc.users.edges[0].node.email).toBe('kim@list.test');
    const locked = await t.run(ListUsers, { first: 10, filter: { query: 'list.test', state: 'LOCKED' } });
    expect(locked.users.totalCount).toBe(0);
  });
});
