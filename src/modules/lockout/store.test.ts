/**
 * The lockout store's contract, on the provider under test (the suite runs
 * once on SQLite and once on PostgreSQL): a reservation never grants more
 * attempts than the limit, reads what it names, and the counters, locks and
 * unlocks change a row only in the state they expect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../test/helpers/db.js';
import { createDatabase, type Database } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';
import type { ConditionalWrite } from './service.js';
import { createLockoutStore, DUE_LOCKS_SQL, type LockoutStore } from './store.js';

let testDb: TestDatabase;
let database: Database;
let store: LockoutStore;

beforeAll(async () => {
  testDb = await freshDatabase();
  database = await createDatabase(testDb.provider, testDb.url);
  store = createLockoutStore({ db: database.client, direct: database.direct });
});
afterAll(async () => {
  await database.close();
  await testDb.drop();
});

const at = (s: number) => new Date(Date.UTC(2026, 0, 2, 3, 4, s, 500));

async function newUser(data: Record<string, unknown> = {}) {
  const id = newId('User');
  const email = `${id}@example.com`;
  return database.client.user.create({ data: { id, email, emailNormalized: email, ...data } });
}
const userRow = (id: string) => database.client.user.findUniqueOrThrow({ where: { id } });

async function newPassword(userId: string, secret: string | null) {
  const slot = `${userId}:PASSWORD`;
  const method = await database.client.authMethod.create({
    data: { id: newId('AuthMethod'), userId, kind: 'PASSWORD', slot, verified: true, secret, lastUsedAt: at(9) },
  });
  return { slot, method };
}

describe('lockout store', () => {
  it('reserveAttempt grants exactly `limit` attempts to a concurrent burst, numbered, and stamps updatedAt', async () => {
    const user = await newUser();
    const results = await Promise.all(Array.from({ length: 8 }, () => store.reserveAttempt(user.id, 'password', 3, undefined, at(1))));
    const granted = results.filter((r) => r !== null);
    expect(granted).toHaveLength(3);
    expect(granted.map((r) => r.attemptNumber).sort()).toEqual([1, 2, 3]);
    for (const r of granted) expect(r.user).toMatchObject({ id: user.id, state: 'ACTIVE', updatedAt: at(1) });
    expect(await userRow(user.id)).toMatchObject({ failedPasswordAttempts: 3, failedCodeAttempts: 0, updatedAt: at(1) });
    // The other counter has its own limit.
    expect((await store.reserveAttempt(user.id, 'code', 3, undefined, at(2)))?.attemptNumber).toBe(1);
    expect(await userRow(user.id)).toMatchObject({ failedPasswordAttempts: 3, failedCodeAttempts: 1 });
  });

  it('reserveAttempt reserves nothing for a user who is not active, or not there', async () => {
    const locked = await newUser({ state: 'LOCKED' });
    const inactive = await newUser({ state: 'INACTIVE' });
    expect(await store.reserveAttempt(locked.id, 'password', 3, undefined, at(1))).toBeNull();
    expect(await store.reserveAttempt(inactive.id, 'code', 3, undefined, at(1))).toBeNull();
    expect(await store.reserveAttempt('usr_missing', 'code', 3, undefined, at(1))).toBeNull();
    expect(await store.reserveAttempt(locked.id, 'password', 0, undefined, at(1))).toBeNull();
    expect(await userRow(locked.id)).toMatchObject({ failedPasswordAttempts: 0 });
  });

  it('reserveAttempt with limit 0 reads the user without counting', async () => {
    const user = await newUser({ failedPasswordAttempts: 5 });
    const reserved = await store.reserveAttempt(user.id, 'password', 0, undefined, at(1));
    expect(reserved?.user).toEqual(user);
    expect(await userRow(user.id)).toEqual(user);
  });

  it('reserveAttempt reads the credential of the named kind with the user, and reserves nothing when it holds no secret', async () => {
    const user = await newUser();
    const { method } = await newPassword(user.id, 'hash');
    for (const limit of [3, 0]) {
      const reserved = await store.reserveAttempt(user.id, 'password', limit, { credentialKind: 'PASSWORD' }, at(1));
      expect(reserved?.credential).toEqual({ id: method.id, secret: 'hash', lastUsedAt: at(9) });
      expect(reserved?.user).not.toHaveProperty('credentialId');
      expect(reserved?.user).not.toHaveProperty('credentialSecret');
      expect(reserved?.holdsVerified).toBeNull();
    }
    expect((await store.reserveAttempt(user.id, 'password', 3, undefined, at(1)))?.credential).toBeNull();
    expect(await userRow(user.id)).toMatchObject({ failedPasswordAttempts: 2 });

    const without = await newUser();
    await newPassword(without.id, null);
    const none = await newUser();
    expect(await store.reserveAttempt(without.id, 'password', 3, { credentialKind: 'PASSWORD' }, at(1))).toBeNull();
    expect(await store.reserveAttempt(none.id, 'password', 3, { credentialKind: 'PASSWORD' }, at(1))).toBeNull();
    expect(await userRow(without.id)).toMatchObject({ failedPasswordAttempts: 0 });
    expect(await userRow(none.id)).toMatchObject({ failedPasswordAttempts: 0 });
    expect(await store.hasCredential(user.id, 'PASSWORD')).toBe(true);
    expect(await store.hasCredential(without.id, 'PASSWORD')).toBe(false);
    expect(await store.hasCredential(none.id, 'PASSWORD')).toBe(false);
  });

  it('reserveAttempt finds the user by a normalized email or username instead of an id, and reserves nothing for an unknown one', async () => {
    const user = await newUser({ username: 'Reserver', usernameNormalized: 'reserver' });
    const { method } = await newPassword(user.id, 'hash');
    const other = await newUser();
    await newPassword(other.id, 'other hash');
    for (const [i, key] of [{ column: 'emailNormalized', value: user.emailNormalized! }, { column: 'usernameNormalized', value: 'reserver' }].entries()) {
      const reserved = await store.reserveAttempt(key as never, 'password', 3, { credentialKind: 'PASSWORD' }, at(1));
      expect(reserved?.user.id).toBe(user.id);
      expect(reserved?.credential?.id).toBe(method.id);
      expect(reserved?.attemptNumber).toBe(i + 1);
    }
    expect(await store.reserveAttempt({ column: 'emailNormalized', value: 'nobody@example.com' }, 'password', 3, { credentialKind: 'PASSWORD' }, at(1))).toBeNull();
    expect(await store.reserveAttempt({ column: 'usernameNormalized', value: user.emailNormalized! }, 'password', 3, { credentialKind: 'PASSWORD' }, at(1))).toBeNull();
    expect(await userRow(other.id)).toMatchObject({ failedPasswordAttempts: 0 });
    expect(await store.findUserByKey({ column: 'usernameNormalized', value: 'reserver' })).toMatchObject({ id: user.id });
    expect(await store.findUserByKey({ column: 'emailNormalized', value: 'nobody@example.com' })).toBeNull();
  });

  it('reserveAttempt reads whether the user holds a verified method of the asked kinds, counting neither unverified ones nor other kinds', async () => {
    const user = await newUser();
    await newPassword(user.id, 'hash');
    const holds = async () => (await store.reserveAttempt(user.id, 'password', 0, { credentialKind: 'PASSWORD', anyVerified: ['TOTP', 'PASSKEY'] }, at(1)))?.holdsVerified;
    expect(await holds()).toBe(false);
    const method = (kind: 'TOTP' | 'BACKUP_CODES', verified: boolean) =>
      database.client.authMethod.create({ data: { id: newId('AuthMethod'), userId: user.id, kind, slot: `${user.id}:${kind}`, verified, secret: 's' } });
    await method('BACKUP_CODES', true);
    await method('TOTP', false);
    expect(await holds()).toBe(false);
    await database.client.authMethod.updateMany({ where: { userId: user.id, kind: 'TOTP' }, data: { verified: true } });
    expect(await holds()).toBe(true);
    // Also in the counting form (an UPDATE … RETURNING).
    expect((await store.reserveAttempt(user.id, 'password', 3, { anyVerified: ['TOTP'] }, at(1)))?.holdsVerified).toBe(true);
  });

  it('resetAttempts and its statement start one counter again from zero, and leave the other', async () => {
    const user = await newUser({ failedPasswordAttempts: 2, failedCodeAttempts: 4 });
    await store.resetAttempts(user.id, 'password');
    expect(await userRow(user.id)).toMatchObject({ failedPasswordAttempts: 0, failedCodeAttempts: 4 });
    const reset = store.resetAttemptsStatement(user.id, 'code');
    expect(await database.direct.run(reset.sql, reset.params)).toBe(1);
    expect(await userRow(user.id)).toMatchObject({ failedPasswordAttempts: 0, failedCodeAttempts: 0 });
  });

  it('commitIfChanged runs the companions only when the conditional write changed a row', async () => {
    const user = await newUser({ failedCodeAttempts: 2 });
    const take = (n: number) =>
      ({ sql: 'UPDATE "User" SET "givenName" = ? WHERE "id" = ? AND "givenName" IS NULL', params: [`take ${n}`, user.id] }) as ConditionalWrite;
    const reset = store.resetAttemptsStatement(user.id, 'code');
    const results = await Promise.all([1, 2, 3].map((n) => store.commitIfChanged(take(n), [reset])));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await userRow(user.id)).toMatchObject({ failedCodeAttempts: 0, givenName: expect.stringMatching(/^take \d$/) });
    await database.client.user.update({ where: { id: user.id }, data: { failedCodeAttempts: 2 } });
    expect(await store.commitIfChanged(take(4), [reset])).toBe(false);
    expect(await userRow(user.id)).toMatchObject({ failedCodeAttempts: 2 });
  });

  it('lockActiveUser locks an active user once, and returns the locked row', async () => {
    const user = await newUser();
    const lock = () => database.client.$transaction((tx) => store.lockActiveUser(tx, user.id, 'too_many_failed_codes', at(30)));
    const results = await Promise.all([lock(), lock()]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(results.find((r) => r !== null)).toMatchObject({ id: user.id, state: 'LOCKED', lockedReason: 'too_many_failed_codes', lockedUntil: at(30) });
    expect(await lock()).toBeNull();
    const inactive = await newUser({ state: 'INACTIVE' });
    expect(await database.client.$transaction((tx) => store.lockActiveUser(tx, inactive.id, 'x', null))).toBeNull();
    expect((await userRow(inactive.id)).state).toBe('INACTIVE');
  });

  it('endLock ends only the lock it was read with, once, and starts both counters again', async () => {
    const user = await newUser({ state: 'LOCKED', lockedReason: 'too_many_failed_passwords', lockedUntil: at(30), failedPasswordAttempts: 3, failedCodeAttempts: 1 });
    const end = (until: Date) => database.client.$transaction((tx) => store.endLock(tx, user.id, until));
    // A lock renewed meanwhile (another end) is left alone.
    expect(await end(at(29))).toBeNull();
    expect((await userRow(user.id)).state).toBe('LOCKED');
    const results = await Promise.all([end(at(30)), end(at(30))]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(results.find((r) => r !== null)).toMatchObject({
      state: 'ACTIVE',
      lockedReason: null,
      lockedUntil: null,
      failedPasswordAttempts: 0,
      failedCodeAttempts: 0,
    });
  });

  it('findDueLocks finds policy locks whose time is up, not later ones nor locks without an end', async () => {
    const due = await newUser({ state: 'LOCKED', lockedUntil: at(10) });
    const dueNow = await newUser({ state: 'LOCKED', lockedUntil: at(20) });
    const later = await newUser({ state: 'LOCKED', lockedUntil: at(21) });
    const admin = await newUser({ state: 'LOCKED', lockedUntil: null });
    const found = (await store.findDueLocks(at(20), 100)).map((u) => u.id);
    expect(found).toEqual(expect.arrayContaining([due.id, dueNow.id]));
    expect(found).not.toContain(later.id);
    expect(found).not.toContain(admin.id);
    expect(await store.findDueLocks(at(20), 1)).toHaveLength(1);
    // In lockedUntil order, the longest ended first.
    expect((await store.findDueLocks(at(20), 100)).filter((u) => u.id === due.id || u.id === dueNow.id).map((u) => u.id)).toEqual([due.id, dueNow.id]);
  });

  it("findDueLocks reads the partial index of locked users, whatever the planner's statistics say of the state", async () => {
    // Statistics that see one state for nearly every user: with them, SQLite walked the whole table for the old read.
    for (let i = 0; i < 30; i++) await newUser();
    let plan: string;
    if (database.provider === 'sqlite') {
      await database.client.$executeRawUnsafe('ANALYZE');
      const rows = await database.client.$queryRawUnsafe<Array<{ detail: string }>>(`EXPLAIN QUERY PLAN ${DUE_LOCKS_SQL}`, at(20).toISOString(), 100);
      plan = rows.map((r) => r.detail).join('\n');
    } else {
      // A table this small is read whole when the planner may (and PostgreSQL's statistics know LOCKED is rare, so the
      // state index would do): forbidding both shows that the partial index serves the read, in its order.
      const sql = DUE_LOCKS_SQL.replace(/\?/g, (_, offset: number) => (offset < DUE_LOCKS_SQL.indexOf('LIMIT') ? '$1' : '$2'));
      plan = await database.client.$transaction(async (tx) => {
        await tx.$executeRawUnsafe('ANALYZE "User"');
        await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
        await tx.$executeRawUnsafe('SET LOCAL enable_bitmapscan = off');
        const rows = await tx.$queryRawUnsafe<Array<{ 'QUERY PLAN': string }>>(`EXPLAIN ${sql}`, at(20), 100);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    }
    expect(plan).toContain('User_due_locks_idx');
  });
});
