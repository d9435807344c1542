/**
 * Threat: denial of service through an imported password hash. A hash
 * carries its own cost, and every verification for that user pays it: an
 * admin (or an import pipeline fed by a compromised source) that stores
 * `$2b$31$…` or an argon2 hash with m=4294967295 makes each sign-in attempt
 * for that user run for days or ask for terabytes, and anyone who knows the
 * user id can trigger it. Such hashes are refused at import with an
 * InvalidInputError naming the limit; one already in the database (imported
 * before the limits, or written directly) is never verified: the attempt
 * answers IncorrectPasswordError after the dummy verification, so it takes
 * the usual time and not the hash's.
 */
import { pbkdf2Sync } from 'node:crypto';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const CreateUser = graphql(`
  mutation HashLimitCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess { user { id hasPassword } }
      ... on InvalidInputError { code field message }
    }
  }
`);
const SetPassword = graphql(`
  mutation HashLimitSetPassword($input: SetPasswordInput!) {
    setPassword(input: $input) {
      __typename
      ... on SetPasswordSuccess { user { hasPassword } }
      ... on InvalidInputError { code field message }
      ... on Error { code message }
    }
  }
`);
const VerifyPassword = graphql(`
  mutation HashLimitVerifyPassword($input: VerifyPasswordInput!) {
    verifyPassword(input: $input) {
      __typename
      ... on IncorrectPasswordError { code attemptsBeforeLock }
      ... on Error { code message }
    }
  }
`);

// The configured (cheap) argon2id parameters: the dummy verification uses them.
const ARGON2_ENV = { PORTCULLIS_ARGON2_MEMORY_KIB: '1024', PORTCULLIS_ARGON2_ITERATIONS: '1', PORTCULLIS_ARGON2_PARALLELISM: '1' };

let t: TestApp;
let cheapArgon2: string;
let cheapBcrypt: string;
beforeAll(async () => {
  t = await createTestApp({ env: ARGON2_ENV });
  cheapArgon2 = await argon2.hash('the right password', { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 });
  cheapBcrypt = bcrypt.hashSync('the right password', 4);
});
afterAll(() => t.close());
afterEach(() => {
  vi.restoreAllMocks();
});

/** A well-formed argon2id PHC string with the given parameters (salt and hash of a real cheap one). */
const argon2With = (m: number, t: number, p: number) => {
  const parts = cheapArgon2.split('$');
  parts[3] = `m=${m},t=${t},p=${p}`;
  return parts.join('$');
};
/** A well-formed bcrypt string with the given cost (salt and hash of a real cost-4 one). */
const bcryptWith = (cost: string) => `$2b$${cost}$${cheapBcrypt.slice(7)}`;
/** A well-formed Django PBKDF2 string claiming `iterations`; only the one-iteration digest is real. */
const pbkdf2With = (iterations: number) => `pbkdf2_sha256$${iterations}$seasalt$${pbkdf2Sync('the right password', 'seasalt', 1, 32, 'sha256').toString('base64')}`;

let n = 0;
async function newUser(passwordHash?: string) {
  const data = await t.run(CreateUser, { input: { email: `hashlimit${++n}@example.com`, passwordHash } });
  if (data.createUser.__typename !== 'CreateUserSuccess') throw new Error(JSON.stringify(data.createUser));
  return data.createUser.user;
}
const setHash = async (userId: string, passwordHash: string) => (await t.run(SetPassword, { input: { userId, passwordHash } })).setPassword;
const verify = async (userId: string, password: string) => (await t.run(VerifyPassword, { input: { userId, password } })).verifyPassword;

describe('importing a hash', () => {
  it('refuses costs beyond the limits with InvalidInputError naming the limit, and stores nothing', async () => {
    const user = await newUser();
    const cases: Array<[string, RegExp]> = [
      [bcryptWith('17'), /bcrypt cost 17 .*4 to 16/],
      [bcryptWith('31'), /bcrypt cost 31 .*4 to 16/],
      [bcryptWith('03'), /bcrypt cost 3 .*4 to 16/],
      [argon2With(524_289, 1, 1), /m=524289 KiB .*limit of 524288 KiB/],
      [argon2With(4_294_967_295, 1, 1), /limit of 524288 KiB/],
      [argon2With(1024, 11, 1), /t=11 .*limit of 10/],
      [argon2With(1024, 4_294_967_295, 1), /limit of 10/],
      [argon2With(1024, 1, 17), /p=17 .*limit of 16/],
      [argon2With(64, 1, 16), /8 KiB per lane/],
      [pbkdf2With(2_000_001), /2000001 .*1 to 2000000/],
      [pbkdf2With(0), /iterations 0 .*1 to 2000000/],
    ];
    for (const [hash, limit] of cases) {
      const r = await setHash(user.id, hash);
      expect(r, hash).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT', field: 'passwordHash', message: expect.stringMatching(limit) });
      // The message names parameters, never the hash.
      expect((r as { message: string }).message).not.toContain(hash.slice(-20));
    }
    const row = await t.app.database.client.authMethod.findUnique({ where: { slot: `${user.id}:PASSWORD` } });
    expect(row).toBeNull();

    // createUser's passwordHash goes through the same check.
    const created = await t.run(CreateUser, { input: { email: 'hashlimit-create@example.com', passwordHash: bcryptWith('31') } });
    expect(created.createUser).toMatchObject({ __typename: 'InvalidInputError', field: 'passwordHash', message: expect.stringMatching(/4 to 16/) });
  });

  it('accepts hashes at the limits', async () => {
    // Verified: cheap real hashes at the edges that cost little.
    const bcrypt4 = await newUser(cheapBcrypt);
    expect(cheapBcrypt.startsWith('$2b$04$')).toBe(true);
    expect(await verify(bcrypt4.id, 'the right password')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
    for (const options of [{ memoryCost: 1024, timeCost: 10, parallelism: 1 }, { memoryCost: 1024, timeCost: 1, parallelism: 16 }]) {
      const user = await newUser(await argon2.hash('the right password', { type: argon2.argon2id, ...options }));
      expect(await verify(user.id, 'the right password'), JSON.stringify(options)).toMatchObject({ __typename: 'VerifyPasswordSuccess' });
    }
    const pbkdf2One = await newUser(pbkdf2With(1));
    expect(await verify(pbkdf2One.id, 'the right password')).toMatchObject({ __typename: 'VerifyPasswordSuccess' });

    // Accepted but not verified here: each would cost its full price (512 MiB, seconds of bcrypt).
    const user = await newUser();
    for (const hash of [bcryptWith('16'), argon2With(524_288, 1, 1), argon2With(1024, 10, 16), pbkdf2With(2_000_000)]) {
      expect(await setHash(user.id, hash), hash).toEqual({ __typename: 'SetPasswordSuccess', user: { hasPassword: true } });
    }
  });
});

describe('a stored hash beyond the limits', () => {
  /** Writes the hash directly, as an import from before the limits would have left it. */
  async function storeDirectly(userId: string, hash: string) {
    const slot = `${userId}:PASSWORD`;
    const updated = await t.app.database.client.$executeRaw`UPDATE "AuthMethod" SET "secret" = ${hash} WHERE "slot" = ${slot}`;
    expect(updated).toBe(1);
  }

  it.each([
    ['bcrypt cost 31 (2^31 rounds: days of CPU)', () => bcryptWith('31')],
    ['argon2 t=4294967295 (never finishes)', () => argon2With(1024, 4_294_967_295, 1)],
    // A real digest of the right password: verifying it would say yes, so a "no" shows it was not verified.
    ['PBKDF2 with 2000001 iterations', () => `pbkdf2_sha256$2000001$seasalt$${pbkdf2Sync('the right password', 'seasalt', 2_000_001, 32, 'sha256').toString('base64')}`],
  ])(
    'is never verified: %s answers IncorrectPasswordError after the dummy work only',
    async (_label, hashOf) => {
      const user = await newUser(cheapBcrypt);
      const hash = hashOf();
      await storeDirectly(user.id, hash);
      // Observe (without replacing) the expensive primitives.
      const bcryptCompare = vi.spyOn(bcrypt, 'compare');
      const argon2Verify = vi.spyOn(argon2, 'verify');

      // Even the right password: the hash cannot be checked, so it proves nothing.
      expect(await verify(user.id, 'the right password')).toMatchObject({ __typename: 'IncorrectPasswordError', code: 'INCORRECT_PASSWORD', attemptsBeforeLock: 9 });

      expect(bcryptCompare).not.toHaveBeenCalled();
      // One argon2 verification, against the dummy with the configured parameters: the usual time.
      expect(argon2Verify).toHaveBeenCalledTimes(1);
      const [checked] = argon2Verify.mock.calls[0];
      expect(checked).not.toBe(hash);
      expect(checked.split('$')[3].split(',').sort()).toEqual(['m=1024', 'p=1', 't=1']);
      // Left as it is (no upgrade without a verified password); an admin sets a new one.
      const row = await t.app.database.client.authMethod.findUniqueOrThrow({ where: { slot: `${user.id}:PASSWORD` } });
      expect(row.secret).toBe(hash);
    },
    // Generous for a loaded machine; without the limits the bcrypt case would not finish at all.
    60_000,
  );
});
