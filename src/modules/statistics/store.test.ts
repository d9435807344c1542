/**
 * The statistics store's contract, on the provider under test: an active day
 * is recorded once however often and however concurrently it is reported,
 * with the gap to the user's previous active day; only the first report
 * moves lastActiveAt and the day's tally; the user tallies add up in the
 * caller's transaction; a deleted user's days go with it while the tallies
 * stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../test/helpers/db.js';
import { createDatabase, type Database } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';
import { createStatisticsStore, GAP_NONE, type StatisticsStore } from './store.js';

let testDb: TestDatabase;
let database: Database;
let store: StatisticsStore;

beforeAll(async () => {
  testDb = await freshDatabase();
  database = await createDatabase(testDb.provider, testDb.url);
  store = createStatisticsStore({ direct: database.direct, provider: database.provider });
});
afterAll(async () => {
  await database.close();
  await testDb.drop();
});

const DAY = 20_000;
const at = (day: number, hour = 9) => new Date(day * 86_400_000 + hour * 3_600_000);

async function newUser() {
  const id = newId('User');
  await database.client.user.create({ data: { id, email: `${id}@example.com`, emailNormalized: `${id}@example.com` } });
  return id;
}
const daysOf = (userId: string) => database.client.userActivity.findMany({ where: { userId }, orderBy: { day: 'asc' }, select: { day: true, gap: true } });
const lastActiveAt = async (userId: string) => (await database.client.user.findUniqueOrThrow({ where: { id: userId } })).lastActiveAt;
/** Users in the day's tallies by gap, slots summed. */
async function tallyOf(day: number) {
  const rows = await database.client.userActivityTally.findMany({ where: { day } });
  const byGap: Record<number, number> = {};
  for (const r of rows) byGap[r.gap] = (byGap[r.gap] ?? 0) + r.users;
  return byGap;
}

describe('statistics store: active days', () => {
  it('records a day once, with the gap to the previous active day, and moves lastActiveAt and the tally only then', async () => {
    const user = await newUser();
    expect(await store.recordActiveDay(user, DAY, at(DAY), 0)).toBe(true);
    expect(await store.recordActiveDay(user, DAY, at(DAY, 15), 1)).toBe(false);
    expect(await lastActiveAt(user)).toEqual(at(DAY));

    expect(await store.recordActiveDay(user, DAY + 1, at(DAY + 1), 2)).toBe(true);
    expect(await store.recordActiveDay(user, DAY + 6, at(DAY + 6), 3)).toBe(true);
    expect(await store.recordActiveDay(user, DAY + 36, at(DAY + 36), 4)).toBe(true);
    expect(await store.recordActiveDay(user, DAY + 66, at(DAY + 66), 4)).toBe(true);
    expect(await daysOf(user)).toEqual([
      { day: DAY, gap: GAP_NONE },
      { day: DAY + 1, gap: 1 },
      { day: DAY + 6, gap: 5 },
      // 30 days since the last: still inside a 30-day window's reach.
      { day: DAY + 36, gap: 30 },
      { day: DAY + 66, gap: 30 },
    ]);
    expect(await lastActiveAt(user)).toEqual(at(DAY + 66));

    // A report for an earlier day (an instance whose clock is behind) adds its day but never moves lastActiveAt back.
    expect(await store.recordActiveDay(user, DAY + 3, at(DAY + 3), 0)).toBe(true);
    expect(await lastActiveAt(user)).toEqual(at(DAY + 66));
    expect((await daysOf(user)).find((d) => d.day === DAY + 3)).toEqual({ day: DAY + 3, gap: 2 });

    const other = await newUser();
    expect(await store.recordActiveDay(other, DAY + 1, at(DAY + 1), 5)).toBe(true);
    expect(await tallyOf(DAY)).toEqual({ [GAP_NONE]: 1 });
    expect(await tallyOf(DAY + 1)).toEqual({ 1: 1, [GAP_NONE]: 1 });
  });

  it('gives the first of concurrent reports of a day, and counts it once', async () => {
    const user = await newUser();
    const day = DAY + 200;
    const results = await Promise.all([0, 1, 2, 3].map((slot) => store.recordActiveDay(user, day, at(day), slot)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await daysOf(user)).toEqual([{ day, gap: GAP_NONE }]);
    expect(await tallyOf(day)).toEqual({ [GAP_NONE]: 1 });
  });

  it('refuses a day of a user that does not exist, counting nothing', async () => {
    const day = DAY + 300;
    await expect(store.recordActiveDay(newId('User'), day, at(day), 0)).rejects.toThrow();
    expect(await tallyOf(day)).toEqual({});
  });
});

describe('statistics store: tallies', () => {
  it('counts created and deleted users in the caller transaction, and reads them back with the activity', async () => {
    const base = DAY + 1000;
    await database.client.$transaction(async (tx) => {
      await store.countUserCreated(tx, base, 0);
      await store.countUserCreated(tx, base, 1);
      await store.countUserCreated(tx, base, 1);
      await store.countUserCreated(tx, base + 2, 7);
    });
    // A transaction that fails counts nothing.
    await expect(
      database.client.$transaction(async (tx) => {
        await store.countUserCreated(tx, base + 3, 0);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await database.client.$transaction((tx) => store.countUserDeleted(tx, base + 2, 3));

    const users = await Promise.all([newUser(), newUser()]);
    await store.recordActiveDay(users[0], base + 1, at(base + 1), 0);
    await store.recordActiveDay(users[1], base + 1, at(base + 1), 1);
    await store.recordActiveDay(users[0], base + 2, at(base + 2), 2);

    const read = await store.readTallies({ lo: base - 28, from: base, to: base + 3, since30: base - 27, since7: base - 4 });
    expect(read.users.sort((a, b) => a.day - b.day)).toEqual([
      { day: base, created: 3, deleted: 0 },
      { day: base + 2, created: 1, deleted: 1 },
    ]);
    expect(read.activity.sort((a, b) => a.day - b.day)).toEqual([
      { day: base + 1, active: 2, firstSince30: 2, firstSince7: 2 },
      { day: base + 2, active: 1, firstSince30: 0, firstSince7: 0 },
    ]);
    // Every tally before base + 3 counts, this test's and the other tests' none (they count no users).
    expect(read.total).toBe(3);
    expect((await store.readTallies({ lo: base - 1, from: base - 1, to: base, since30: base - 30, since7: base - 7 })).total).toBe(0);
    expect((await store.readTallies({ lo: base, from: base, to: base + 1, since30: base - 29, since7: base - 6 })).total).toBe(3);
  });

  it("deletes a deleted user's active days with it and keeps the tallies", async () => {
    const user = await newUser();
    const day = DAY + 2000;
    await store.recordActiveDay(user, day, at(day), 0);
    await database.client.user.delete({ where: { id: user } });
    expect(await daysOf(user)).toEqual([]);
    expect(await tallyOf(day)).toEqual({ [GAP_NONE]: 1 });
  });
});
