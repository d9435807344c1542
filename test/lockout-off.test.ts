/**
 * With the lockout policy off (0 attempts), a check reserves nothing but
 * still reads the stored hash with the user in one statement, and still
 * refuses locked and inactive users.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { IncorrectPasswordError, NoPasswordError, UserInactiveError, UserNotFoundError } from '../src/kernel/errors.js';
import { createTestApp, type TestApp } from './helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_LOCKOUT_PASSWORD_ATTEMPTS: '0' } });
});
afterAll(() => t.close());

it('checks passwords without counting attempts', async () => {
  const s = t.app.services;
  const user = await s.users.createUser({ email: 'no-lockout@example.com' }, systemMeta);
  await s.passwords.setPassword(user.id, { password: 'a perfectly long password' }, systemMeta);
  for (let i = 0; i < 12; i++) {
    const wrong = await s.passwords.verifyPassword(user.id, 'not the password', systemMeta).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(IncorrectPasswordError);
    expect((wrong as IncorrectPasswordError).remainingAttempts).toBeNull();
  }
  expect((await s.passwords.verifyPassword(user.id, 'a perfectly long password', systemMeta)).user.id).toBe(user.id);
  const row = await t.app.database.client.user.findUniqueOrThrow({ where: { id: user.id } });
  expect(row).toMatchObject({ state: 'ACTIVE', failedPasswordAttempts: 0 });

  const bare = await s.users.createUser({ email: 'no-password@example.com' }, systemMeta);
  await expect(s.passwords.verifyPassword(bare.id, 'anything at all', systemMeta)).rejects.toBeInstanceOf(NoPasswordError);
  await expect(s.passwords.verifyPassword('usr_missing', 'anything at all', systemMeta)).rejects.toBeInstanceOf(UserNotFoundError);
  await s.users.deactivateUser(user.id, systemMeta);
  await expect(s.passwords.verifyPassword(user.id, 'a perfectly long password', systemMeta)).rejects.toBeInstanceOf(UserInactiveError);
});
