/**
 * Contract of the users store, on the provider under test (the suite runs once
 * per provider): uniqueness holds under concurrent inserts, and the
 * conditional writes apply only from the state they name.
 */
import { describe, expect, it } from 'vitest';
import { isUniqueViolation } from '../../kernel/db/client.js';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { createUserStore, findUserPage, type UserListOrder } from './store.js';

const storeDb = useStoreDatabase();
const { inTx } = storeDb;
const store = createUserStore();
const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));

describe('users store', () => {
  it('inserts exactly one of several concurrent users with the same email; the others fail as unique violations', async () => {
    const email = { email: 'Race@Example.com', emailNormalized: 'race@example.com' };
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => inTx((tx) => store.insertUser(tx, email))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) expect(isUniqueViolation((r as PromiseRejectedResult).reason)).toBe(true);
    expect(await storeDb.db.user.count({ where: { emailNormalized: 'race@example.com' } })).toBe(1);
  });

  it('moves a user only from the states it names, and of two racing transitions applies one', async () => {
    const user = await inTx((tx) => store.insertUser(tx, {}));
    // Not from a state the user is not in.
    expect(await inTx((tx) => store.transitionUserState(tx, user.id, { from: ['LOCKED'], to: 'ACTIVE', columns: {}, now }))).toBeNull();
    expect((await storeDb.db.user.findUniqueOrThrow({ where: { id: user.id } })).state).toBe('ACTIVE');

    const locked = await inTx((tx) =>
      store.transitionUserState(tx, user.id, { from: ['ACTIVE'], to: 'LOCKED', columns: { lockedReason: 'admin', lockedUntil: null }, now }),
    );
    expect(locked).toMatchObject({ id: user.id, state: 'LOCKED', lockedReason: 'admin', updatedAt: now });

    // Two transitions out of LOCKED race: exactly one finds the user still LOCKED.
    const raced = await Promise.all([
      inTx((tx) => store.transitionUserState(tx, user.id, { from: ['LOCKED'], to: 'ACTIVE', columns: { lockedReason: null }, now })),
      inTx((tx) => store.transitionUserState(tx, user.id, { from: ['LOCKED'], to: 'INACTIVE', columns: { lockedReason: null }, now })),
    ]);
    expect(raced.filter((u) => u !== null)).toHaveLength(1);
    const winner = raced.find((u) => u !== null)!;
    expect((await storeDb.db.user.findUniqueOrThrow({ where: { id: user.id } })).state).toBe(winner.state);

    expect(await inTx((tx) => store.transitionUserState(tx, 'usr_missing', { from: ['ACTIVE'], to: 'LOCKED', columns: {}, now }))).toBeNull();
  });

  it('deletes a user once; a second delete reports that there was none', async () => {
    const user = await inTx((tx) => store.insertUser(tx, {}));
    expect(await inTx((tx) => store.deleteUser(tx, user.id))).toBe(true);
    expect(await inTx((tx) => store.deleteUser(tx, user.id))).toBe(false);
    expect(await storeDb.db.user.count({ where: { id: user.id } })).toBe(0);
  });

  it('marks an address verified only while it is still the address the code was bound to', async () => {
    const user = await inTx((tx) => store.insertUser(tx, { phone: '+14155550100' }));
    expect(await inTx((tx) => store.markUserAddressVerified(tx, user.id, 'phone', '+14155550199', now))).toBeNull();
    expect((await storeDb.db.user.findUniqueOrThrow({ where: { id: user.id } })).phoneVerifiedAt).toBeNull();
    expect(await inTx((tx) => store.markUserAddressVerified(tx, user.id, 'phone', '+14155550100', now))).toMatchObject({ phoneVerifiedAt: now });

    const saved = await inTx((tx) => store.saveUserAddress(tx, user.id, 'email', { email: 'A@Example.com', emailNormalized: 'a@example.com' }, null, now));
    expect(saved).toMatchObject({ email: 'A@Example.com', emailVerifiedAt: null });
    // The email is keyed by its normalised form.
    expect(await inTx((tx) => store.markUserAddressVerified(tx, user.id, 'email', 'A@Example.com', now))).toBeNull();
    expect(await inTx((tx) => store.markUserAddressVerified(tx, user.id, 'email', 'a@example.com', now))).toMatchObject({ emailVerifiedAt: now });
  });

  it('pages a list forward and backward in its total order, empty values last both ways, on any page size', async () => {
    // 24 users: four sign-in instants and none, three creation instants, emails missing on every fourth.
    const signIns = [null, new Date('2026-03-01T00:00:00Z'), new Date('2026-03-02T00:00:00Z'), new Date('2026-03-03T00:00:00Z'), new Date('2026-03-04T00:00:00Z')];
    const created = [new Date('2026-01-01T00:00:00Z'), new Date('2026-01-02T00:00:00Z'), new Date('2026-01-03T00:00:00Z')];
    const users = [];
    for (let i = 0; i < 24; i++) {
      const email = i % 4 === 0 ? null : `p${String((i * 11) % 24).padStart(2, '0')}@example.com`;
      const user = await inTx((tx) => store.insertUser(tx, { email, emailNormalized: email }));
      users.push(
        await storeDb.db.user.update({
          where: { id: user.id },
          data: { lastLoginAt: signIns[(i * 7) % 5], createdAt: created[i % 3] },
          select: { id: true, createdAt: true, lastLoginAt: true, emailNormalized: true },
        }),
      );
    }
    const where = { id: { in: users.map((u) => u.id) } };
    const key = { CREATED_AT: 'createdAt', EMAIL: 'emailNormalized', LAST_LOGIN_AT: 'lastLoginAt' } as const;
    const value = (v: Date | string | null) => (v instanceof Date ? v.getTime() : v);

    for (const field of ['CREATED_AT', 'EMAIL', 'LAST_LOGIN_AT'] as const) {
      for (const direction of ['ASC', 'DESC'] as const) {
        const order: UserListOrder = { field, direction };
        const sign = direction === 'ASC' ? 1 : -1;
        // The reference: empty values after every value, whatever the direction; then by value; then by id.
        const expected = [...users]
          .sort((a, b) => {
            const [x, y] = [value(a[key[field]]), value(b[key[field]])];
            if (x === null || y === null) return x === y ? sign * (a.id < b.id ? -1 : 1) : x === null ? 1 : -1;
            if (x !== y) return sign * (x < y ? -1 : 1);
            return sign * (a.id < b.id ? -1 : 1);
          })
          .map((u) => u.id);

        for (const size of [1, 4, 7]) {
          const label = `${field} ${direction} by ${size}`;
          const forward: string[] = [];
          for (let cursor: string | undefined; ; ) {
            const page = await findUserPage(storeDb.db, { cursor: cursor ? { id: cursor } : undefined, take: size, select: { id: true } }, where, order);
            forward.push(...page.map((u) => u.id));
            if (page.length < size) break;
            cursor = page.at(-1)!.id;
          }
          expect(forward, label).toEqual(expected);

          const backward: string[] = [];
          for (let cursor: string | undefined; ; ) {
            const page = await findUserPage(storeDb.db, { cursor: cursor ? { id: cursor } : undefined, take: -size, select: { id: true } }, where, order);
            backward.unshift(...page.map((u) => u.id));
            if (page.length < size) break;
            cursor = page[0]!.id;
          }
          expect(backward, label).toEqual(expected);
        }
      }
    }

    // A cursor naming a user that is gone: an empty page, as Prisma's own cursors give.
    expect(await findUserPage(storeDb.db, { cursor: { id: 'usr_gone' }, take: 5 }, where, { field: 'LAST_LOGIN_AT' })).toEqual([]);
  });
});
