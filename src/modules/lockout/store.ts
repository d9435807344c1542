/**
 * The lockout's SQL: the attempt counters on User, and the policy lock and
 * its expiry. The reservation runs on every check of a secret, so it goes
 * straight to the driver (src/kernel/db/direct.ts explains why); the lock
 * and unlock are rare and write inside the caller's Prisma transaction,
 * where their event is recorded.
 */
import type { Db, Tx } from '../../kernel/db/client.js';
import type { DirectSql, Statement } from '../../kernel/db/direct.js';
import { USER_COLUMNS, USER_ROW } from '../../kernel/db/rows.js';
import type { User } from '../../kernel/db/models.js';
import type { AttemptCounter, ConditionalWrite, Credential } from './service.js';

/** The counter column of each counter. Column names are spliced into SQL: they come from this fixed map, never from input. */
const fields = { password: 'failedPasswordAttempts', code: 'failedCodeAttempts' } as const satisfies Record<AttemptCounter, keyof User>;
/** A reserving statement's row: the user, and the named credential's columns. */
type Reserved = User & { credentialId?: string | null; credentialSecret?: string | null; credentialLastUsedAt?: Date | null };
const RESERVED_ROW = { ...USER_ROW, dates: [...USER_ROW.dates, 'credentialLastUsedAt'] };
const HAS_CREDENTIAL = 'EXISTS (SELECT 1 FROM "AuthMethod" WHERE "slot" = ? AND "secret" IS NOT NULL)';
const CREDENTIAL_COLUMNS = [
  ', (SELECT "id" FROM "AuthMethod" WHERE "slot" = ?) AS "credentialId"',
  ', (SELECT "secret" FROM "AuthMethod" WHERE "slot" = ?) AS "credentialSecret"',
  ', (SELECT "lastUsedAt" FROM "AuthMethod" WHERE "slot" = ?) AS "credentialLastUsedAt"',
].join('');

/** A reserved attempt as read by its statement. */
export interface ReservedAttempt {
  user: User;
  /** The credential in the named slot (null when none was named). */
  credential: Credential | null;
  /** The counter's value after this reservation: this attempt's number (1 = the first since the last reset). */
  attemptNumber: number;
}

export type LockoutStore = ReturnType<typeof createLockoutStore>;

/** findDueLocks' read: the state written out, as the partial index's condition is. */
export const DUE_LOCKS_SQL = `SELECT ${USER_COLUMNS} FROM "User" WHERE "state" = 'LOCKED' AND "lockedUntil" <= ? ORDER BY "lockedUntil" LIMIT ?`;

export function createLockoutStore(deps: { db: Db; direct: DirectSql }) {
  const { db, direct } = deps;

  /** The reset of a counter to zero, as a statement. */
  const resetAttemptsStatement = (userId: string, counter: AttemptCounter): Statement => ({
    sql: `UPDATE "User" SET "${fields[counter]}" = 0 WHERE "id" = ?`,
    params: [userId],
  });

  return {
    /**
     * Reserves one attempt on an active user below `limit` (limit 0: no
     * counting, only the read), and reads the user (and the credential in
     * `slot`, when one is named) in the same statement; null when that is not
     * possible, or the slot holds no secret.
     */
    async reserveAttempt(userId: string, counter: AttemptCounter, limit: number, slot: string | undefined, now: Date): Promise<ReservedAttempt | null> {
      const field = fields[counter];
      // Straight to the driver: this starts every check of a secret. `field`
      // comes from the fixed map above, never from input. updatedAt from our
      // clock: stale reservations are judged by it.
      const c = slot
        ? { columns: CREDENTIAL_COLUMNS, columnParams: [slot, slot, slot], where: ` AND ${HAS_CREDENTIAL}`, whereParams: [slot] }
        : { columns: '', columnParams: [], where: '', whereParams: [] };
      const rows =
        limit === 0
          ? await direct.all<Reserved>(
              `SELECT ${USER_COLUMNS}${c.columns} FROM "User" WHERE "id" = ? AND "state" = 'ACTIVE'${c.where}`,
              [...c.columnParams, userId, ...c.whereParams],
              RESERVED_ROW,
            )
          : await direct.all<Reserved>(
              `UPDATE "User" SET "${field}" = "${field}" + 1, "updatedAt" = ? WHERE "id" = ? AND "state" = 'ACTIVE' AND "${field}" < ?${c.where} RETURNING ${USER_COLUMNS}${c.columns}`,
              [now, userId, limit, ...c.whereParams, ...c.columnParams],
              RESERVED_ROW,
            );
      const row = rows[0];
      if (!row) return null;
      const { credentialId, credentialSecret, credentialLastUsedAt, ...user } = row;
      const credential = credentialId && credentialSecret ? { id: credentialId, secret: credentialSecret, lastUsedAt: credentialLastUsedAt ?? null } : null;
      return { user, credential, attemptNumber: user[field] };
    },

    /** The reset of a counter to zero, as a statement to commit along with an event (outbox.append, commitIfChanged). */
    resetAttemptsStatement,

    /** Resets a counter to zero. */
    async resetAttempts(userId: string, counter: AttemptCounter): Promise<void> {
      // Straight to the driver, like the reservation.
      const reset = resetAttemptsStatement(userId, counter);
      await direct.run(reset.sql, reset.params);
    },

    /**
     * Runs `write` (another module's conditional write), and only when it
     * changed a row, each of `along` (the event, the counter's reset), in
     * one transaction straight to the driver. Resolves with whether it
     * changed a row.
     */
    commitIfChanged(write: ConditionalWrite, along: Statement[]): Promise<boolean> {
      return direct.runIfChanged(write, along);
    },

    /** True when the slot holds a secret (what the reservation's HAS_CREDENTIAL checks). */
    async hasCredential(slot: string): Promise<boolean> {
      return (await db.authMethod.findFirst({ where: { slot, secret: { not: null } }, select: { id: true } })) !== null;
    },

    /** Locks an active user (inside the caller's transaction); the locked user, or null when they were not active. */
    async lockActiveUser(tx: Tx, userId: string, reason: string, lockedUntil: Date | null): Promise<User | null> {
      const { count } = await tx.user.updateMany({
        where: { id: userId, state: 'ACTIVE' },
        data: { state: 'LOCKED', lockedReason: reason, lockedUntil },
      });
      return count === 1 ? tx.user.findUniqueOrThrow({ where: { id: userId } }) : null;
    },

    /**
     * Ends a policy lock that still ends at `lockedUntil` (inside the caller's
     * transaction), starting both counters again; the unlocked user, or null
     * when the lock changed meanwhile.
     */
    async endLock(tx: Tx, userId: string, lockedUntil: Date): Promise<User | null> {
      const { count } = await tx.user.updateMany({
        where: { id: userId, state: 'LOCKED', lockedUntil },
        data: { state: 'ACTIVE', lockedReason: null, lockedUntil: null, failedPasswordAttempts: 0, failedCodeAttempts: 0 },
      });
      return count === 1 ? tx.user.findUniqueOrThrow({ where: { id: userId } }) : null;
    },

    /**
     * Users whose policy lock ended at or before `now`, at most `take`, the
     * longest ended first. The literal state lets both databases read the
     * partial index of locked users (the due-locks migration): a bound one
     * would not prove the index's condition, and SQLite then walked the
     * whole table every few seconds.
     */
    findDueLocks(now: Date, take: number): Promise<User[]> {
      return direct.all<User>(DUE_LOCKS_SQL, [now, take], USER_ROW);
    },
  };
}
