import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/helpers/app.js';
import { codeSink } from '../../../test/helpers/code-sink.js';
import { systemMeta, type RequestMeta } from '../../kernel/events/outbox.js';
import { manualClock } from '../../kernel/clock.js';
import { DeliveryFailedError, InvalidInputError, InvalidStateError } from '../../kernel/errors.js';
import { IncorrectCodeError } from '../codes/errors.js';
import { PhoneNotVerifiedError } from '../users/errors.js';

const clock = manualClock();
const sink = codeSink();
let t: TestApp;
const userMeta = (userId: string): RequestMeta => ({ actor: { type: 'user', id: userId } });

beforeAll(async () => {
  t = await createTestApp({ clock, delivery: sink.delivery });
});
afterAll(() => t?.close());

async function userWithSmsFactor(phone: string) {
  const s = t.app.services;
  const user = await s.users.createUser({}, systemMeta);
  await s.contacts.setPhone({ userId: user.id, phone, verification: 'MARK_VERIFIED' }, systemMeta);
  await s.otpFactors.addOtpSms(user.id, systemMeta);
  return user.id;
}

describe('OTP factor service', () => {
  it('exposes verifyOtp as the MFA core: a code sent by SMS verifies once and marks the factor used', async () => {
    const userId = await userWithSmsFactor('+14155550501');
    const sent = await t.app.services.otpFactors.sendOtp({ userId, channel: 'SMS' });
    expect(sent).toMatchObject({ code: null, sentTo: '+1 ••• ••• 0501', authMethod: { kind: 'OTP_SMS' } });
    clock.advance(5_000);
    const result = await t.app.services.otpFactors.verifyOtp({ userId, channel: 'SMS', code: sink.lastCode('+14155550501') }, systemMeta);
    expect(result.user.id).toBe(userId);
    expect(result.authMethod).toMatchObject({ kind: 'OTP_SMS', lastUsedAt: clock.now() });
    const stored = await t.app.database.client.authMethod.findUniqueOrThrow({ where: { id: result.authMethod.id } });
    expect(stored.lastUsedAt).toEqual(clock.now());
    // Nothing about the code is kept on the factor itself.
    expect(stored.secret).toBeNull();
  });

  it('keeps one factor per kind even when two adds race', async () => {
    const s = t.app.services;
    const user = await s.users.createUser({}, systemMeta);
    await s.contacts.setPhone({ userId: user.id, phone: '+14155550502', verification: 'MARK_VERIFIED' }, systemMeta);
    const results = await Promise.allSettled([s.otpFactors.addOtpSms(user.id, systemMeta), s.otpFactors.addOtpSms(user.id, systemMeta)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(InvalidStateError);
    expect(await t.app.database.client.authMethod.count({ where: { userId: user.id, kind: 'OTP_SMS' } })).toBe(1);
  });

  it('refuses a returned code to a user acting on themselves, even past the schema', async () => {
    const userId = await userWithSmsFactor('+14155550503');
    await expect(t.app.services.otpFactors.sendOtp({ userId, channel: 'SMS', returnCode: true }, userMeta(userId))).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      t.app.services.contacts.setEmail({ userId, email: 'self@example.com', verification: 'MARK_VERIFIED' }, userMeta(userId)),
    ).rejects.toMatchObject({ field: 'verification' });
    await expect(
      t.app.services.contacts.setPhone({ userId, phone: '+14155550504', verification: 'RETURN_CODE' }, userMeta(userId)),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });

  it('revokes the code when delivery fails, and counts wrong codes on the user', async () => {
    const userId = await userWithSmsFactor('+14155550505');
    sink.fail();
    try {
      await expect(t.app.services.otpFactors.sendOtp({ userId, channel: 'SMS' })).rejects.toBeInstanceOf(DeliveryFailedError);
    } finally {
      sink.fail(false);
    }
    expect(await t.app.database.client.oneTimeCode.count({ where: { userId } })).toBe(0);

    await t.app.services.otpFactors.sendOtp({ userId, channel: 'SMS' });
    const code = sink.lastCode('+14155550505');
    await expect(t.app.services.otpFactors.verifyOtp({ userId, channel: 'SMS', code: code === '000000' ? '111111' : '000000' }, systemMeta)).rejects.toBeInstanceOf(
      IncorrectCodeError,
    );
    const user = await t.app.database.client.user.findUniqueOrThrow({ where: { id: userId } });
    expect(user.failedCodeAttempts).toBe(1);
    await t.app.services.otpFactors.verifyOtp({ userId, channel: 'SMS', code }, systemMeta);
    // A success gives the counter back.
    expect((await t.app.database.client.user.findUniqueOrThrow({ where: { id: userId } })).failedCodeAttempts).toBe(0);
  });

  it('requires the address to be verified at sending time, not only when the factor was added', async () => {
    const userId = await userWithSmsFactor('+14155550506');
    await t.app.services.users.updateUser(userId, { phone: '+14155550507' }, systemMeta);
    await expect(t.app.services.otpFactors.sendOtp({ userId, channel: 'SMS' })).rejects.toBeInstanceOf(PhoneNotVerifiedError);
  });
});
