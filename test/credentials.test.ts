/**
 * Passwords through the GraphQL API: set, import, verify (every outcome),
 * rehash, change (current password or reset code), reset codes, policy,
 * auth method listing and removal, events, and no secret in the clear.
 */
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';

// Cheap argon2 for speed; the rehash test relies on these exact values.
const ARGON2_ENV = { PORTCULLIS_ARGON2_MEMORY_KIB: '1024', PORTCULLIS_ARGON2_ITERATIONS: '1', PORTCULLIS_ARGON2_PARALLELISM: '1' };

const CreateUser = graphql(`
  mutation CredCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess { user { id hasPassword passwordChangedAt authMethods { id kind verified } } }
      ... on WeakPasswordError { code reasons }
      ... on Error { code message }
    }
  }
`);

const SetPassword = graphql(`
  mutation SetPassword($input: SetPasswordInput!) {
    setPassword(input: $input) {
      __typename
      ... on SetPasswordSuccess { user { id hasPassword passwordChangedAt } }
      ... on WeakPasswordError { code reasons }
      ... on InvalidInputError { code field message }
      ... on Error { code message }
    }
  }
`);

const VerifyPassword = graphql(`
  mutation VerifyPassword($input: VerifyPasswordInput!) {
    verifyPassword(input: $input) {
      __typename
      ... on VerifyPasswordSuccess { mustChange user { id state } }
      ... on IncorrectPasswordError { code message attemptsBeforeLock }
      ... on UserLockedError { code lockedUntil }
      ... on Error { code message }
    }
  }
`);

const ChangePassword = graphql(`
  mutation ChangePassword($input: ChangePasswordInput!) {
    changePassword(input: $input) {
      __typename
      ... on ChangePasswordSuccess { user { id passwordChangedAt } }
      ... on WeakPasswordError { reasons }
      ... on IncorrectPasswordError { attemptsBeforeLock }
      ... on Error { code message }
    }
  }
`);

const RequestReset = graphql(`
  mutation RequestPasswordReset($input: RequestPasswordResetInput!) {
    requestPasswordReset(input: $input) {
      __typename
      ... on RequestPasswordResetSuccess { issuedCode expiresAt sentTo user { id } }
      ... on DeliveryFailedError { channel }
      ... on ResendCooldownError { retryAfter }
      ... on Error { code message }
    }
  }
`);

const RemoveAuthMethod = graphql(`
  mutation RemoveAuthMethod($input: RemoveAuthMethodInput!) {
    removeAuthMethod(input: $input) {
      __typename
      ... on RemoveAuthMethodSuccess { removedAuthMethodId kind user { hasPassword authMethods { kind } } }
      ... on Error { code message }
    }
  }
`);

const UserEvents = graphql(`
  query CredUserEvents($userId: ID!) {
    events(first: 100, userId: $userId) { edges { node { type data } } }
  }
`);

const Deactivate = graphql(`
  mutation CredDeactivate($id: ID!) { deactivateUser(input: { userId: $id }) { __typename } }
`);
const Lock = graphql(`
  mutation CredLock($id: ID!) { lockUser(input: { userId: $id }) { __typename } }
`);

let t: TestApp;
const sink = codeSink();
beforeAll(async () => {
  t = await createTestApp({ env: ARGON2_ENV, delivery: sink.delivery });
});
afterAll(() => t.close());

let n = 0;
async function newUser(input: { password?: string; passwordHash?: string; passwordMustChange?: boolean } = {}) {
  const data = await t.run(CreateUser, { input: { email: `cred${++n}@example.com`, ...input } });
  if (data.createUser.__typename !== 'CreateUserSuccess') throw new Error(JSON.stringify(data.createUser));
  return data.createUser.user;
}

const verify = async (userId: string, password: string) => (await t.run(VerifyPassword, { input: { userId, password } })).verifyPassword;
const eventTypes = async (userId: string) => (await t.run(UserEvents, { userId })).events.edges.map((e) => e.node.type);
const passwordRow = (userId: string) => t.app.database.client.authMethod.findUniqueOrThrow({ where: { slot: `${userId}:PASSWORD` } });

describe('verifyPassword', () => {
  it('answers success, incorrect, no password, no user, locked and inactive', async () => {
    const user = await newUser({ password: 'correct horse battery' });
    expect(user.hasPassword).toBe(true);
    expect(user.authMethods).toEqual([expect.objectContaining({ kind: 'PASSWORD', verified: true })]);
    expect(await verify(user.id, 'correct horse battery')).toEqual({ __typename: 'VerifyPasswordSuccess', mustChange: false, user: { id: user.id, state: 'ACTIVE' } });
    expect(await verify(user.id, 'wrong horse battery')).toMatchObject({ __typename: 'IncorrectPasswordError', code: 'INCORRECT_PASSWORD', attemptsBeforeLock: 9 });

    const noPassword = await newUser();
    expect(await verify(noPassword.id, 'anything at all')).toMatchObject({ __typename: 'NoPasswordError', code: 'NO_PASSWORD' });
    expect(await verify('usr_01nobodyhome000000000000000', 'anything at all')).toMatchObject({ __typename: 'UserNotFoundError', code: 'USER_NOT_FOUND' });

    const locked = await newUser({ password: 'correct horse battery' });
    await t.run(Lock, { id: locked.id });
    expect(await verify(locked.id, 'correct horse battery')).toMatchObject({ __typename: 'UserLockedError', code: 'USER_LOCKED', lockedUntil: null });

    const inactive = await newUser({ password: 'correct horse battery' });
    await t.run(Deactivate, { id: inactive.id });
    expect(await verify(inactive.id, 'correct horse battery')).toMatchObject({ __typename: 'UserInactiveError', code: 'USER_INACTIVE' });
  });

  it('records failures and successes as events without the password or its hash', async () => {
    const user = await newUser({ password: 'correct horse battery' });
    await verify(user.id, 'guess number one');
    await verify(user.id, 'correct horse battery');
    const { events } = await t.run(UserEvents, { userId: user.id });
    expect(events.edges.map((e) => e.node.type)).toEqual([
      'USER_CREATED',
      'USER_PASSWORD_CHANGED',
      'USER_PASSWORD_VERIFICATION_FAILED',
      'USER_PASSWORD_VERIFIED',
    ]);
    expect(events.edges[2].node.data).toMatchObject({ attemptsBeforeLock: 9, locked: false });
    const hash = (await passwordRow(user.id)).secret!;
    const all = JSON.stringify(events);
    for (const secret of ['correct horse battery', 'guess number one', hash]) expect(all).not.toContain(secret);
  });

  it('stores only an argon2id hash with the configured parameters', async () => {
    const user = await newUser({ password: 'correct horse battery' });
    const row = await passwordRow(user.id);
    expect(row.secret).toMatch(/^\$argon2id\$v=19\$/);
    expect(row.secret).not.toContain('correct horse battery');
    expect(row.id).toMatch(/^am_pwd_/);
    const userRow = await t.app.database.client.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(JSON.stringify(userRow)).not.toContain('correct horse battery');
  });
});

describe('imported hashes and rehash', () => {
  it('verifies an imported bcrypt hash ($2a$, $2b$, $2y$), then upgrades it to argon2id', async () => {
    const base = bcrypt.hashSync('migrated password', 4);
    for (const prefix of ['$2a$', '$2b$', '$2y$']) {
      const imported = prefix + base.slice(4);
      const user = await newUser({ passwordHash: imported });
      expect((await passwordRow(user.id)).secret).toBe(imported);
      expect(await verify(user.id, 'wrong password')).toMatchObject({ __typename: 'IncorrectPasswordError' });
      expect((await passwordRow(user.id)).secret).toBe(imported);
      expect(await verify(user.id, 'migrated password')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
      const upgraded = (await passwordRow(user.id)).secret!;
      expect(upgraded).toMatch(/^\$argon2id\$v=19\$/);
      expect(await verify(user.id, 'migrated password')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
    }
  });

  it('verifies imported argon2i and argon2d hashes via setPassword and upgrades them', async () => {
    for (const type of [argon2.argon2i, argon2.argon2d] as const) {
      const user = await newUser();
      const imported = await argon2.hash('from the old system', { type, memoryCost: 2048, timeCost: 1, parallelism: 1 });
      const set = await t.run(SetPassword, { input: { userId: user.id, passwordHash: imported } });
      expect(set.setPassword).toMatchObject({ __typename: 'SetPasswordSuccess', user: { hasPassword: true } });
      expect(await verify(user.id, 'from the old system')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
      expect((await passwordRow(user.id)).secret).toMatch(/^\$argon2id\$/);
    }
  });

  it('re-hashes an argon2id hash written with older parameters after the next successful verification', async () => {
    const older = await argon2.hash('parameters changed', { type: argon2.argon2id, memoryCost: 2048, timeCost: 2, parallelism: 1 });
    const user = await newUser({ passwordHash: older });
    expect(await verify(user.id, 'parameters changed')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
    const now = (await passwordRow(user.id)).secret!;
    expect(now).not.toBe(older);
    expect(now.split('$')[3].split(',').sort()).toEqual(['m=1024', 'p=1', 't=1']);
    // Current parameters: no further rewrite.
    expect(await verify(user.id, 'parameters changed')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
    expect((await passwordRow(user.id)).secret).toBe(now);
  });

  it('refuses an unknown hash format, and both or neither of password and passwordHash', async () => {
    const user = await newUser();
    for (const input of [{ passwordHash: '5f4dcc3b5aa765d61d8327deb882cf99' }, { password: 'long enough pw', passwordHash: bcrypt.hashSync('x', 4) }, {}]) {
      const r = await t.run(SetPassword, { input: { userId: user.id, ...input } });
      expect(r.setPassword).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT' });
    }
    expect((await t.run(SetPassword, { input: { userId: 'usr_01nobody', password: 'long enough pw' } })).setPassword).toMatchObject({ __typename: 'UserNotFoundError' });
  });
});

describe('password policy', () => {
  it('refuses short and common passwords with the reasons, on createUser, setPassword and changePassword', async () => {
    const created = await t.run(CreateUser, { input: { email: 'weak@example.com', password: 'password1' } });
    expect(created.createUser).toMatchObject({ __typename: 'WeakPasswordError', code: 'WEAK_PASSWORD', reasons: ['is one of the most commonly used passwords'] });
    // No half-created user: the email is still free.
    expect((await t.run(CreateUser, { input: { email: 'weak@example.com' } })).createUser.__typename).toBe('CreateUserSuccess');

    const user = await newUser({ password: 'a fine passphrase' });
    const set = await t.run(SetPassword, { input: { userId: user.id, password: 'zq9!x' } });
    expect(set.setPassword).toMatchObject({ __typename: 'WeakPasswordError', reasons: ['must be at least 8 characters'] });
    const change = await t.run(ChangePassword, { input: { userId: user.id, currentPassword: 'a fine passphrase', newPassword: 'qwertyuiop' } });
    expect(change.changePassword).toMatchObject({ __typename: 'WeakPasswordError', reasons: ['is one of the most commonly used passwords'] });
    // The weak attempt changed nothing.
    expect(await verify(user.id, 'a fine passphrase')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
  });
});

describe('setPassword and changePassword', () => {
  it('sets a password with mustChange, which verifyPassword reports until the user changes it', async () => {
    const user = await newUser();
    const set = await t.run(SetPassword, { input: { userId: user.id, password: 'temporary passphrase', mustChange: true } });
    expect(set.setPassword).toMatchObject({ __typename: 'SetPasswordSuccess', user: { hasPassword: true } });
    expect(await verify(user.id, 'temporary passphrase')).toMatchObject({ __typename: 'VerifyPasswordSuccess', mustChange: true });

    const wrong = await t.run(ChangePassword, { input: { userId: user.id, currentPassword: 'not the password', newPassword: 'my own passphrase' } });
    expect(wrong.changePassword).toMatchObject({ __typename: 'IncorrectPasswordError', attemptsBeforeLock: 9 });
    const ok = await t.run(ChangePassword, { input: { userId: user.id, currentPassword: 'temporary passphrase', newPassword: 'my own passphrase' } });
    expect(ok.changePassword.__typename).toBe('ChangePasswordSuccess');
    expect(await verify(user.id, 'temporary passphrase')).toMatchObject({ __typename: 'IncorrectPasswordError' });
    expect(await verify(user.id, 'my own passphrase')).toMatchObject({ __typename: 'VerifyPasswordSuccess', mustChange: false });
    expect(await eventTypes(user.id)).toContain('USER_PASSWORD_CHANGED');
  });

  it('changes a password with a reset code once; the code is single use and bound to the user', async () => {
    const user = await newUser({ password: 'forgotten passphrase' });
    const other = await newUser({ password: 'another passphrase' });
    const reset = await t.run(RequestReset, { input: { userId: user.id, returnCode: true } });
    if (reset.requestPasswordReset.__typename !== 'RequestPasswordResetSuccess') throw new Error('no reset');
    const { issuedCode: code, sentTo, expiresAt } = reset.requestPasswordReset;
    expect(code).toMatch(/^[0-9A-Z]{12}$/);
    expect(new Date(expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(sentTo).toBeNull();
    expect(sink.sent).toHaveLength(0);

    const elsewhere = await t.run(ChangePassword, { input: { userId: other.id, resetCode: code!, newPassword: 'stolen passphrase' } });
    expect(elsewhere.changePassword).toMatchObject({ __typename: 'IncorrectCodeError' });
    const ok = await t.run(ChangePassword, { input: { userId: user.id, resetCode: code!.toLowerCase(), newPassword: 'remembered passphrase' } });
    expect(ok.changePassword.__typename).toBe('ChangePasswordSuccess');
    const again = await t.run(ChangePassword, { input: { userId: user.id, resetCode: code!, newPassword: 'second passphrase' } });
    expect(again.changePassword).toMatchObject({ __typename: 'CodeAlreadyUsedError', code: 'CODE_ALREADY_USED' });
    expect(await verify(user.id, 'remembered passphrase')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
    expect(await verify(other.id, 'another passphrase')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });

    // Stored as a keyed hash only.
    const row = await t.app.database.client.oneTimeCode.findFirstOrThrow({ where: { userId: user.id, purpose: 'password_reset' } });
    expect(JSON.stringify(row)).not.toContain(code!);
    const types = await eventTypes(user.id);
    expect(types).toContain('USER_PASSWORD_RESET_REQUESTED');
    const log = JSON.stringify((await t.run(UserEvents, { userId: user.id })).events);
    expect(log).not.toContain(code!);
  });

  it('sends the code to a verified email (not returned), refuses without a verified address, withdraws it when sending fails', async () => {
    const user = await newUser({ password: 'forgotten passphrase' });
    const unverified = await t.run(RequestReset, { input: { userId: user.id } });
    expect(unverified.requestPasswordReset).toMatchObject({ __typename: 'EmailNotVerifiedError', code: 'EMAIL_NOT_VERIFIED' });

    await t.app.database.client.user.update({ where: { id: user.id }, data: { emailVerifiedAt: new Date() } });
    const email = (await t.app.database.client.user.findUniqueOrThrow({ where: { id: user.id } })).email!;
    const sent = await t.run(RequestReset, { input: { userId: user.id } });
    expect(sent.requestPasswordReset).toMatchObject({ __typename: 'RequestPasswordResetSuccess', issuedCode: null, sentTo: expect.stringContaining('@example.com') });
    const code = sink.lastCode(email);
    expect(sink.sent.at(-1)).toMatchObject({ template: 'password_reset', to: email });
    const ok = await t.run(ChangePassword, { input: { userId: user.id, resetCode: code, newPassword: 'mailed passphrase' } });
    expect(ok.changePassword.__typename).toBe('ChangePasswordSuccess');

    // A second request within the resend cooldown is refused, and says from when it may be asked again.
    expect((await t.run(RequestReset, { input: { userId: user.id } })).requestPasswordReset).toMatchObject({
      __typename: 'ResendCooldownError',
      code: 'RESEND_COOLDOWN',
      retryAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    const other = await newUser({ password: 'forgotten passphrase' });
    await t.app.database.client.user.update({ where: { id: other.id }, data: { emailVerifiedAt: new Date() } });
    sink.fail();
    const refusedBefore = sink.refused.length;
    try {
      const failed = await t.run(RequestReset, { input: { userId: other.id } });
      expect(failed.requestPasswordReset).toMatchObject({ __typename: 'DeliveryFailedError', code: 'DELIVERY_FAILED', channel: 'email' });
    } finally {
      sink.fail(false);
    }
    // A code was issued and handed to the provider, which refused it; the unsent code was withdrawn.
    expect(sink.refused.slice(refusedBefore)).toEqual([expect.objectContaining({ template: 'password_reset' })]);
    expect(await t.app.database.client.oneTimeCode.count({ where: { userId: other.id, purpose: 'password_reset' } })).toBe(0);
    const lost = sink.refused.at(-1)!.params.code;
    const withLost = await t.run(ChangePassword, { input: { userId: other.id, resetCode: lost, newPassword: 'taken over passphrase' } });
    expect(withLost.changePassword).toMatchObject({ __typename: 'IncorrectCodeError' });
  });

  it('needs exactly one proof, and a user', async () => {
    const user = await newUser({ password: 'forgotten passphrase' });
    const neither = await t.run(ChangePassword, { input: { userId: user.id, newPassword: 'remembered passphrase' } });
    expect(neither.changePassword).toMatchObject({ __typename: 'InvalidInputError' });
    const missing = await t.run(RequestReset, { input: { userId: 'usr_01nobody', returnCode: true } });
    expect(missing.requestPasswordReset).toMatchObject({ __typename: 'UserNotFoundError' });
  });
});

describe('removeAuthMethod', () => {
  it('removes the password with user.password_removed; a second removal is NotFoundError', async () => {
    const user = await newUser({ password: 'soon removed pass' });
    const id = user.authMethods[0].id;
    const r = await t.run(RemoveAuthMethod, { input: { id } });
    expect(r.removeAuthMethod).toEqual({ __typename: 'RemoveAuthMethodSuccess', removedAuthMethodId: id, kind: 'PASSWORD', user: { hasPassword: false, authMethods: [] } });
    expect(await verify(user.id, 'soon removed pass')).toMatchObject({ __typename: 'NoPasswordError' });
    expect((await t.run(RemoveAuthMethod, { input: { id } })).removeAuthMethod).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await eventTypes(user.id)).toContain('USER_PASSWORD_REMOVED');
  });
});
