/**
 * Contract of the users store, on the provider under test (the suite runs once
 * per provider): uniqueness holds under concurrent inserts, and the
 * conditional writes apply only from the state they name.
 */
import { describe, expect, it } from 'vitest';
import { isUniqueViolation } from '../../kernel/db/client.js';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { createUserStore } from './store.js';

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
});
