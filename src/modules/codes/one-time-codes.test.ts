import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/helpers/app.js';
import { manualClock } from '../../kernel/clock.js';
import { TooManyAttemptsError } from '../../kernel/errors.js';
import { CodeAlreadyUsedError, CodeExpiredError, IncorrectCodeError, ResendCooldownError } from './errors.js';
import type { OneTimeCodeService } from './one-time-codes.js';
import { systemMeta } from '../../kernel/events/outbox.js';

const clock = manualClock();
let t: TestApp;
let codes: OneTimeCodeService;
let userId: string;

beforeAll(async () => {
  t = await createTestApp({ clock, env: { PORTCULLIS_OTP_MAX_ATTEMPTS: '3', PORTCULLIS_OTP_TTL_SECONDS: '600', PORTCULLIS_OTP_RESEND_COOLDOWN_SECONDS: '30' } });
  codes = t.app.services.codes;
  userId = (await t.app.services.users.createUser({ email: 'codes@example.com' }, systemMeta)).id;
});
afterAll(() => t.close());

const wrong = (code: string) => (code === '000000' ? '111111' : '000000');

describe('one-time codes', () => {
  it('stores only a keyed hash, and a code verifies once', async () => {
    const { code } = await codes.issueCode({ userId, purpose: 'a', target: 'codes@example.com' });
    expect(code).toMatch(/^\d{6}$/);
    const row = await t.app.database.client.oneTimeCode.findFirstOrThrow({ where: { userId, purpose: 'a' } });
    expect(JSON.stringify(row)).not.toContain(code);
    expect(await codes.consumeCode(userId, 'a', code)).toEqual({ target: 'codes@example.com' });
    await expect(codes.consumeCode(userId, 'a', code)).rejects.toBeInstanceOf(CodeAlreadyUsedError);
  });

  it('is bound to its purpose', async () => {
    clock.advance(60_000);
    const { code } = await codes.issueCode({ userId, purpose: 'b' });
    await expect(codes.consumeCode(userId, 'c', code)).rejects.toBeInstanceOf(IncorrectCodeError);
  });

  it('counts attempts down and then refuses even the right code', async () => {
    clock.advance(60_000);
    const { code } = await codes.issueCode({ userId, purpose: 'd' });
    await expect(codes.consumeCode(userId, 'd', wrong(code))).rejects.toMatchObject({ codeAttemptsLeft: 2 });
    await expect(codes.consumeCode(userId, 'd', wrong(code))).rejects.toMatchObject({ codeAttemptsLeft: 1 });
    await expect(codes.consumeCode(userId, 'd', wrong(code))).rejects.toMatchObject({ codeAttemptsLeft: 0 });
    await expect(codes.consumeCode(userId, 'd', code)).rejects.toBeInstanceOf(TooManyAttemptsError);
  });

  it('expires', async () => {
    clock.advance(60_000);
    const { code } = await codes.issueCode({ userId, purpose: 'e' });
    clock.advance(600_001);
    await expect(codes.consumeCode(userId, 'e', code)).rejects.toBeInstanceOf(CodeExpiredError);
  });

  it('enforces the resend cooldown, and a new code replaces the old', async () => {
    clock.advance(60_000);
    // Two known, different codes: random ones could repeat and leave nothing to tell apart.
    const first = await codes.issueCode({ userId, purpose: 'f', generate: () => '111111' });
    await expect(codes.issueCode({ userId, purpose: 'f' })).rejects.toEqual(new ResendCooldownError(new Date(clock.now().getTime() + 30_000)));
    clock.advance(30_001);
    const second = await codes.issueCode({ userId, purpose: 'f', generate: () => '222222' });
    await expect(codes.consumeCode(userId, 'f', first.code)).rejects.toBeInstanceOf(IncorrectCodeError);
    expect(await codes.consumeCode(userId, 'f', second.code)).toEqual({ target: null });
  });

  it('lets exactly one of many concurrent uses of a code succeed', async () => {
    clock.advance(60_000);
    const { code } = await codes.issueCode({ userId, purpose: 'g' });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => codes.consumeCode(userId, 'g', code)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});
