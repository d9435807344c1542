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
import type { Db } from '../../kernel/db/client.js';
import type { DirectSql, Statement } from '../../kernel/db/direct.js';
import type { AuthMethodKind, User } from '../../kernel/db/models.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { CatalogEvent, Outbox } from '../catalog.js';
import { systemMeta } from '../../kernel/events/outbox.js';
import type { Clock } from '../../kernel/clock.js';
import type { Counter } from '../../kernel/metrics.js';
import { TooManyAttemptsError, UserInactiveError, UserLockedError, UserNotFoundError } from '../../kernel/errors.js';
import { publicUser } from '../users/events.js';
import { createLockoutStore, type ReservedAttempt } from './store.js';

export type AttemptCounter = 'password' | 'code';

const reasons = { password: 'too_many_failed_passwords', code: 'too_many_failed_codes' } as const;
/** How often the lease holder looks for policy locks whose time is up. */
const EXPIRY_SWEEP_EVERY_MS = 5_000;
/** No verification takes this long: reservations older than this were abandoned. */
const STALE_RESERVATION_MS = 60_000;

export interface LockoutPolicy {
  passwordAttempts: number;
  codeAttempts: number;
  durationSeconds: number;
}

/** The stored secret an attempt is about: the AuthMethod in a given slot. */
export interface Credential {
  id: string;
  secret: string;
  lastUsedAt: Date | null;
}

/** A user named by a unique normalized identifier instead of an id: sign-in finds and reserves in one statement. */
export interface UserKey {
  column: 'emailNormalized' | 'usernameNormalized';
  value: string;
}

/** What beginAttempt may also check and read in the reserving statement. */
export interface AttemptOptions {
  /** The kind of the secret to check, the user's singleton AuthMethod of that kind: no attempt is reserved when it holds none. */
  credentialKind?: AuthMethodKind;
  /** The error for a user who may act but has no such credential. */
  missing?: () => Error;
  /** Also read whether the user holds a verified auth method of one of these kinds (Attempt.holdsVerified). */
  anyVerified?: readonly AuthMethodKind[];
  /** Told the user's id as soon as it is known, also when the attempt is then refused (a caller that named the user by a UserKey). */
  identified?: (userId: string) => void;
}

declare const conditionalWrite: unique symbol;

/**
 * A conditional write built by another module's store (totp's takeTotpStep):
 * a statement that changes a row only when the secret's use is still
 * allowed. Opaque here, so the lockout's interface takes no SQL text from
 * callers; only a store function produces one.
 */
export type ConditionalWrite = Statement & { readonly [conditionalWrite]: true };

export interface Attempt {
  user: User;
  /** The credential named in the options, read with the reservation (null when none was named). */
  credential: Credential | null;
  /** Whether the user holds a verified method of the kinds in the options' anyVerified, read with the reservation (null when none were named). */
  holdsVerified: boolean | null;
  /** The secret matched: the counter starts again from zero, atomically with `record` when given (and its `along`, the credential's own bookkeeping, a write to another row than the user's). */
  succeeded(record?: { event: CatalogEvent; meta: RequestMeta; along?: Statement }): Promise<void>;
  /**
   * Runs `use` (a conditional write, such as taking a TOTP step), and when
   * it changed a row, succeeds as above with `record`, all in one
   * transaction. Resolves with whether it changed a row; when not, the
   * attempt is still open (fail it).
   */
  succeededIf(use: ConditionalWrite, record: { event: CatalogEvent; meta: RequestMeta }): Promise<boolean>;
  /** The secret did not match: the user may now be locked. Returns the failures still allowed before the lock (null: no policy). */
  failed(meta: RequestMeta): Promise<{ attemptsBeforeLock: number | null; locked: boolean }>;
}

export type LockoutService = ReturnType<typeof createLockoutService>;

export function createLockoutService(deps: {
  db: Db;
  direct: DirectSql;
  outbox: Outbox;
  clock: Clock;
  policy: LockoutPolicy;
  /** Counts the locks this policy sets (portcullis_lockouts_total). */
  lockouts?: Counter<'reason'>;
}) {
  const { db, outbox, clock, policy } = deps;
  const store = createLockoutStore(deps);
  let lastExpirySweep = 0;
  const limitOf = (counter: AttemptCounter) => (counter === 'password' ? policy.passwordAttempts : policy.codeAttempts);

  /** Ends a policy lock whose time is up; true when the user is active afterwards. */
  async function expireLock(user: User): Promise<boolean> {
    if (user.state !== 'LOCKED' || !user.lockedUntil || user.lockedUntil > clock.now()) return false;
    const { lockedUntil } = user;
    const done = await db.$transaction(async (tx) => {
      const fresh = await store.endLock(tx, user.id, lockedUntil);
      if (fresh) await outbox.record(tx, { type: 'user.unlocked', userId: user.id, data: { user: publicUser(fresh), reason: 'lock_expired' } }, systemMeta);
      return fresh !== null;
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
      const user = await store.lockActiveUser(tx, userId, reasons[counter], lockedUntil);
      if (user) {
        await outbox.record(
          tx,
          { type: 'user.locked', userId, data: { user: publicUser(user), reason: reasons[counter], lockedUntil: lockedUntil?.toISOString() ?? null } },
          meta,
        );
      }
      return user !== null;
    });
    if (locked) {
      outbox.committed();
      deps.lockouts?.inc({ reason: reasons[counter] });
    }
    return locked;
  }

  function attemptFor(reserved: ReservedAttempt, counter: AttemptCounter): Attempt {
    const { user, credential, holdsVerified } = reserved;
    const limit = limitOf(counter);
    const reset: Statement | undefined = limit > 0 ? store.resetAttemptsStatement(user.id, counter) : undefined;
    return {
      user,
      credential,
      holdsVerified,
      async succeeded(record) {
        // Straight to the driver, like the reservation.
        if (record) await outbox.append(record.event, record.meta, [...(reset ? [reset] : []), ...(record.along ? [record.along] : [])]);
        else if (reset) await store.resetAttempts(user.id, counter);
      },
      async succeededIf(use, record) {
        const event = outbox.statement(record.event, record.meta);
        const changed = await store.commitIfChanged(use, [event, ...(reset ? [reset] : [])]);
        if (changed) outbox.committed({ notified: event.notified });
        return changed;
      },
      async failed(meta) {
        if (limit === 0) return { attemptsBeforeLock: null, locked: false };
        // This attempt's slot number: the one that reaches the limit locks the user.
        const slot = reserved.attemptNumber;
        if (slot >= limit) {
          await lockByPolicy(user.id, counter, meta);
          return { attemptsBeforeLock: 0, locked: true };
        }
        return { attemptsBeforeLock: limit - slot, locked: false };
      },
    };
  }

  return {
    /**
     * Checks the user may try a secret and reserves one attempt. The user is
     * named by id, or by a UserKey (then an unknown one is UserNotFoundError,
     * as an unknown id is).
     * Throws UserNotFoundError, UserLockedError, UserInactiveError or TooManyAttemptsError.
     */
    async beginAttempt(user: string | UserKey, counter: AttemptCounter, options: AttemptOptions = {}): Promise<Attempt> {
      const limit = limitOf(counter);
      const kind = options.credentialKind;
      const reads = { credentialKind: kind, anyVerified: options.anyVerified };
      // Fast path, one statement: reserve a slot and read the user (and credential) in the same update.
      const reserved = await store.reserveAttempt(user, counter, limit, reads, clock.now());
      if (reserved) {
        options.identified?.(reserved.user.id);
        return attemptFor(reserved, counter);
      }
      // Slow path: find out why, end a lock whose time is up, and try once more (by id from here on).
      let now = typeof user === 'string' ? await db.user.findUnique({ where: { id: user } }) : await store.findUserByKey(user);
      if (!now) throw new UserNotFoundError(typeof user === 'string' ? user : undefined);
      const userId = now.id;
      options.identified?.(userId);
      if (await expireLock(now)) {
        const again = await store.reserveAttempt(userId, counter, limit, reads, clock.now());
        if (again) return attemptFor(again, counter);
        now = await db.user.findUnique({ where: { id: userId } });
        if (!now) throw new UserNotFoundError(userId);
      }
      if (now.state !== 'ACTIVE') refuse(now);
      // Nothing to guess: no attempt is counted.
      if (kind && !(await store.hasCredential(userId, kind))) {
        throw options.missing?.() ?? new Error(`no ${kind} credential`);
      }
      // Slots still held long after any request could be running were never
      // resolved (a crash mid-check): count them as failures, failing closed.
      if (limit > 0 && now.updatedAt.getTime() < clock.now().getTime() - STALE_RESERVATION_MS) {
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
      const due = await store.findDueLocks(now, 100);
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
