/**
 * The one-time code store's contract, on the provider under test (the suite
 * runs once on SQLite and once on PostgreSQL): one live code per slot,
 * attempts never beyond the limit, and a code consumed at most once, each
 * bound to the very code that was read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../test/helpers/db.js';
import { createDatabase, type Database } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';
import { createCodeStore, type CodeStore, type IssuedCode } from './store.js';

let testDb: TestDatabase;
let database: Database;
let store: CodeStore;
let userId: string;

beforeAll(async () => {
  testDb = await freshDatabase();
  database = await createDatabase(testDb.provider, testDb.url);
  store = createCodeStore({ db: database.client });
  const id = newId('User');
  userId = (await database.client.user.create({ data: { id, email: `${id}@example.com`, emailNormalized: `${id}@example.com` } })).id;
});
afterAll(async () => {
  await database.close();
  await testDb.drop();
});

const at = (s: number) => new Date(Date.UTC(2026, 0, 2, 3, 4, s, 500));
const issued = (purpose: string, codeHash: string, more: Partial<IssuedCode> = {}): IssuedCode => ({
  userId,
  purpose,
  slot: `${userId}:${purpose}`,
  target: 'a@example.com',
  codeHash,
  maxAttempts: 3,
  expiresAt: at(50),
  createdAt: at(0),
  ...more,
});
const read = (purpose: string) => database.client.oneTimeCode.findUniqueOrThrow({ where: { slot: `${userId}:${purpose}` } });

describe('one-time code store', () => {
  it('replaceCodeInSlot keeps one code per slot, the new one with fresh attempts and unconsumed', async () => {
    await store.replaceCodeInSlot(issued('replace', 'first'));
    const first = await read('replace');
    expect(first).toMatchObject({ userId, purpose: 'replace', target: 'a@example.com', codeHash: 'first', attempts: 0, maxAttempts: 3, expiresAt: at(50), consumedAt: null, createdAt: at(0) });
    expect(await store.reserveCodeAttempt(first)).toBe(true);
    expect(await store.consumeCodeOnce(first, at(1))).toBe(true);
    await store.replaceCodeInSlot(issued('replace', 'second', { target: null, maxAttempts: 5, expiresAt: at(60), createdAt: at(2) }));
    const rows = await database.client.oneTimeCode.findMany({ where: { userId, purpose: 'replace' } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: first.id, target: null, codeHash: 'second', attempts: 0, maxAttempts: 5, expiresAt: at(60), consumedAt: null, createdAt: at(2) });
  });

  it('reserveCodeAttempt grants exactly maxAttempts to a concurrent burst', async () => {
    await store.replaceCodeInSlot(issued('burst', 'h'));
    const row = await read('burst');
    const results = await Promise.all(Array.from({ length: 7 }, () => store.reserveCodeAttempt(row)));
    expect(results.filter(Boolean)).toHaveLength(3);
    expect((await read('burst')).attempts).toBe(3);
  });

  it('reserveCodeAttempt and consumeCodeOnce refuse a code replaced since it was read', async () => {
    await store.replaceCodeInSlot(issued('stale', 'old'));
    const old = await read('stale');
    await store.replaceCodeInSlot(issued('stale', 'new'));
    expect(await store.reserveCodeAttempt(old)).toBe(false);
    expect(await store.consumeCodeOnce(old, at(1))).toBe(false);
    expect(await read('stale')).toMatchObject({ codeHash: 'new', attempts: 0, consumedAt: null });
  });

  it('consumeCodeOnce lets exactly one of concurrent consumes win, and a consumed code takes no more attempts', async () => {
    await store.replaceCodeInSlot(issued('once', 'h'));
    const row = await read('once');
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => store.consumeCodeOnce(row, at(i + 1))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await read('once')).consumedAt).not.toBeNull();
    expect(await store.consumeCodeOnce(row, at(9))).toBe(false);
    expect(await store.reserveCodeAttempt(row)).toBe(false);
  });

  it('deleteCodeInSlot removes only that slot', async () => {
    await store.replaceCodeInSlot(issued('gone', 'h'));
    await store.replaceCodeInSlot(issued('kept', 'h'));
    await store.deleteCodeInSlot(`${userId}:gone`);
    await store.deleteCodeInSlot(`${userId}:never-issued`);
    expect(await database.client.oneTimeCode.findUnique({ where: { slot: `${userId}:gone` } })).toBeNull();
    expect((await read('kept')).codeHash).toBe('h');
  });
});
