/**
 * Contract of the password store, on the provider under test: one PASSWORD
 * method per user however often it is saved, and a rehash that loses to a
 * password set meanwhile writes nothing.
 */
import { describe, expect, it } from 'vitest';
import { newId } from '../../kernel/ids.js';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { createPasswordStore } from './store.js';

const storeDb = useStoreDatabase();
const { inTx } = storeDb;
const store = createPasswordStore();
const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
const later = new Date(now.getTime() + 60_000);

const newUser = (data: { failedPasswordAttempts?: number } = {}) => storeDb.db.user.create({ data: { id: newId('User'), ...data } });
const passwordOf = (userId: string) => storeDb.db.authMethod.findMany({ where: { userId, kind: 'PASSWORD' } });

describe('password store', () => {
  it('keeps one PASSWORD method per user, holding the latest hash', async () => {
    const user = await newUser();
    await inTx((tx) => store.savePasswordHash(tx, user.id, 'hash-1', now));
    await inTx((tx) => store.savePasswordHash(tx, user.id, 'hash-2', later));
    const methods = await passwordOf(user.id);
    expect(methods).toHaveLength(1);
    expect(methods[0]).toMatchObject({ secret: 'hash-2', verified: true, slot: `${user.id}:PASSWORD`, createdAt: now, updatedAt: later });
  });

  it('records a password change on the user and clears the failed-password counter', async () => {
    const user = await newUser({ failedPasswordAttempts: 3 });
    const changed = await inTx((tx) => store.markPasswordChanged(tx, user.id, true, now));
    expect(changed).toMatchObject({ passwordChangedAt: now, passwordMustChange: true, failedPasswordAttempts: 0 });
  });

  it('replaces the hash on use only while it is still the one that was verified', async () => {
    const user = await newUser();
    await inTx((tx) => store.savePasswordHash(tx, user.id, 'old', now));
    const [method] = await passwordOf(user.id);
    // A password set meanwhile: the upgrade of the old hash writes nothing, not even lastUsedAt.
    expect(await inTx((tx) => store.markPasswordUsed(tx, method.id, later, { from: 'stale', to: 'upgraded' }))).toBe(false);
    expect((await passwordOf(user.id))[0]).toMatchObject({ secret: 'old', lastUsedAt: null });

    expect(await inTx((tx) => store.markPasswordUsed(tx, method.id, later, { from: 'old', to: 'upgraded' }))).toBe(true);
    expect((await passwordOf(user.id))[0]).toMatchObject({ secret: 'upgraded', lastUsedAt: later });

    // Without a rehash only lastUsedAt moves.
    const evenLater = new Date(later.getTime() + 60_000);
    expect(await inTx((tx) => store.markPasswordUsed(tx, method.id, evenLater))).toBe(true);
    expect((await passwordOf(user.id))[0]).toMatchObject({ secret: 'upgraded', lastUsedAt: evenLater });
  });
});
