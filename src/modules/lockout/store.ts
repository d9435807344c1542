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
import type { AuthMethodKind, User } from '../../kernel/db/models.js';
import { authMethodSlot, kindLiterals } from '../auth-methods/kinds.js';
import type { AttemptCounter, ConditionalWrite, Credential, UserKey } from './service.js';

/** The counter column of each counter. Column names are spliced into SQL: they come from this fixed map, never from input. */
const fields = { password: 'failedPasswordAttempts', code: 'failedCodeAttempts' } as const satisfies Record<AttemptCounter, keyof User>;
/** A reserving statement's row: the user, the named credential's columns, and whether the user holds a verified method of the asked kinds. */
type Reserved = User & { credentialId?: string | null; credentialSecret?: string | null; credentialLastUsedAt?: Date | null; holdsVerified?: boolean };
const RESERVED_ROW = { ...USER_ROW, dates: [...USER_ROW.dates, 'credentialLastUsedAt'], booleans: [...(USER_ROW.booleans ?? []), 'holdsVerified'] };
/**
 * The credential is the AuthMethod in the user's slot for its kind: the slot
 * is made in SQL from the row's own id (so a reservation by identifier needs
 * no id beforehand) and the kind's suffix, `authMethodSlot('', kind)`.
 */
const SLOT = '"slot" = "User"."id" || ?';
const HAS_CREDENTIAL = `EXISTS (SELECT 1 FROM "AuthMethod" WHERE ${SLOT} AND "secret" IS NOT NULL)`;
const CREDENTIAL_COLUMNS = [
  `, (SELECT "id" FROM "AuthMethod" WHERE ${SLOT}) AS "credentialId"`,
  `, (SELECT "secret" FROM "AuthMethod" WHERE ${SLOT}) AS "credentialSecret"`,
  `, (SELECT "lastUsedAt" FROM "AuthMethod" WHERE ${SLOT}) AS "credentialLastUsedAt"`,
].join('');
const HOLDS_VERIFIED = (kinds: readonly AuthMethodKind[]) =>
  `, EXISTS (SELECT 1 FROM "AuthMethod" WHERE "userId" = "User"."id" AND "verified" AND "kind" IN (${kindLiterals(kinds)})) AS "holdsVerified"`;
/** The unique user columns a reservation may find its user by. Spliced into SQL: from this fixed map, never from input. */
const KEY_COLUMNS = { emailNormalized: '"emailNormalized"', usernameNormalized: '"usernameNormalized"' } as const satisfies Record<UserKey['column'], string>;

/** What a reservation reads along with the user. */
export interface ReservationReads {
  /** The user's singleton credential of this kind (its slot): no attempt is reserved when it holds no secret. */
  credentialKind?: AuthMethodKind;
  /** Whether the user holds a verified auth method of one of these kinds. */
  anyVerified?: readonly AuthMethodKind[];
}

/** A reserved attempt as read by its statement. */
export interface ReservedAttempt {
  user: User;
  /** The credential in the named slot (null when none was named). */
  credential: Credential | null;
  /** The counter's value after this reservation: this attempt's number (1 = the first since the last reset). */
  attemptNumber: number;
  /** Whether the user holds a verified method of the kinds asked for (null when none were asked for). */
  holdsVerified: boolean | null;
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
     * counting, only the read), and reads the user (and `reads`) in the same
     * statement; null when that is not possible, the user does not exist, or
     * the credential holds no secret. The user is named by id, or by a
     * normalized email or username (sign-in: no lookup beforehand).
     */
    async reserveAttempt(user: string | UserKey, counter: AttemptCounter, limit: number, reads: ReservationReads | undefined, now: Date): Promise<ReservedAttempt | null> {
      const field = fields[counter];
      // Straight to the driver: this starts every check of a secret. `field`
      // and the key column come from the fixed maps above, never from input.
      // updatedAt from our clock: stale reservations are judged by it.
      const who = typeof user === 'string' ? { where: '"id" = ?', param: user } : { where: `${KEY_COLUMNS[user.column]} = ?`, param: user.value };
      const suffix = reads?.credentialKind ? authMethodSlot('', reads.credentialKind) : undefined;
      const c = suffix
        ? { columns: CREDENTIAL_COLUMNS, columnParams: [suffix, suffix, suffix], where: ` AND ${HAS_CREDENTIAL}`, whereParams: [suffix] }
        : { columns: '', columnParams: [], where: '', whereParams: [] };
      const verified = reads?.anyVerified ? HOLDS_VERIFIED(reads.anyVerified) : '';
      const rows =
        limit === 0
          ? await direct.all<Reserved>(
              `SELECT ${USER_COLUMNS}${c.columns}${verified} FROM "User" WHERE ${who.where} AND "state" = 'ACTIVE'${c.where}`,
              [...c.columnParams, who.param, ...c.whereParams],
              RESERVED_ROW,
            )
          : await direct.all<Reserved>(
              `UPDATE "User" SET "${field}" = "${field}" + 1, "updatedAt" = ? WHERE ${who.where} AND "state" = 'ACTIVE' AND "${field}" < ?${c.where} RETURNING ${USER_COLUMNS}${c.columns}${verified}`,
              [now, who.param, limit, ...c.whereParams, ...c.columnParams],
              RESERVED_ROW,
            );
      const row = rows[0];
      if (!row) return null;
      const { credentialId, credentialSecret, credentialLastUsedAt, holdsVerified, ...found } = row;
      const credential = credentialId && credentialSecret ? { id: credentialId, secret: credentialSecret, lastUsedAt: credentialLastUsedAt ?? null } : null;
      return { user: found, credential, attemptNumber: found[field], holdsVerified: reads?.anyVerified ? holdsVerified === true : null };
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

    /** True when the user's credential of this kind holds a secret (what the reservation's HAS_CREDENTIAL checks). */
    async hasCredential(userId: string, kind: AuthMethodKind): Promise<boolean> {
      return (await db.authMethod.findFirst({ where: { slot: authMethodSlot(userId, kind), secret: { not: null } }, select: { id: true } })) !== null;
    },

    /** The user holding a normalized email or username; null when none does. */
    findUserByKey(key: UserKey): Promise<User | null> {
      return key.column === 'emailNormalized' ? db.user.findUnique({ where: { emailNormalized: key.value } }) : db.user.findUnique({ where: { usernameNormalized: key.value } });
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
