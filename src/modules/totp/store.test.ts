/**
 * The TOTP store's contract, on the provider under test (the suite runs once
 * on SQLite and once on PostgreSQL): a time step is taken at most once and
 * never after a later one, a pending method is activated once, and a backup
 * code is used once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../test/helpers/db.js';
import { createDatabase, type Database } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';
import { createBackupCodeStore, createTotpStore, type BackupCodeStore, type TotpStore } from './store.js';

let testDb: TestDatabase;
let database: Database;
let totp: TotpStore;
let backup: BackupCodeStore;

beforeAll(async () => {
  testDb = await freshDatabase();
  database = await createDatabase(testDb.provider, testDb.url);
  totp = createTotpStore({ db: database.client, direct: database.direct });
  backup = createBackupCodeStore({ db: database.client });
});
afterAll(async () => {
  await database.close();
  await testDb.drop();
});

const at = (s: number) => new Date(Date.UTC(2026, 0, 2, 3, 4, s, 500));

async function newUser() {
  const id = newId('User');
  const email = `${id}@example.com`;
  return (await database.client.user.create({ data: { id, email, emailNormalized: email } })).id;
}
const method = (id: string) => database.client.authMethod.findUniqueOrThrow({ where: { id } });

async function activeTotp(userId: string, counter: number | null = null) {
  const id = newId('AuthMethod');
  await totp.insertPendingTotp({ id, userId, slot: `${userId}:TOTP`, secret: 'sealed', createdAt: at(0) });
  await database.client.authMethod.update({ where: { id }, data: { verified: true, counter } });
  return id;
}

describe('totp store', () => {
  it('takeTotpStep takes a step once, never an older one, and a later one after it', async () => {
    const id = await activeTotp(await newUser());
    const take = (step: number, s: number) => database.direct.runIfChanged(totp.takeTotpStep(id, step, at(s)), []);
    expect(await take(100, 1)).toBe(true);
    expect(await method(id)).toMatchObject({ counter: 100, lastUsedAt: at(1), updatedAt: at(1) });
    expect(await take(100, 2)).toBe(false);
    expect(await take(99, 3)).toBe(false);
    expect(await method(id)).toMatchObject({ counter: 100, lastUsedAt: at(1) });
    expect(await take(101, 4)).toBe(true);
    expect(await method(id)).toMatchObject({ counter: 101, lastUsedAt: at(4) });
  });

  it('takeTotpStep lets exactly one of concurrent takes of the same step win', async () => {
    const id = await activeTotp(await newUser());
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => database.direct.runIfChanged(totp.takeTotpStep(id, 500, at(i)), [])));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await method(id)).counter).toBe(500);
  });

  it('takeTotpStep leaves other methods alone', async () => {
    const [a, b] = [await activeTotp(await newUser(), 7), await activeTotp(await newUser(), 7)];
    expect(await database.direct.runIfChanged(totp.takeTotpStep(a, 8, at(1)), [])).toBe(true);
    expect((await method(b)).counter).toBe(7);
  });

  it('findVerifiedCodeFactors reads only verified TOTP and backup-code methods of the user', async () => {
    const userId = await newUser();
    expect(await totp.findVerifiedCodeFactors(userId)).toEqual([]);
    const pendingId = newId('AuthMethod');
    await totp.insertPendingTotp({ id: pendingId, userId, slot: `${userId}:TOTP`, secret: 'sealed', createdAt: at(0) });
    expect(await totp.findVerifiedCodeFactors(userId)).toEqual([]);
    await database.client.authMethod.update({ where: { id: pendingId }, data: { verified: true } });
    const backupId = await database.client.$transaction((tx) => backup.upsertBackupCodesMethod(tx, { id: newId('AuthMethod'), userId, slot: `${userId}:BACKUP_CODES` }, at(1)));
    await database.client.authMethod.create({ data: { id: newId('AuthMethod'), userId, kind: 'PASSWORD', slot: `${userId}:PASSWORD`, verified: true, secret: 'hash' } });
    await activeTotp(await newUser());
    const found = await totp.findVerifiedCodeFactors(userId);
    expect(found.sort((x, y) => x.kind.localeCompare(y.kind))).toEqual([
      { id: backupId, kind: 'BACKUP_CODES', secret: null },
      { id: pendingId, kind: 'TOTP', secret: 'sealed' },
    ]);
  });

  it('replacePendingTotpSecret and activatePendingTotp change only a pending method, and activate it once with its secret', async () => {
    const userId = await newUser();
    const id = newId('AuthMethod');
    await totp.insertPendingTotp({ id, userId, slot: `${userId}:TOTP`, secret: 'first', createdAt: at(0) });
    expect(await method(id)).toMatchObject({ kind: 'TOTP', verified: false, secret: 'first', counter: null, createdAt: at(0) });
    await database.client.authMethod.update({ where: { id }, data: { counter: 3 } });
    expect(await totp.replacePendingTotpSecret(id, 'second', at(1))).toBe(true);
    expect(await method(id)).toMatchObject({ verified: false, verifiedAt: null, secret: 'second', counter: null, updatedAt: at(1) });
    const activate = (secret: string) => database.client.$transaction((tx) => totp.activatePendingTotp(tx, id, secret, 42, at(2)));
    // A registration restarted meanwhile (another secret) is not activated with the old one's code.
    expect(await activate('first')).toBe(false);
    expect((await method(id)).verified).toBe(false);
    expect((await Promise.all([activate('second'), activate('second')])).filter(Boolean)).toHaveLength(1);
    expect(await method(id)).toMatchObject({ verified: true, verifiedAt: at(2), counter: 42, lastUsedAt: at(2) });
    expect(await totp.replacePendingTotpSecret(id, 'third', at(3))).toBe(false);
    expect((await method(id)).secret).toBe('second');
  });
});

describe('backup code store', () => {
  const slot = (userId: string) => `${userId}:BACKUP_CODES`;
  async function withCodes(userId: string, hashes: string[], issuedToSessionId: string | null = null) {
    return database.client.$transaction(async (tx) => {
      await backup.replaceBackupCodes(tx, userId, hashes.map((codeHash) => ({ codeHash, issuedToSessionId })), at(0));
      return backup.upsertBackupCodesMethod(tx, { id: newId('AuthMethod'), userId, slot: slot(userId) }, at(0));
    });
  }

  it('useBackupCodeOnce uses a code once, even for concurrent requests, and stamps the method', async () => {
    const userId = await newUser();
    const methodId = await withCodes(userId, ['h1', 'h2', 'h3']);
    expect(await backup.countUnusedBackupCodes(userId)).toBe(3);
    const results = await Promise.all(Array.from({ length: 5 }, () => backup.useBackupCodeOnce(userId, 'h2', slot(userId), at(5))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await backup.countUnusedBackupCodes(userId)).toBe(2);
    expect((await method(methodId)).lastUsedAt).toEqual(at(5));
    expect(await backup.useBackupCodeOnce(userId, 'h2', slot(userId), at(6))).toBe(false);
    expect(await backup.useBackupCodeOnce(userId, 'nope', slot(userId), at(6))).toBe(false);
    expect((await method(methodId)).lastUsedAt).toEqual(at(5));
    expect(await database.client.backupCode.findFirst({ where: { userId, codeHash: 'h2' } })).toMatchObject({ usedAt: at(5) });
  });

  it("useBackupCodeOnce takes only the user's own codes, and not those minted by the excluded session", async () => {
    const [owner, other] = [await newUser(), await newUser()];
    await withCodes(owner, ['mine'], 'ses_minting');
    await withCodes(other, ['theirs']);
    expect(await backup.useBackupCodeOnce(owner, 'theirs', slot(owner), at(1))).toBe(false);
    expect(await backup.useBackupCodeOnce(owner, 'mine', slot(owner), at(1), 'ses_minting')).toBe(false);
    expect(await backup.useBackupCodeOnce(owner, 'mine', slot(owner), at(1), 'ses_other')).toBe(true);
    await withCodes(other, ['unbound']);
    expect(await backup.useBackupCodeOnce(other, 'unbound', slot(other), at(1), 'ses_minting')).toBe(true);
  });

  it('replaceBackupCodes voids the earlier codes, and upsertBackupCodesMethod keeps one method, renewed', async () => {
    const userId = await newUser();
    const first = await withCodes(userId, ['old1', 'old2']);
    expect(await backup.useBackupCodeOnce(userId, 'old1', slot(userId), at(3))).toBe(true);
    const second = await withCodes(userId, ['new1']);
    expect(second).toBe(first);
    expect(await method(first)).toMatchObject({ kind: 'BACKUP_CODES', verified: true, lastUsedAt: null, updatedAt: at(0) });
    expect(await backup.countUnusedBackupCodes(userId)).toBe(1);
    expect(await backup.useBackupCodeOnce(userId, 'old2', slot(userId), at(4))).toBe(false);
    expect(await backup.useBackupCodeOnce(userId, 'new1', slot(userId), at(4))).toBe(true);
  });
});
