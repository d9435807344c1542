import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/helpers/app.js';
import { systemMeta } from '../../kernel/events/outbox.js';
import { manualClock } from '../../kernel/clock.js';
import { TooManyAttemptsError, UserInactiveError, UserLockedError, UserNotFoundError } from '../../kernel/errors.js';

const clock = manualClock();
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ clock, env: { PORTCULLIS_LOCKOUT_PASSWORD_ATTEMPTS: '3', PORTCULLIS_LOCKOUT_DURATION_SECONDS: '60' } });
});
afterAll(() => t.close());

const newUser = async (email: string) => (await t.app.services.users.createUser({ email }, systemMeta)).id;

describe('lockout', () => {
  it('locks after the limit of consecutive failures, with an event, and the lock expires', async () => {
    const id = await newUser('lock@example.com');
    const { lockout } = t.app.services;
    expect(await (await lockout.beginAttempt(id, 'password')).failed(systemMeta)).toEqual({ attemptsBeforeLock: 2, locked: false });
    expect(await (await lockout.beginAttempt(id, 'password')).failed(systemMeta)).toEqual({ attemptsBeforeLock: 1, locked: false });
    expect(await (await lockout.beginAttempt(id, 'password')).failed(systemMeta)).toEqual({ attemptsBeforeLock: 0, locked: true });
    await expect(lockout.beginAttempt(id, 'password')).rejects.toBeInstanceOf(UserLockedError);
    const user = await t.app.database.client.user.findUniqueOrThrow({ where: { id } });
    expect(user).toMatchObject({ state: 'LOCKED', lockedReason: 'too_many_failed_passwords' });
    expect(user.lockedUntil?.getTime()).toBe(clock.now().getTime() + 60_000);
    clock.advance(60_001);
    const attempt = await lockout.beginAttempt(id, 'password');
    await attempt.succeeded();
    const after = await t.app.database.client.user.findUniqueOrThrow({ where: { id } });
    expect(after).toMatchObject({ state: 'ACTIVE', failedPasswordAttempts: 0 });
    const types = (await t.app.database.client.event.findMany({ where: { userId: id }, orderBy: { seq: 'asc' } })).map((e) => e.type);
    expect(types).toEqual(['user.created', 'user.locked', 'user.unlocked']);
  });

  it('ends due policy locks on time, with user.unlocked, without waiting for the next attempt', async () => {
    const id = await newUser('sweep@example.com');
    const { lockout } = t.app.services;
    for (let i = 0; i < 3; i++) await (await lockout.beginAttempt(id, 'password')).failed(systemMeta);
    clock.advance(10_000);
    expect(await lockout.expireDueLocks()).toBe(0);
    clock.advance(51_000);
    expect(await lockout.expireDueLocks()).toBe(1);
    const user = await t.app.database.client.user.findUniqueOrThrow({ where: { id } });
    expect(user).toMatchObject({ state: 'ACTIVE', lockedUntil: null, failedPasswordAttempts: 0 });
    const last = await t.app.database.client.event.findFirstOrThrow({ where: { userId: id }, orderBy: { seq: 'desc' } });
    expect(last).toMatchObject({ type: 'user.unlocked', data: { reason: 'lock_expired' } });
    // An admin's lock has no end: the sweep leaves it alone.
    await t.app.services.users.lockUser(id, systemMeta);
    clock.advance(3_600_000);
    expect(await lockout.expireDueLocks()).toBe(0);
    expect((await t.app.database.client.user.findUniqueOrThrow({ where: { id } })).state).toBe('LOCKED');
  });

  it('resets the counter on success', async () => {
    const id = await newUser('reset@example.com');
    const { lockout } = t.app.services;
    await (await lockout.beginAttempt(id, 'password')).failed(systemMeta);
    await (await lockout.beginAttempt(id, 'password')).succeeded();
    expect(await (await lockout.beginAttempt(id, 'password')).failed(systemMeta)).toMatchObject({ attemptsBeforeLock: 2 });
  });

  it('never reserves more attempts than the limit under a concurrent burst', async () => {
    const id = await newUser('burst@example.com');
    const { lockout } = t.app.services;
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => lockout.beginAttempt(id, 'password')));
    const granted = results.filter((r) => r.status === 'fulfilled');
    expect(granted).toHaveLength(3);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TooManyAttemptsError);
    // Reservations never resolved (a crash mid-check) count as failures once they are stale.
    clock.advance(61_000);
    await expect(lockout.beginAttempt(id, 'password')).rejects.toBeInstanceOf(UserLockedError);
  });

  it('refuses inactive and unknown users', async () => {
    const id = await newUser('inactive@example.com');
    await t.app.services.users.deactivateUser(id, systemMeta);
    await expect(t.app.services.lockout.beginAttempt(id, 'code')).rejects.toBeInstanceOf(UserInactiveError);
    await expect(t.app.services.lockout.beginAttempt('usr_missing', 'code')).rejects.toBeInstanceOf(UserNotFoundError);
  });
});
