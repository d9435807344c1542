/**
 * The statistics module's SQL: the days on which users were active, and the
 * tallies userStats reads.
 *
 * Why tallies rather than counting rows: at a million users with 30,000
 * active a day, `COUNT(*)` of the users takes ~70 ms on PostgreSQL, counting
 * the active users of each of 30 days ~170 ms, and the distinct users of 30
 * days (~370,000 rows) ~500 ms on either database. So every first activity
 * of a user on a day, and every user created or deleted, also adds 1 to a
 * small row of counts, and userStats sums a few hundred of those.
 *
 * Distinct users of a window of days without scanning them: each active day
 * stores its `gap`, the days since the user's previous active day (GAP_NONE
 * for GAP_NONE or more, or none). In a window [a, b) a user's first active day
 * d has gap > d - a and every later one has gap <= d - a, so the distinct
 * users of the window are the sum, over its days d, of the users with
 * gap > d - a; the tallies keep these counts per day and gap.
 *
 * Counts are spread over TALLY_SLOTS rows per day, so concurrent first
 * sign-ins on PostgreSQL do not all wait for one row's lock.
 */
import type { DatabaseProvider } from '../../config.js';
import type { Tx } from '../../kernel/db/client.js';
import type { DirectSql, Statement } from '../../kernel/db/direct.js';

/** Rows per day (and gap) that share a day's counts. */
export const TALLY_SLOTS = 8;
/** The gap of a first active day ever, or of one after GAP_NONE days or more (windows are at most 30 days). */
export const GAP_NONE = 31;

/** The gap of `day` after the user's previous active day (the subquery reads it by the (userId, day) key). Parameters: day, day, userId, day. */
const GAP_SQL = `(SELECT CASE WHEN MAX("day") IS NULL OR ? - MAX("day") > ${GAP_NONE} THEN ${GAP_NONE} ELSE ? - MAX("day") END
                  FROM "UserActivity" WHERE "userId" = ? AND "day" < ?)`;

/**
 * A user's active day, once: the row, then (only when it is new) the
 * user's lastActiveAt and the day's tally for its gap. Two instances
 * recording the same day race on the (userId, day) key and one of them
 * counts it. On SQLite three statements in one transaction (the driver runs
 * them synchronously); on PostgreSQL one statement whose data-modifying WITH
 * clauses run once each, so the write costs one round trip and one commit.
 */
export function activeDayStatements(userId: string, day: number, at: Date, slot: number): { first: Statement; then: Statement[] } {
  return {
    first: {
      sql: `INSERT INTO "UserActivity" ("userId", "day", "gap") VALUES (?, ?, ${GAP_SQL}) ON CONFLICT DO NOTHING`,
      params: [userId, day, day, day, userId, day],
    },
    then: [
      {
        sql: `UPDATE "User" SET "lastActiveAt" = ? WHERE "id" = ? AND ("lastActiveAt" IS NULL OR "lastActiveAt" < ?)`,
        params: [at, userId, at],
      },
      // Last in the transaction: the tally row's lock is held for the shortest time.
      {
        sql: `INSERT INTO "UserActivityTally" ("day", "gap", "slot", "users")
              SELECT "day", "gap", ?, 1 FROM "UserActivity" WHERE "userId" = ? AND "day" = ?
              ON CONFLICT ("day", "gap", "slot") DO UPDATE SET "users" = "UserActivityTally"."users" + 1`,
        params: [slot, userId, day],
      },
    ],
  };
}

/** The same as one PostgreSQL statement, returning a row when the day was new. */
export function activeDayStatement(userId: string, day: number, at: Date, slot: number): Statement {
  return {
    sql: `WITH "added" AS (
            INSERT INTO "UserActivity" ("userId", "day", "gap") VALUES (?, CAST(? AS INTEGER), ${GAP_SQL})
            ON CONFLICT DO NOTHING RETURNING "userId", "day", "gap"
          ), "seen" AS (
            UPDATE "User" SET "lastActiveAt" = CAST(? AS TIMESTAMP(3))
             WHERE "id" IN (SELECT "userId" FROM "added") AND ("lastActiveAt" IS NULL OR "lastActiveAt" < CAST(? AS TIMESTAMP(3)))
          )
          INSERT INTO "UserActivityTally" ("day", "gap", "slot", "users")
          SELECT "day", "gap", CAST(? AS INTEGER), 1 FROM "added"
          ON CONFLICT ("day", "gap", "slot") DO UPDATE SET "users" = "UserActivityTally"."users" + 1
          RETURNING "day"`,
    params: [userId, day, day, day, userId, day, at, at, slot],
  };
}

/**
 * Per day in [lo, to): the active users, and those whose gap reaches back
 * before day `since30` (resp. `since7`): summed over the days of a window
 * starting there, the window's distinct users. Parameters: since30, since7, lo, to.
 */
export const ACTIVITY_BY_DAY_SQL = `SELECT "day",
       CAST(SUM("users") AS INTEGER) AS "active",
       CAST(SUM(CASE WHEN "gap" > "day" - ? THEN "users" ELSE 0 END) AS INTEGER) AS "firstSince30",
       CAST(SUM(CASE WHEN "gap" > "day" - ? THEN "users" ELSE 0 END) AS INTEGER) AS "firstSince7"
  FROM "UserActivityTally"
 WHERE "day" >= ? AND "day" < ?
 GROUP BY "day"`;

/** Users created and deleted per day in [from, to). Parameters: from, to. */
export const USERS_BY_DAY_SQL = `SELECT "day", CAST(SUM("created") AS INTEGER) AS "created", CAST(SUM("deleted") AS INTEGER) AS "deleted"
  FROM "UserTally"
 WHERE "day" >= ? AND "day" < ?
 GROUP BY "day"`;

/** The users there were at the start of day `to`. Parameter: to. */
export const TOTAL_USERS_SQL = `SELECT CAST(COALESCE(SUM("created" - "deleted"), 0) AS INTEGER) AS "total" FROM "UserTally" WHERE "day" < ?`;

export interface ActivityDayRow {
  day: number;
  active: number;
  firstSince30: number;
  firstSince7: number;
}
export interface UsersDayRow {
  day: number;
  created: number;
  deleted: number;
}

export type StatisticsStore = ReturnType<typeof createStatisticsStore>;

export function createStatisticsStore(deps: { direct: DirectSql; provider: DatabaseProvider }) {
  const { direct, provider } = deps;

  return {
    /**
     * Records that a user was active on `day` (first activity at `at`); true
     * when this call recorded it, false when the day was recorded already.
     */
    async recordActiveDay(userId: string, day: number, at: Date, slot: number): Promise<boolean> {
      if (provider === 'postgresql') {
        const { sql, params } = activeDayStatement(userId, day, at, slot);
        return (await direct.all(sql, params)).length > 0;
      }
      const { first, then } = activeDayStatements(userId, day, at, slot);
      return direct.runIfChanged(first, then);
    },

    /** Counts a user created on `day`, in the transaction that creates it. */
    async countUserCreated(tx: Tx, day: number, slot: number): Promise<void> {
      await tx.$executeRaw`INSERT INTO "UserTally" ("day", "slot", "created") VALUES (${day}, ${slot}, 1)
        ON CONFLICT ("day", "slot") DO UPDATE SET "created" = "UserTally"."created" + 1`;
    },

    /** Counts a user deleted on `day`, in the transaction that deletes it. */
    async countUserDeleted(tx: Tx, day: number, slot: number): Promise<void> {
      await tx.$executeRaw`INSERT INTO "UserTally" ("day", "slot", "deleted") VALUES (${day}, ${slot}, 1)
        ON CONFLICT ("day", "slot") DO UPDATE SET "deleted" = "UserTally"."deleted" + 1`;
    },

    /**
     * The tallies of days [from, to), with activity from day `lo` (the start
     * of the longest window, when it starts before `from`) and the users at
     * the start of `to`. Three small index range reads.
     */
    async readTallies(range: { lo: number; from: number; to: number; since30: number; since7: number }) {
      const { lo, from, to, since30, since7 } = range;
      const [activity, users, [totals]] = await Promise.all([
        direct.all<ActivityDayRow>(ACTIVITY_BY_DAY_SQL, [since30, since7, lo, to]),
        direct.all<UsersDayRow>(USERS_BY_DAY_SQL, [from, to]),
        direct.all<{ total: number }>(TOTAL_USERS_SQL, [to]),
      ]);
      return { activity, users, total: totals?.total ?? 0 };
    },
  };
}
