/**
 * Contract of the OTP factor store, on the provider under test: one factor
 * per user and kind even when inserts race, and marking a removed factor
 * used reports that it is gone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { isUniqueViolation } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { createOtpStore, type OtpStore } from './store.js';

const storeDb = useStoreDatabase();
let store: OtpStore;

beforeAll(() => {
  store = createOtpStore({ db: storeDb.db });
});

const newUser = () => storeDb.db.user.create({ data: { id: newId('User') } });

describe('OTP factor store', () => {
  it('inserts one factor per user and kind when inserts race; the others fail as unique violations', async () => {
    const user = await newUser();
    const results = await Promise.allSettled(
      Array.from({ length: 3 }, () => storeDb.inTx((tx) => store.insertOtpFactor(tx, user.id, 'OTP_SMS'))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) expect(isUniqueViolation((r as PromiseRejectedResult).reason)).toBe(true);
    // The other kind is a separate slot.
    await storeDb.inTx((tx) => store.insertOtpFactor(tx, user.id, 'OTP_EMAIL'));
    const factors = await storeDb.db.authMethod.findMany({ where: { userId: user.id } });
    expect(factors.map((m) => [m.kind, m.slot, m.verified, m.secret]).sort()).toEqual([
      ['OTP_EMAIL', `${user.id}:OTP_EMAIL`, true, null],
      ['OTP_SMS', `${user.id}:OTP_SMS`, true, null],
    ]);
  });

  it('marks a factor used, and reports a removed one as gone', async () => {
    const user = await newUser();
    const factor = await storeDb.inTx((tx) => store.insertOtpFactor(tx, user.id, 'OTP_EMAIL'));
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    expect(await store.markOtpFactorUsed(factor.id, at)).toBe(true);
    expect((await storeDb.db.authMethod.findUniqueOrThrow({ where: { id: factor.id } })).lastUsedAt).toEqual(at);
    await storeDb.db.authMethod.delete({ where: { id: factor.id } });
    expect(await store.markOtpFactorUsed(factor.id, at)).toBe(false);
  });
});
