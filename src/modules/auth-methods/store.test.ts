/**
 * Contract of the auth-method removal store, on the provider under test: of
 * two concurrent removals exactly one deletes, and what dies with a method
 * is only the user's own, of the named kind.
 */
import { describe, expect, it } from 'vitest';
import { newId } from '../../kernel/ids.js';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { createAuthMethodStore } from './store.js';

const storeDb = useStoreDatabase();
const { inTx } = storeDb;
const store = createAuthMethodStore();

const newUser = () => storeDb.db.user.create({ data: { id: newId('User'), passwordChangedAt: new Date(), passwordMustChange: true, failedPasswordAttempts: 2 } });
const newCode = (userId: string, purpose: string) =>
  storeDb.db.oneTimeCode.create({
    data: { id: newId('OneTimeCode'), userId, purpose, slot: `${userId}:${purpose}`, codeHash: 'h', maxAttempts: 5, expiresAt: new Date(Date.now() + 60_000) },
  });

describe('auth-method store', () => {
  it('deletes a method once: of two concurrent removals exactly one reports a deletion', async () => {
    const user = await newUser();
    const method = await storeDb.db.authMethod.create({ data: { id: newId('AuthMethod'), userId: user.id, kind: 'OTP_SMS', verified: true } });
    const results = await Promise.all([inTx((tx) => store.deleteAuthMethod(tx, method.id)), inTx((tx) => store.deleteAuthMethod(tx, method.id))]);
    expect(results.sort()).toEqual([false, true]);
    expect(await storeDb.db.authMethod.count({ where: { id: method.id } })).toBe(0);
  });

  it("deletes only the user's own codes of the named purpose, and only that user's backup codes", async () => {
    const [user, other] = [await newUser(), await newUser()];
    await newCode(user.id, 'otp_sms');
    await newCode(user.id, 'password_reset');
    await newCode(other.id, 'otp_sms');
    await storeDb.db.backupCode.createMany({
      data: [
        { id: newId('BackupCode'), userId: user.id, codeHash: 'a' },
        { id: newId('BackupCode'), userId: other.id, codeHash: 'b' },
      ],
    });
    await inTx((tx) => store.deleteOneTimeCodesOfUser(tx, user.id, 'otp_sms'));
    await inTx((tx) => store.deleteBackupCodesOfUser(tx, user.id));
    expect((await storeDb.db.oneTimeCode.findMany({ where: { userId: user.id } })).map((c) => c.purpose)).toEqual(['password_reset']);
    expect(await storeDb.db.oneTimeCode.count({ where: { userId: other.id } })).toBe(1);
    expect(await storeDb.db.backupCode.count({ where: { userId: user.id } })).toBe(0);
    expect(await storeDb.db.backupCode.count({ where: { userId: other.id } })).toBe(1);
  });

  it('clears the password facts on the user', async () => {
    const user = await newUser();
    await inTx((tx) => store.clearPasswordFactsOfUser(tx, user.id));
    expect(await storeDb.db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({
      passwordChangedAt: null,
      passwordMustChange: false,
      failedPasswordAttempts: 0,
    });
  });
});
