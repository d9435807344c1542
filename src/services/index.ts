/**
 * The composition root: builds every service with its explicit dependencies.
 * The CLI, the GraphQL schema and the tests all get their services from here.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { createOutbox } from '../events/outbox.js';
import type { Logger } from '../logger.js';
import { createApiKeyService } from './api-keys.js';
import { createAuthMethodService } from './auth-methods.js';
import { createBackupCodeService } from './backup-codes.js';
import { systemClock, type Clock } from './clock.js';
import { createLockoutService } from './lockout.js';
import { createOneTimeCodeService } from './one-time-codes.js';
import { createPasswordHasher } from './password-hashing.js';
import { createPasswordService } from './passwords.js';
import { createTotpService } from './totp.js';
import { createUserService } from './users.js';
import { createWebAuthnService } from './webauthn.js';

export interface ServiceDeps {
  db: Db;
  config: Readonly<Config>;
  logger: Logger;
  clock?: Clock;
  /** Called after a transaction that recorded events commits (wakes the relay). */
  onEventsCommitted?: () => void;
}

export type Services = ReturnType<typeof createServices>;

export function createServices(deps: ServiceDeps) {
  const { db, config } = deps;
  const clock = deps.clock ?? systemClock;
  if (!config.encryptionKey) throw new Error('services need the encryption key resolved first (createApp does it)');
  const key = config.encryptionKey;
  const outbox = createOutbox({ now: () => clock.now(), onCommitted: deps.onEventsCommitted });
  const lockout = createLockoutService({ db, outbox, clock, policy: config.lockout });
  const codes = createOneTimeCodeService({ db, clock, key, policy: config.otp });
  const passwordHasher = createPasswordHasher(config.passwords.argon2);
  const backupCodes = createBackupCodeService({ db, outbox, clock, key, count: config.backupCodes.count });
  return {
    clock,
    outbox,
    lockout,
    codes,
    users: createUserService({ db, provider: config.database.provider, outbox, clock, defaultPhoneRegion: config.otp.defaultPhoneRegion }),
    apiKeys: createApiKeyService({ db, clock, bootstrapApiKey: config.bootstrapApiKey }),
    webauthn: createWebAuthnService({ db, config: config.webauthn, clock, outbox, lockout, codes, linkTtlSeconds: config.otp.ttlSeconds }),
    passwordHasher,
    passwords: createPasswordService({ db, outbox, clock, lockout, codes, hasher: passwordHasher, policy: config.passwords }),
    backupCodes,
    totp: createTotpService({ db, outbox, clock, key, lockout, backupCodes, config: config.totp }),
    authMethods: createAuthMethodService({ db, outbox }),
  };
}
