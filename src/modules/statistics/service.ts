/**
 * User statistics, after Logto's dashboard (new, daily/weekly/monthly active
 * users from one row per user per active day): how many users there are,
 * how many were created, and how many were active, per UTC day.
 *
 * Active means signed in or refreshed a session. The sessions service reports
 * both through `recordActivity` (services.ts), which writes the user's day
 * once: a bounded memo skips the database for a user already recorded today
 * by this instance, and the insert is idempotent across instances. The users
 * service counts creations and deletions in their own transactions
 * (`countUserCreated`, `countUserDeleted`).
 *
 * Deleted users: their activity rows go with them, but the tallies are
 * history. A deleted user still counts as created on its day and as active on
 * the days it was; `total` and `deleted` say how many are gone.
 */
import type { DatabaseProvider } from '../../config.js';
import type { Tx } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
import type { Clock } from '../../kernel/clock.js';
import { InvalidInputError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { createStatisticsStore, TALLY_SLOTS } from './store.js';

const DAY_MS = 86_400_000;
/** The longest range userStats answers, in days. */
export const MAX_RANGE_DAYS = 366;
/** The range userStats answers by default: this many days up to and including today. */
export const DEFAULT_RANGE_DAYS = 30;
/** Users whose active day this instance remembers (a few MB at most); beyond, the oldest are forgotten and cost one idempotent insert. */
export const ACTIVITY_MEMO_SIZE = 20_000;

/** The UTC day of an instant, as days since 1970-01-01. */
export const dayOf = (at: Date) => Math.floor(at.getTime() / DAY_MS);
/** Midnight UTC starting a day. */
export const dateOfDay = (day: number) => new Date(day * DAY_MS);

export interface UserStatsDay {
  /** Midnight UTC starting the day. */
  date: Date;
  created: number;
  deleted: number;
  active: number;
}

export interface UserStats {
  /** The first day of the range. */
  from: Date;
  /** The day after the range. */
  to: Date;
  /** Users at the end of the range (created before `to`, less those deleted before it). */
  total: number;
  created: number;
  deleted: number;
  /** Distinct users active in the last 1, 7 and 30 days of the range. */
  active: { daily: number; weekly: number; monthly: number };
  byDay: UserStatsDay[];
}

export type StatisticsService = ReturnType<typeof createStatisticsService>;

export function createStatisticsService(deps: { direct: DirectSql; provider: DatabaseProvider; clock: Clock; logger: Logger; memoSize?: number }) {
  const { clock, logger } = deps;
  const store = createStatisticsStore(deps);
  const memoSize = deps.memoSize ?? ACTIVITY_MEMO_SIZE;
  /** userId → the last day this instance recorded for it; a Map keeps insertion order, so the first key is the oldest. */
  const recorded = new Map<string, number>();
  let nextSlot = 0;
  const slot = () => (nextSlot = (nextSlot + 1) % TALLY_SLOTS);

  function remember(userId: string, day: number) {
    recorded.delete(userId);
    if (recorded.size >= memoSize) recorded.delete(recorded.keys().next().value as string);
    recorded.set(userId, day);
  }

  /** The day of a range end; the Date scalar gives midnight UTC, a service caller may give any instant of the day. */
  function dayArg(field: string, value: Date): number {
    const day = dayOf(value);
    if (!Number.isFinite(day)) throw new InvalidInputError(field, `${field} is not a valid date.`);
    return day;
  }

  return {
    /**
     * Counts the user active on the UTC day of `at` (a sign-in or a refresh).
     * At most one database write per user per day per instance; never
     * throws: statistics must not fail a sign-in, so a failed write is
     * logged and retried at the user's next activity.
     */
    async recordActivity(userId: string, at: Date): Promise<void> {
      const day = dayOf(at);
      if (recorded.get(userId) === day) return;
      try {
        await store.recordActiveDay(userId, day, at, slot());
        remember(userId, day);
      } catch (error) {
        // A user deleted meanwhile fails the foreign key: nothing to count.
        logger.warn({ err: error, userId }, 'statistics: could not record an active day');
      }
    },

    /** Counts a user created now, inside the transaction that creates it (the users service's onUserCreated). */
    countUserCreated(tx: Tx): Promise<void> {
      return store.countUserCreated(tx, dayOf(clock.now()), slot());
    },

    /** Counts a user deleted now, inside the transaction that deletes it (the users service's onUserDeleted). */
    countUserDeleted(tx: Tx): Promise<void> {
      return store.countUserDeleted(tx, dayOf(clock.now()), slot());
    },

    /**
     * The statistics of the UTC days from `from` (inclusive) to `to`
     * (exclusive). Default `to`: tomorrow, so the range ends with today;
     * default `from`: DEFAULT_RANGE_DAYS days before `to`. Throws
     * InvalidInputError when `to` is not after `from` or the range is longer
     * than MAX_RANGE_DAYS days. Reads only tallies: a few hundred small rows
     * whatever the number of users.
     */
    async userStats(range: { from?: Date | null; to?: Date | null } = {}): Promise<UserStats> {
      const to = range.to ? dayArg('to', range.to) : dayOf(clock.now()) + 1;
      const from = range.from ? dayArg('from', range.from) : to - DEFAULT_RANGE_DAYS;
      if (to <= from) {
        throw new InvalidInputError('to', `to (${dateOfDay(to).toISOString().slice(0, 10)}) must be after from (${dateOfDay(from).toISOString().slice(0, 10)}): from is inclusive, to exclusive.`);
      }
      if (to - from > MAX_RANGE_DAYS) throw new InvalidInputError('from', `The range is ${to - from} days long; at most ${MAX_RANGE_DAYS} are answered at once.`);
      const since30 = to - 30;
      const since7 = to - 7;
      const tallies = await store.readTallies({ lo: Math.min(from, since30), from, to, since30, since7 });

      const activeOn = new Map(tallies.activity.map((r) => [r.day, r]));
      const usersOn = new Map(tallies.users.map((r) => [r.day, r]));
      const byDay: UserStatsDay[] = [];
      let created = 0;
      let deleted = 0;
      for (let day = from; day < to; day++) {
        const users = usersOn.get(day);
        created += users?.created ?? 0;
        deleted += users?.deleted ?? 0;
        byDay.push({ date: dateOfDay(day), created: users?.created ?? 0, deleted: users?.deleted ?? 0, active: activeOn.get(day)?.active ?? 0 });
      }
      let weekly = 0;
      let monthly = 0;
      for (const r of tallies.activity) {
        if (r.day >= since30) monthly += r.firstSince30;
        if (r.day >= since7) weekly += r.firstSince7;
      }
      return {
        from: dateOfDay(from),
        to: dateOfDay(to),
        total: tallies.total,
        created,
        deleted,
        active: { daily: activeOn.get(to - 1)?.active ?? 0, weekly, monthly },
        byDay,
      };
    },
  };
}
