/**
 * An ordered reader of the committed event log that never skips an event
 * committing late.
 *
 * `seq` is assigned when a row is inserted, not when its transaction commits,
 * so on PostgreSQL seq 8 can become visible while seq 7 is still in an open
 * transaction. The tail remembers every missing seq below the highest it has
 * read (a gap), re-reads gaps on every read, and releases events strictly in
 * seq order: an event is released only when every smaller seq has been
 * released or given up. A gap is given up when no transaction that could
 * still fill it is running (PostgreSQL: the oldest running transaction is
 * newer than every transaction that was running when the gap was seen), or
 * after `graceMs` at the latest (a rolled-back insert leaves a permanent gap).
 * On SQLite one writer at a time commits in seq order, so gaps do not form
 * from concurrency; the same logic still covers them.
 */
import type { DatabaseProvider } from '../../config.js';
import type { Db } from '../db/client.js';
import type { DirectReads, DirectSql } from '../db/direct.js';
import { EVENT_ROW } from '../db/rows.js';
import type { Clock } from '../clock.js';
import type { RelayedEvent } from './pubsub.js';

export interface EventTailOptions {
  /** For PostgreSQL's snapshot reads, made on every read while gaps are awaited: straight to the driver, prepared once. */
  direct: DirectReads;
  provider: DatabaseProvider;
  clock: Clock;
  /** Everything at or below this seq counts as handled. */
  position: number;
  /** Longest wait for a missing seq (default 60 s). */
  graceMs?: number;
  batchSize?: number;
  /** Most gaps remembered; a larger jump is treated as given up (bounded memory). */
  maxGaps?: number;
  /** Reads a batch (usually fetchEvents; the relay shares one read between its tails). */
  fetch: (query: EventQuery) => Promise<RelayedEvent[]>;
}

/** Events after `after` plus the awaited `gaps`, in seq order, at most `limit`. */
export interface EventQuery {
  after: number;
  gaps: number[];
  limit: number;
}

/** Reads a batch straight from the driver: the relay reads after every commit. */
export function fetchEvents(direct: DirectSql, query: EventQuery): Promise<RelayedEvent[]> {
  const awaited = query.gaps.length ? ` OR "seq" IN (${query.gaps.map(() => '?').join(', ')})` : '';
  return direct.all<RelayedEvent>(
    `SELECT * FROM "Event" WHERE "seq" > ?${awaited} ORDER BY "seq" ASC LIMIT ?`,
    [query.after, ...query.gaps, query.limit],
    EVENT_ROW,
  );
}

/** How many events come after `after`, and when the oldest of them occurred (null when none). */
export async function eventBacklog(direct: DirectSql, after: number): Promise<{ pending: number; oldest: Date | null }> {
  const [row] = await direct.all<{ pending: number | string; oldest: Date | null }>(
    'SELECT COUNT(*) AS "pending", MIN("occurredAt") AS "oldest" FROM "Event" WHERE "seq" > ?',
    [after],
    { dates: ['oldest'] },
  );
  // PostgreSQL's COUNT is a bigint, which the driver returns as a string.
  return { pending: Number(row?.pending ?? 0), oldest: row?.oldest ?? null };
}

interface Gap {
  seenAt: number;
  /** Which read first saw it. */
  read: number;
  /** PostgreSQL: the first transaction id not yet started when the gap was seen. */
  horizon?: bigint;
}

export type EventTail = ReturnType<typeof createEventTail>;

/**
 * The highest seq in the log (0 when empty). Straight to the driver: every
 * subscription asks it once as it starts, and a thousand clients
 * reconnecting to a restarted instance each paid Prisma's compilation.
 */
export async function maxEventSeq(direct: DirectReads): Promise<number> {
  const [row] = await direct.all<{ seq: number | null }>('SELECT max("seq") AS "seq" FROM "Event"', []);
  return row?.seq ?? 0;
}

/** The oldest transaction still running and the first not yet started, as text (xid8 does not fit a JS number). */
const PG_SNAPSHOT_SQL = 'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS "xmin", pg_snapshot_xmax(pg_current_snapshot())::text AS "xmax"';

export function createEventTail(options: EventTailOptions) {
  const { direct, provider, clock } = options;
  const graceMs = options.graceMs ?? 60_000;
  const batchSize = options.batchSize ?? 500;
  const maxGaps = options.maxGaps ?? 10_000;
  let position = options.position;
  let high = options.position;
  const gaps = new Map<number, Gap>();
  const pending = new Map<number, RelayedEvent>();

  async function snapshot(): Promise<{ xmin: bigint; xmax: bigint } | undefined> {
    if (provider !== 'postgresql') return undefined;
    const rows = await direct.all<{ xmin: string; xmax: string }>(PG_SNAPSHOT_SQL, []);
    return { xmin: BigInt(rows[0].xmin), xmax: BigInt(rows[0].xmax) };
  }

  const fetchBatch = () => options.fetch({ after: high, gaps: [...gaps.keys()], limit: batchSize });

  let reads = 0;

  /** Reads what committed since the last call; returns events now safe to hand on, in seq order. */
  async function read(): Promise<RelayedEvent[]> {
    reads++;
    // Taken BEFORE the fetch: a transaction that ended before it is visible to the fetch.
    const before = gaps.size > 0 ? await snapshot() : undefined;
    const now = clock.now().getTime();
    const fresh: number[] = [];
    for (;;) {
      const rows = await fetchBatch();
      for (const row of rows) {
        if (gaps.delete(row.seq)) {
          pending.set(row.seq, row);
          continue;
        }
        if (row.seq <= high) continue;
        const missing = row.seq - high - 1;
        if (missing > 0 && missing <= maxGaps - gaps.size - fresh.length) {
          for (let s = high + 1; s < row.seq; s++) fresh.push(s);
        }
        high = row.seq;
        pending.set(row.seq, row);
      }
      if (rows.length < batchSize) break;
    }
    // Give up gaps no transaction can fill any more, or that waited out the grace period.
    for (const [seq, gap] of gaps) {
      const ended = before !== undefined && gap.horizon !== undefined && gap.read < reads && before.xmin >= gap.horizon;
      if (ended || now - gap.seenAt >= graceMs) gaps.delete(seq);
    }
    if (fresh.length) {
      // Taken AFTER the fetch: the transaction holding a missing seq had started by then.
      const after = await snapshot();
      for (const s of fresh) gaps.set(s, { seenAt: now, read: reads, horizon: after?.xmax });
    }
    const released: RelayedEvent[] = [];
    while (position < high) {
      const next = position + 1;
      const event = pending.get(next);
      if (event) {
        pending.delete(next);
        released.push(event);
      } else if (gaps.has(next)) {
        break;
      }
      position = next;
    }
    return released;
  }

  return {
    read,
    /** All seqs at or below this are released or given up. */
    get position() {
      return position;
    },
  };
}
