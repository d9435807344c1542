/**
 * The lockout policy: after N consecutive failures a user is LOCKED for a
 * while (or until an admin unlocks). Two counters: passwords, and codes
 * (TOTP, backup, one-time codes).
 *
 * Exact counting under concurrency: an attempt *reserves* a slot by an atomic
 * conditional increment (`where counter < limit`) before the secret is
 * checked, so a parallel burst can never evaluate more guesses than the limit
 * (the flaw of GHSA-7h8m-vrxx-vr4m, where checks ran before counting). A
 * success gives the slot back by resetting the counter.
 */
import type { Db } from '../db/client.js';
import type { DirectSql } from '../db/direct.js';
import type { User } from '../db/generated/sqlite/client.js';
import type { Outbox, RequestMeta } from '../events/outbox.js';
import { systemMeta } from '../events/outbox.js';
import type { Clock } from './clock.js';
import { TooManyAttemptsError, UserInactiveError, UserLockedError, UserNotFoundError } from './errors.js';
import { publicUser } from './users.js';

export type AttemptCounter = 'password' | 'code';

const fields = { password: 'failedPasswordAttempts', code: 'failedCodeAttempts' } as const;
const reasons = { password: 'too_many_failed_passwords', code: 'too_many_failed_codes' } as const;
/** How often the lease holder looks for policy locks whose time is up. */
const EXPIRY_SWEEP_EVERY_MS = 5_000;
/** No verification takes this long: reservations older than this were abandoned. */
const STALE_RESERVATION_MS = 60_000;
/** How a User row from the driver becomes what Prisma would return (direct.ts). */
export const USER_ROW = {
  dates: ['emailVerifiedAt', 'phoneVerifiedAt', 'lockedUntil', 'passwordChangedAt', 'lastLoginAt', 'createdAt', 'updatedAt'],
  booleans: ['passwordMustChange'],
  json: ['metadata'],
} as const;

export interface LockoutPolicy {
  passwordAttempts: number;
  codeAttempts: number;
  durationSeconds: number;
}

export interface Attempt {
  user: User;
  /** The secret matched: the counter starts again from zero. */
  succeeded(): Promise<void>;
  /** The secret did not match: the user may now be locked. Returns the attempts left (null: no policy). */
  failed(meta: RequestMeta): Promise<{ remainingAttempts: number | null; locked: boolean }>;
}

export type LockoutService = ReturnType<typeof createLockoutService>;

export function createLockoutService(deps: { db: Db; direct: DirectSql; outbox: Outbox; clock: Clock; policy: LockoutPolicy }) {
  const { db, direct, outbox, clock, policy } = deps;
  let lastExpirySweep = 0;
  const limitOf = (counter: AttemptCounter) => (counter === 'password' ? policy.passwordAttempts : policy.codeAttempts);

  /** Ends a policy lock whose time is up; true when the user is active afterwards. */
  async function expireLock(user: User): Promise<boolean> {
    if (user.state !== 'LOCKED' || !user.lockedUntil || user.lockedUntil > clock.now()) return false;
    const done = await db.$transaction(async (tx) => {
      const { count } = await tx.user.updateMany({
        where: { id: user.id, state: 'LOCKED', lockedUntil: user.lockedUntil },
        data: { state: 'ACTIVE', lockedReason: null, lockedUntil: null, failedPasswordAttempts: 0, failedCodeAttempts: 0 },
      });
      if (count === 1) {
        const fresh = await tx.user.findUniqueOrThrow({ where: { id: user.id } });
        await outbox.record(tx, { type: 'user.unlocked', userId: user.id, data: { user: publicUser(fresh), reason: 'lock_expired' } }, systemMeta);
      }
      return count === 1;
    });
    if (done) outbox.committed();
    return true;
  }

  /** Throws the error that explains why this user cannot try a secret now. */
  function refuse(user: User): never {
    if (user.state === 'LOCKED') throw new UserLockedError(user.lockedUntil);
    if (user.state === 'INACTIVE') throw new UserInactiveError();
    // Active, but every slot is held by attempts still in flight.
    throw new TooManyAttemptsError(new Date(clock.now().getTime() + 1000));
  }

  async function lockByPolicy(userId: string, counter: AttemptCounter, meta: RequestMeta): Promise<boolean> {
    const lockedUntil = policy.durationSeconds > 0 ? new Date(clock.now().getTime() + policy.durationSeconds * 1000) : null;
    const locked = await db.$transaction(async (tx) => {
      const { count } = await tx.user.updateMany({
        where: { id: userId, state: 'ACTIVE' },
        data: { state: 'LOCKED', lockedReason: reasons[counter], lockedUntil },
      });
      if (count === 1) {
        const user = await tx.user.findUniqueOrThrow({ where: { id: userId } });
        await outbox.record(
          tx,
          { type: 'user.locked', userId, data: { user: publicUser(user), reason: reasons[counter], lockedUntil: lockedUntil?.toISOString() ?? null } },
          meta,
        );
      }
      return count === 1;
    });
    if (locked) outbox.committed();
    return locked;
  }

  /** Reserves one attempt on an active user below the limit; null when that is not possible. */
  async function reserve(userId: string, field: (typeof fields)[AttemptCounter], limit: number): Promise<User | null> {
    if (limit === 0) return db.user.findFirst({ where: { id: userId, state: 'ACTIVE' } });
    // Straight to the driver: this starts every check of a secret. `field`
    // comes from the fixed map above, never from input. updatedAt from our
    // clock: stale reservations are judged by it.
    const rows = await direct.all<User>(
      `UPDATE "User" SET "${field}" = "${field}" + 1, "updatedAt" = ? WHERE "id" = ? AND "state" = 'ACTIVE' AND "${field}" < ? RETURNING *`,
      [clock.now(), userId, limit],
      USER_ROW,
    );
    return rows[0] ?? null;
  }

  function attemptFor(user: User, counter: AttemptCounter): Attempt {
    const field = fields[counter];
    const limit = limitOf(counter);
    return {
      user,
      async succeeded() {
        // Straight to the driver, like the reservation.
        if (limit > 0) await direct.run(`UPDATE "User" SET "${field}" = 0 WHERE "id" = ?`, [user.id]);
      },
      async failed(meta) {
        if (limit === 0) return { remainingAttempts: null, locked: false };
        // This attempt's slot number: the one that reaches the limit locks the user.
        const slot = user[field];
        if (slot >= limit) {
          await lockByPolicy(user.id, counter, meta);
          return { remainingAttempts: 0, locked: true };
        }
        return { remainingAttempts: limit - slot, locked: false };
      },
    };
  }

  return {
    /**
     * Checks the user may try a secret and reserves one attempt.
     * Throws UserNotFoundError, UserLockedError, UserInactiveError or TooManyAttemptsError.
     */
    async beginAttempt(userId: string, counter: AttemptCounter): Promise<Attempt> {
      const field = fields[counter];
      const limit = limitOf(counter);
      // Fast path, one statement: reserve a slot and read the user in the same update.
      const reserved = await reserve(userId, field, limit);
      if (reserved) return attemptFor(reserved, counter);
      // Slow path: find out why, end a lock whose time is up, and try once more.
      const user = await db.user.findUnique({ where: { id: userId } });
      if (!user) throw new UserNotFoundError(userId);
      if (await expireLock(user)) {
        const again = await reserve(userId, field, limit);
        if (again) return attemptFor(again, counter);
      }
      const now = await db.user.findUnique({ where: { id: userId } });
      if (!now) throw new UserNotFoundError(userId);
      // Slots still held long after any request could be running were never
      // resolved (a crash mid-check): count them as failures, failing closed.
      if (now.state === 'ACTIVE' && limit > 0 && now.updatedAt.getTime() < clock.now().getTime() - STALE_RESERVATION_MS) {
        await lockByPolicy(userId, counter, systemMeta);
        const locked = await db.user.findUnique({ where: { id: userId } });
        if (locked) refuse(locked);
      }
      refuse(now);
    },

    /**
     * Ends policy locks whose time is up, so they end on time (with their
     * user.unlocked event) rather than at the user's next attempt. Run by the
     * instance holding the relay lease; at most every few seconds.
     */
    async expireDueLocks(): Promise<number> {
      const now = clock.now();
      if (now.getTime() - lastExpirySweep < EXPIRY_SWEEP_EVERY_MS) return 0;
      lastExpirySweep = now.getTime();
      const due = await db.user.findMany({ where: { state: 'LOCKED', lockedUntil: { lte: now } }, take: 100 });
      let ended = 0;
      for (const user of due) if (await expireLock(user)) ended++;
      return ended;
    },

    /** Like beginAttempt's checks without reserving: for operations that try no secret. */
    async assertCanAct(userId: string): Promise<User> {
      let user = await db.user.findUnique({ where: { id: userId } });
      if (!user) throw new UserNotFoundError(userId);
      if (await expireLock(user)) user = await db.user.findUniqueOrThrow({ where: { id: userId } });
      if (user.state !== 'ACTIVE') refuse(user);
      return user;
    },
  };
}
