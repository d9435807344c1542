/**
 * Passwords: set (or import a hash), change with the current password or a
 * reset code, request a reset code, and verify with the lockout policy.
 *
 * A password is the user's PASSWORD auth method; `slot` = "<userId>:PASSWORD"
 * keeps it a singleton and `secret` holds the hash, never the password.
 */
import type { Tx } from '../../kernel/db/client.js';
import type { Channel, Delivery } from '../../kernel/delivery/index.js';
import type { User } from '../../kernel/db/models.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import type { Clock } from '../../kernel/clock.js';
import { randomReadableCode } from '../../kernel/crypto.js';
import { localeOf } from '../codes/code-delivery.js';
import { InvalidInputError, UserNotFoundError } from '../../kernel/errors.js';
import { EmailNotVerifiedError } from '../users/errors.js';
import { IncorrectPasswordError, NoPasswordError, WeakPasswordError } from './errors.js';
import { maskEmail, maskPhone } from '../../kernel/masking.js';
import type { AttemptOptions, LockoutService, UserKey } from '../lockout/service.js';
import type { OneTimeCodeService } from '../codes/one-time-codes.js';
import { hashCostProblem, identifyHash, importableFormats, type PasswordHasher } from './hashing.js';
import { checkPassword, type PasswordPolicy } from './policy.js';
import { publicUser } from '../users/events.js';
import type { SessionService } from '../sessions/service.js';
import { createPasswordStore } from './store.js';

export const PASSWORD_RESET_PURPOSE = 'password_reset';

/**
 * lastUsedAt is written at most once a minute: a write per verification would
 * cost more than the rest of the bookkeeping, and minute precision is plenty.
 */
const LAST_USED_RESOLUTION_MS = 60_000;
const isStale = (lastUsedAt: Date | null, now: Date) => !lastUsedAt || now.getTime() - lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS;

/** What an admin gives: a password to hash, or a hash imported from another system. */
export interface PasswordInput {
  password?: string | null;
  passwordHash?: string | null;
  /** The user must choose a new password at next sign-in. */
  mustChange?: boolean | null;
}

/** A checked and hashed password, ready to store inside a transaction. */
export interface PreparedPassword {
  hash: string;
  imported: boolean;
  mustChange: boolean;
}


export type PasswordService = ReturnType<typeof createPasswordService>;

export function createPasswordService(deps: {
  outbox: Outbox;
  clock: Clock;
  lockout: LockoutService;
  codes: OneTimeCodeService;
  hasher: PasswordHasher;
  policy: PasswordPolicy & { resetTtlSeconds: number };
  delivery: Delivery;
  sessions: Pick<SessionService, 'revokeAllInTx'>;
}) {
  const { outbox, clock, lockout, codes, hasher, policy, sessions } = deps;
  const store = createPasswordStore();

  function assertStrong(password: string, field = 'password') {
    if (typeof password !== 'string') throw new InvalidInputError(field, 'A password is required.');
    const reasons = checkPassword(password, policy);
    if (reasons.length) throw new WeakPasswordError(reasons);
  }

  /**
   * Checks the input and hashes the password (outside any transaction: hashing
   * takes tens of milliseconds and must not hold a database lock). An imported
   * hash must be a supported format within the cost limits.
   * Throws WeakPasswordError or InvalidInputError.
   */
  async function preparePassword(input: PasswordInput): Promise<PreparedPassword> {
    const hasPassword = input.password !== undefined && input.password !== null;
    const hasHash = input.passwordHash !== undefined && input.passwordHash !== null;
    if (hasPassword === hasHash) throw new InvalidInputError('password', 'Give exactly one of password and passwordHash.');
    if (hasHash) {
      if (!identifyHash(input.passwordHash!)) {
        throw new InvalidInputError('passwordHash', `Not a supported password hash (supported: ${importableFormats}).`);
      }
      // Every later verification pays the hash's own cost: refuse one that would make each sign-in a denial of service.
      const problem = hashCostProblem(input.passwordHash!);
      if (problem) throw new InvalidInputError('passwordHash', problem);
      return { hash: input.passwordHash!, imported: true, mustChange: input.mustChange ?? false };
    }
    assertStrong(input.password!);
    return { hash: await hasher.hash(input.password!), imported: false, mustChange: input.mustChange ?? false };
  }

  /**
   * Stores a prepared password inside the caller's transaction and records
   * user.password_changed. With `endSessions`, the user's sessions end in the
   * same transaction (all but `keepSessionId`): whoever knew the old password
   * may hold one of them.
   */
  async function storePassword(
    tx: Tx,
    userId: string,
    prepared: PreparedPassword,
    reason: 'set' | 'imported' | 'changed' | 'reset',
    meta: RequestMeta,
    endSessions?: { keepSessionId?: string },
  ): Promise<User> {
    const now = clock.now();
    await store.savePasswordHash(tx, userId, prepared.hash, now);
    const user = await store.markPasswordChanged(tx, userId, prepared.mustChange, now);
    const sessionsRevoked = endSessions ? await sessions.revokeAllInTx(tx, userId, 'password_changed', meta, endSessions.keepSessionId) : 0;
    await outbox.record(
      tx,
      {
        type: 'user.password_changed',
        userId,
        data: { user: publicUser(user), reason, imported: prepared.imported, mustChange: prepared.mustChange, sessionsRevoked },
      },
      meta,
    );
    return user;
  }

  /**
   * Checks a password. Every outcome costs one hash verification: a missing
   * user or password is checked against a dummy hash with the same parameters,
   * so timing tells nothing about which users exist. A failure counts towards
   * the lockout; a success resets the counter and upgrades an old hash.
   * The user is named by id, or (sign-in) by a normalized email or username,
   * found by the same statement that reserves the attempt; `identified` is
   * then told the user's id as soon as it is known, failures included.
   * `anyVerified` also reads, in that statement, whether the user holds a
   * verified auth method of those kinds (`holdsVerified`).
   */
  async function verifyPassword(
    user: string | UserKey,
    password: string,
    meta: RequestMeta,
    options: Pick<AttemptOptions, 'anyVerified' | 'identified'> = {},
  ): Promise<{ user: User; rehashed: boolean; holdsVerified: boolean | null }> {
    let hashed = false;
    try {
      // Reserve the attempt before checking the secret (exact counting under
      // concurrency), reading the stored hash in the same statement. Without a
      // password nothing is reserved; the user's state still comes first.
      const attempt = await lockout.beginAttempt(user, 'password', { ...options, credentialKind: 'PASSWORD', missing: () => new NoPasswordError() });
      const userId = attempt.user.id;
      const method = attempt.credential!;
      hashed = true;
      const ok = await hasher.verify(method.secret, password);
      if (!ok) {
        const { attemptsBeforeLock, locked } = await attempt.failed(meta);
        await outbox.append({ type: 'user.password_verification_failed', userId, data: { attemptsBeforeLock, locked } }, meta);
        throw new IncorrectPasswordError(attemptsBeforeLock);
      }
      const now = clock.now();
      const event = (rehashed: boolean) => ({ type: 'user.password_verified' as const, userId, data: { rehashed } });
      const needsRehash = hasher.needsRehash(method.secret);
      let rehashed = false;
      if (needsRehash) {
        await attempt.succeeded();
        const upgraded = await hasher.hash(password);
        rehashed = await outbox.transaction(async (tx) => {
          // Conditional: a password set meanwhile wins over our upgrade of the old one.
          const written = await store.markPasswordUsed(tx, method.id, now, { from: method.secret, to: upgraded });
          await outbox.record(tx, event(written), meta);
          return written;
        });
      } else {
        // The usual case: the counter's reset and the event commit together, with lastUsedAt once a minute.
        await attempt.succeeded({ event: event(false), meta, ...(isStale(method.lastUsedAt, now) ? { along: store.markPasswordUsedStatement(method.id, now) } : {}) });
      }
      return { user: attempt.user, rehashed, holdsVerified: attempt.holdsVerified };
    } finally {
      if (!hashed) await hasher.verifyDummy(password);
    }
  }

  return {
    preparePassword,
    storePassword,
    verifyPassword,

    /**
     * For createUser: checks and hashes an initial password (or takes an
     * imported hash) before the user exists, and returns the step that stores
     * it inside the user's creation transaction; undefined when none was given.
     */
    async initialPassword(input: PasswordInput, meta: RequestMeta): Promise<((tx: Tx, user: User) => Promise<unknown>) | undefined> {
      if ((input.password ?? null) === null && (input.passwordHash ?? null) === null) return undefined;
      const prepared = await preparePassword(input);
      return (tx, user) => storePassword(tx, user.id, prepared, prepared.imported ? 'imported' : 'set', meta);
    },

    /** An admin sets or replaces a password, or imports a hash; every session of the user ends. */
    async setPassword(userId: string, input: PasswordInput, meta: RequestMeta): Promise<User> {
      const prepared = await preparePassword(input);
      return outbox.transaction(async (tx) => {
        const exists = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
        if (!exists) throw new UserNotFoundError(userId);
        return storePassword(tx, userId, prepared, prepared.imported ? 'imported' : 'set', meta, {});
      });
    },

    /**
     * The user changes their password, proving it with the current password
     * (counted by the lockout) or with a reset code (single use, expiring):
     * that proof is the re-authentication this change needs. The user's other
     * sessions end; the caller's own too with `signOutEverywhere`.
     */
    async changePassword(
      userId: string,
      input: { newPassword: string; currentPassword?: string | null; resetCode?: string | null; signOutEverywhere?: boolean | null },
      meta: RequestMeta,
    ): Promise<User> {
      const byPassword = input.currentPassword !== undefined && input.currentPassword !== null;
      const byCode = input.resetCode !== undefined && input.resetCode !== null;
      if (byPassword === byCode) throw new InvalidInputError('currentPassword', 'Give exactly one of currentPassword and resetCode.');
      // Check the new password first: a weak one should not spend an attempt or a code.
      assertStrong(input.newPassword, 'newPassword');
      if (byPassword) await verifyPassword(userId, input.currentPassword!, meta);
      else {
        await lockout.assertCanAct(userId);
        await codes.consumeCode(userId, PASSWORD_RESET_PURPOSE, input.resetCode!);
      }
      const prepared: PreparedPassword = { hash: await hasher.hash(input.newPassword), imported: false, mustChange: false };
      return outbox.transaction(async (tx) => {
        const exists = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
        if (!exists) throw new UserNotFoundError(userId);
        const own = meta.actor.type === 'user' && meta.actor.id === userId ? meta.actor.sessionId : undefined;
        return storePassword(tx, userId, prepared, byPassword ? 'changed' : 'reset', meta, {
          keepSessionId: input.signOutEverywhere ? undefined : own,
        });
      });
    },

    /**
     * Issues a single-use reset code and sends it to the user's verified email
     * (or, without one, verified phone); with `returnCode` it is returned
     * instead of sent, for flows that deliver it themselves. Throws
     * EmailNotVerifiedError when there is nowhere safe to send it,
     * ResendCooldownError within the cooldown of the last code, and
     * DeliveryFailedError (the code is then withdrawn) when sending fails.
     */
    async requestPasswordReset(
      userId: string,
      options: { returnCode?: boolean | null },
      meta: RequestMeta,
    ): Promise<{ user: User; expiresAt: Date; code: string | null; sentTo: string | null }> {
      const user = await lockout.assertCanAct(userId);
      const returnCode = options.returnCode === true;
      // Only a verified address: a reset sent to an unproven one could hand the account to its owner.
      const destination: { channel: Channel; to: string; masked: string | null } | null = user.email && user.emailVerifiedAt
        ? { channel: 'email', to: user.email, masked: maskEmail(user.email) }
        : user.phone && user.phoneVerifiedAt
          ? { channel: 'sms', to: user.phone, masked: maskPhone(user.phone) }
          : null;
      if (!returnCode && !destination) throw new EmailNotVerifiedError();
      const { code, expiresAt } = await codes.issueCode({
        userId,
        purpose: PASSWORD_RESET_PURPOSE,
        target: destination?.to ?? null,
        ttlSeconds: policy.resetTtlSeconds,
        // 12 readable characters (60 bits): a reset code may travel in a link.
        generate: () => randomReadableCode(12),
        ignoreCooldown: returnCode,
      });
      if (!returnCode) {
        try {
          await deps.delivery.send({
            channel: destination!.channel,
            to: destination!.to,
            template: 'password_reset',
            params: { code, ttlSeconds: policy.resetTtlSeconds },
            locale: localeOf(user),
          });
        } catch (error) {
          // No live code that nobody received.
          await codes.revokeCode(userId, PASSWORD_RESET_PURPOSE);
          throw error;
        }
      }
      const sentTo = returnCode ? null : destination!.masked;
      await outbox.append(
        { type: 'user.password_reset_requested', userId, data: { user: publicUser(user), expiresAt: expiresAt.toISOString(), sentTo, returned: returnCode } },
        meta,
      );
      return { user, expiresAt, code: returnCode ? code : null, sentTo };
    },
  };
}
