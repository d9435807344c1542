/**
 * Threat: online guessing of passwords and second-factor codes.
 *
 * - A burst of parallel wrong guesses must not get more evaluations than the
 *   limit (the race of GHSA-7h8m-vrxx-vr4m, where checks ran before counting).
 * - After the limit the user is LOCKED by policy, with a reason, an expiry and
 *   one user.locked event; the lock ends on time or when an admin unlocks.
 * - A success resets the counter; so does unlockUser.
 * - Unknown users and users without a password cost one hash verification
 *   too (no user enumeration through timing); checked by observing the
 *   argon2 work done and its parameters, not by measuring time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { configuredVerification, watchArgon2 } from './helpers/hash-work.js';
import { referenceTotp } from './helpers/totp.js';

const LIMIT = 5;
const CODE_LIMIT = 3;

const CreateUser = graphql(`
  mutation LockoutCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);
const VerifyPassword = graphql(`
  mutation LockoutVerifyPassword($input: VerifyPasswordInput!) {
    verifyPassword(input: $input) {
      __typename
      ... on IncorrectPasswordError { attemptsBeforeLock }
      ... on UserLockedError { lockedUntil }
      ... on TooManyAttemptsError { retryAfter }
    }
  }
`);
const VerifyTotp = graphql(`
  mutation LockoutVerifyTotp($input: VerifyTotpInput!) {
    verifyTotp(input: $input) {
      __typename
      ... on IncorrectCodeError { codeAttemptsLeft attemptsBeforeLock }
      ... on UserLockedError { lockedUntil }
    }
  }
`);
const StartTotp = graphql(`
  mutation LockoutStartTotp($input: StartTotpRegistrationInput!) {
    startTotpRegistration(input: $input) { __typename ... on StartTotpRegistrationSuccess { secret } }
  }
`);
const FinishTotp = graphql(`
  mutation LockoutFinishTotp($input: VerifyTotpRegistrationInput!) {
    verifyTotpRegistration(input: $input) { __typename }
  }
`);
const GetUser = graphql(`
  query LockoutUser($id: ID!) {
    user(id: $id) { state lockedReason lockedUntil events(first: 100) { edges { node { type data } } } }
  }
`);
const Unlock = graphql(`
  mutation LockoutUnlock($id: ID!) { unlockUser(input: { userId: $id }) { __typename } }
`);

const clock = manualClock(new Date('2026-05-01T08:00:00Z'));
let t: TestApp;
let argon2Work: ReturnType<typeof watchArgon2>;

beforeAll(async () => {
  t = await createTestApp({
    clock,
    env: {
      PORTCULLIS_LOCKOUT_PASSWORD_ATTEMPTS: String(LIMIT),
      PORTCULLIS_LOCKOUT_CODE_ATTEMPTS: String(CODE_LIMIT),
      PORTCULLIS_LOCKOUT_DURATION_SECONDS: '3600',
    },
  });
  argon2Work = watchArgon2();
});
afterAll(async () => {
  argon2Work.restore();
  await t.close();
});

let n = 0;
async function newUser(password?: string) {
  const data = await t.run(CreateUser, { input: { email: `lock${++n}@example.com`, password } });
  if (data.createUser.__typename !== 'CreateUserSuccess') throw new Error('createUser failed');
  return data.createUser.user.id;
}
const verify = async (userId: string, password: string) => (await t.run(VerifyPassword, { input: { userId, password } })).verifyPassword;
const user = async (id: string) => (await t.run(GetUser, { id })).user!;
const storedHash = async (id: string) => (await t.app.database.client.authMethod.findUniqueOrThrow({ where: { slot: `${id}:PASSWORD` } })).secret!;

describe('password lockout', () => {
  it('evaluates no more guesses than the limit in a concurrent burst, then locks once', async () => {
    const id = await newUser('the real passphrase');
    const stored = await storedHash(id);
    argon2Work.take();
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => verify(id, `wrong guess ${i}`)));
    const incorrect = results.filter((r) => r.__typename === 'IncorrectPasswordError');
    expect(incorrect).toHaveLength(LIMIT);
    // Exactly LIMIT guesses were checked against the stored hash; each refused one still cost a dummy verification.
    const work = argon2Work.take();
    expect(work.filter((w) => w.against === stored)).toHaveLength(LIMIT);
    expect(work).toEqual(Array.from({ length: 30 }, () => configuredVerification(t.app.config.passwords.argon2)));
    for (const r of results) expect(['IncorrectPasswordError', 'UserLockedError', 'TooManyAttemptsError']).toContain(r.__typename);
    expect(incorrect.map((r) => (r as { attemptsBeforeLock: number }).attemptsBeforeLock)).toContain(0);

    const u = await user(id);
    expect(u).toMatchObject({ state: 'LOCKED', lockedReason: 'too_many_failed_passwords', lockedUntil: '2026-05-01T09:00:00.000Z' });
    const locks = u.events.edges.filter((e) => e.node.type === 'USER_LOCKED');
    expect(locks).toHaveLength(1);
    expect(locks[0].node.data).toMatchObject({ reason: 'too_many_failed_passwords', lockedUntil: '2026-05-01T09:00:00.000Z' });
    // The right password does not get through a lock: it is never checked against the stored hash, only the dummy.
    expect(await verify(id, 'the real passphrase')).toMatchObject({ __typename: 'UserLockedError', lockedUntil: '2026-05-01T09:00:00.000Z' });
    const locked = argon2Work.take();
    expect(locked).toEqual([configuredVerification(t.app.config.passwords.argon2)]);
    expect(locked[0].against).not.toBe(stored);
  });

  it('reports the attempts left, resets on success, and ends a policy lock on time', async () => {
    const id = await newUser('the real passphrase');
    expect(await verify(id, 'nope 1')).toMatchObject({ attemptsBeforeLock: 4 });
    expect(await verify(id, 'nope 2')).toMatchObject({ attemptsBeforeLock: 3 });
    expect(await verify(id, 'the real passphrase')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
    expect(await verify(id, 'nope 3')).toMatchObject({ attemptsBeforeLock: 4 });
    for (const left of [3, 2, 1, 0]) expect(await verify(id, `nope ${left}`)).toMatchObject({ __typename: 'IncorrectPasswordError', attemptsBeforeLock: left });
    expect(await verify(id, 'the real passphrase')).toMatchObject({ __typename: 'UserLockedError' });

    clock.advance(3600_000 - 1);
    expect(await verify(id, 'the real passphrase')).toMatchObject({ __typename: 'UserLockedError' });
    clock.advance(1);
    expect(await verify(id, 'the real passphrase')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
    const u = await user(id);
    expect(u.state).toBe('ACTIVE');
    expect(u.events.edges.map((e) => e.node.type)).toContain('USER_UNLOCKED');
    // The counter starts again from zero after the lock.
    expect(await verify(id, 'nope again')).toMatchObject({ attemptsBeforeLock: 4 });
  });

  it('lets an admin unlock, which resets the counter', async () => {
    const id = await newUser('the real passphrase');
    for (let i = 0; i < LIMIT; i++) await verify(id, `nope ${i}`);
    expect((await user(id)).state).toBe('LOCKED');
    expect((await t.run(Unlock, { id })).unlockUser.__typename).toBe('UnlockUserSuccess');
    expect(await verify(id, 'nope after unlock')).toMatchObject({ attemptsBeforeLock: LIMIT - 1 });
    expect(await verify(id, 'the real passphrase')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
  });

  it('spends one hash verification on unknown users and users without a password', async () => {
    const noPassword = await newUser();
    const id = await newUser('the real passphrase');
    argon2Work.take();
    // Each outcome: one finished argon2id verification with the configured parameters, as costly as a real check.
    expect(await verify('usr_01nobodyhome000000000000000', 'a guess')).toMatchObject({ __typename: 'UserNotFoundError' });
    expect(argon2Work.take()).toEqual([configuredVerification(t.app.config.passwords.argon2)]);
    expect(await verify(noPassword, 'a guess')).toMatchObject({ __typename: 'NoPasswordError' });
    expect(argon2Work.take()).toEqual([configuredVerification(t.app.config.passwords.argon2)]);
    // A user with a password: the stored hash, and no dummy besides.
    expect(await verify(id, 'a guess')).toMatchObject({ __typename: 'IncorrectPasswordError' });
    expect(argon2Work.take()).toEqual([configuredVerification(t.app.config.passwords.argon2, await storedHash(id))]);
  });
});

describe('code lockout', () => {
  it('counts a concurrent burst of wrong TOTP codes exactly and locks on the code counter', async () => {
    const id = await newUser();
    const start = (await t.run(StartTotp, { input: { userId: id } })).startTotpRegistration;
    if (start.__typename !== 'StartTotpRegistrationSuccess') throw new Error('no totp');
    expect((await t.run(FinishTotp, { input: { userId: id, code: referenceTotp(start.secret, clock.now()) } })).verifyTotpRegistration.__typename).toBe(
      'VerifyTotpRegistrationSuccess',
    );
    clock.advance(30_000);
    const valid = new Set([-30_000, 0, 30_000].map((d) => referenceTotp(start.secret, new Date(clock.now().getTime() + d))));
    const wrong = Array.from({ length: 40 }, (_, i) => String(100000 + i * 7)).filter((c) => !valid.has(c)).slice(0, 20);
    const results = await Promise.all(wrong.map((code) => t.run(VerifyTotp, { input: { userId: id, code } })));
    const incorrect = results.filter((r) => r.verifyTotp.__typename === 'IncorrectCodeError');
    expect(incorrect).toHaveLength(CODE_LIMIT);
    const u = await user(id);
    expect(u).toMatchObject({ state: 'LOCKED', lockedReason: 'too_many_failed_codes' });
    // Even the right code is refused while locked; after an admin unlock it is accepted.
    const right = referenceTotp(start.secret, clock.now());
    expect((await t.run(VerifyTotp, { input: { userId: id, code: right } })).verifyTotp.__typename).toBe('UserLockedError');
    expect((await t.run(Unlock, { id })).unlockUser.__typename).toBe('UnlockUserSuccess');
    expect((await t.run(VerifyTotp, { input: { userId: id, code: right } })).verifyTotp.__typename).toBe('VerifyTotpSuccess');
  });
});
