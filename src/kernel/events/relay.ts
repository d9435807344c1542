/**
 * The relay: reads committed events in order (event-tail.ts: late commits
 * are waited for, never skipped) and hands them on:
 *
 * - to pub/sub, for GraphQL subscriptions, on the topic of the event's user
 *   and on its organization's (either or both). Every instance tails the log for
 *   its own position (subscribers replay up to it); with a shared pub/sub
 *   (Redis) only the lease holder publishes, so a message crosses once.
 * - to webhook fan-out, from a position persisted in SystemState so a
 *   restart resumes where the last holder stopped; only the lease holder fans
 *   out (and fan-out is idempotent, so a lease hand-over cannot double-send).
 * - retention: the lease holder deletes events older than retentionDays,
 *   never ones the webhook position has not passed.
 *
 * Wake-ups: in-process right after a commit (`committed()`), on PostgreSQL
 * also LISTEN/NOTIFY so other instances wake at once (direct event inserts
 * carry the NOTIFY themselves, notice()); otherwise a poll.
 *
 * Lag, for the metrics: how many committed events each stream has not handed
 * on yet, and how old the oldest of them is, read when scraped.
 */
import type pg from 'pg';
import type { DatabaseProvider } from '../../config.js';
import type { Db } from '../db/client.js';
import type { DirectSql } from '../db/direct.js';
import type { Logger } from '../logger.js';
import type { Clock } from '../clock.js';
import type { Metrics } from '../metrics.js';
import { createEventTail, eventBacklog, fetchEvents, maxEventSeq, type EventQuery, type EventTail } from './tail.js';
import { createLease, readStateNumber, writeStateNumber } from './lease.js';
import { organizationTopic, userTopic, type EventMessage, type EventPubSub, type RelayedEvent } from './pubsub.js';
import { createWakeLoop } from './wake-loop.js';

export const NOTIFY_CHANNEL = 'portcullis_events';
export const WEBHOOK_POSITION_KEY = 'relay.webhooks.position';
export const RELAY_LEASE_KEY = 'relay.lease';

export interface RelayDeps {
  db: Db;
  direct: DirectSql;
  provider: DatabaseProvider;
  /** PostgreSQL URL for the LISTEN connection. */
  databaseUrl: string;
  clock: Clock;
  logger: Logger;
  pubsub: EventPubSub;
  /**
   * Turns events into webhook deliveries (idempotent). `restarted` is true on
   * the first call after this instance (re)starts fanning out, when nothing it
   * remembers about webhook apps can be trusted.
   */
  fanOut: (events: RelayedEvent[], restarted: boolean) => Promise<unknown>;
  pollMs: number;
  retentionDays: number;
  /** Housekeeping that one instance does (the lease holder) on its ticks, e.g. ending expired locks. */
  leaderChores?: () => Promise<unknown>;
  /** LISTEN for other instances' commits on PostgreSQL (default true). */
  listen?: boolean;
  graceMs?: number;
  leaseTtlMs?: number;
  /** Registers the relay's lag gauges here. */
  metrics?: Metrics;
}

export type Relay = ReturnType<typeof createRelay>;

/** How many users' (and, apart, organizations') last seq the relay remembers for `prevSeq` (bounded memory). */
const LAST_SEQ_CAPACITY = 50_000;
const RETENTION_EVERY_MS = 3_600_000;
/** How long after a pub/sub connection change the relay keeps resyncing local subscribers. */
const RESYNC_FOR_MS = 5_000;
/**
 * The webhook position is written at most this often (and at a clean stop),
 * not after every batch: after a crash, fan-out repeats at most this much of
 * the log, and repeating is harmless because fan-out is idempotent.
 */
const POSITION_WRITE_EVERY_MS = 1_000;

/** The last seq published per topic key, for `prevSeq`; the least recently active keys are forgotten first. */
function lastSeqMemory() {
  const bySeq = new Map<string, number>();
  return {
    /** Remembers `seq` for `key` and returns the one it replaces (undefined: not known). */
    swap(key: string, seq: number): number | undefined {
      const prev = bySeq.get(key);
      // Map order is insertion order: re-inserting keeps recently active keys, evicting the oldest.
      bySeq.delete(key);
      bySeq.set(key, seq);
      if (bySeq.size > LAST_SEQ_CAPACITY) bySeq.delete(bySeq.keys().next().value as string);
      return prev;
    },
  };
}

export function createRelay(deps: RelayDeps) {
  const { db, provider, clock, logger, pubsub } = deps;
  const lease = createLease({ db, clock, key: RELAY_LEASE_KEY, ttlMs: deps.leaseTtlMs });
  const lastSeqByUser = lastSeqMemory();
  const lastSeqByOrganization = lastSeqMemory();
  let live: EventTail | undefined;
  let webhookTail: EventTail | undefined;
  let leader = false;
  let lastRetention = 0;
  let fanOutRestarted = true;
  // The two tails usually stand at the same place: within one pass the second
  // asks exactly what the first asked, and shares its answer. Never while a
  // tail awaits gaps: it judges them by a snapshot taken just before its own
  // read (event-tail.ts), which an earlier answer would not match.
  let passReads = new Map<string, Promise<RelayedEvent[]>>();
  const fetch = (query: EventQuery) => {
    if (query.gaps.length) return fetchEvents(deps.direct, query);
    const key = `${query.after}|${query.limit}`;
    let rows = passReads.get(key);
    if (!rows) passReads.set(key, (rows = fetchEvents(deps.direct, query)));
    return rows;
  };
  let positionWritten = { position: 0, at: 0 };
  const waiters: Array<{ seq: number; resolve: (position: number | undefined) => void }> = [];

  function settleWaiters() {
    const position = live?.position;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (!running || (position !== undefined && position >= waiters[i].seq)) {
        waiters[i].resolve(position);
        waiters.splice(i, 1);
      }
    }
  }

  /**
   * Hands events to subscribers: through the shared pub/sub by one instance
   * (the lease holder), or by every instance to its own subscribers while the
   * shared pub/sub is down or there is none.
   */
  function publish(events: RelayedEvent[], leading: boolean) {
    const local = !pubsub.connected;
    const send = (topic: string, message: EventMessage) => {
      if (local) pubsub.deliverLocal(topic, message);
      else if (!pubsub.shared || leading) pubsub.publish(topic, message);
    };
    for (const event of events) {
      // An event about a member is on both topics, each with its own prevSeq.
      if (event.userId) send(userTopic(event.userId), { seq: event.seq, prevSeq: lastSeqByUser.swap(event.userId, event.seq), event });
      if (event.organizationId) {
        send(organizationTopic(event.organizationId), { seq: event.seq, prevSeq: lastSeqByOrganization.swap(event.organizationId, event.seq), event });
      }
    }
  }

  /**
   * When the shared pub/sub goes down or comes back, messages in flight at
   * that moment may be lost. For a few passes after each change, every local
   * subscriber is told the relay's position, and reads from the log whatever
   * it has not seen up to there: nobody waits for a later event to close the gap.
   */
  let resyncUntil = 0;
  pubsub.onConnectionChange(() => {
    resyncUntil = Date.now() + RESYNC_FOR_MS;
    wake();
  });
  function resync() {
    const position = live?.position;
    if (position === undefined || Date.now() > resyncUntil) return;
    for (const topic of pubsub.localTopics()) pubsub.deliverLocal(topic, { seq: position });
  }

  async function writePosition(position: number) {
    const now = clock.now();
    await writeStateNumber(db, WEBHOOK_POSITION_KEY, position, now);
    positionWritten = { position, at: now.getTime() };
  }

  async function fanOutTick() {
    if (!webhookTail) {
      let position = await readStateNumber(db, WEBHOOK_POSITION_KEY);
      if (position === undefined) {
        // First start ever: webhooks begin with events from now on, not the whole history.
        position = await maxEventSeq(deps.direct);
        await writePosition(position);
      } else {
        positionWritten = { position, at: clock.now().getTime() };
      }
      webhookTail = createEventTail({ direct: deps.direct, provider, clock, position, graceMs: deps.graceMs, fetch });
      fanOutRestarted = true;
    }
    const events = await webhookTail.read();
    try {
      if (events.length) {
        await deps.fanOut(events, fanOutRestarted);
        fanOutRestarted = false;
      }
    } catch (error) {
      // Start over from the persisted position next time: fan-out is idempotent.
      webhookTail = undefined;
      throw error;
    }
    const position = webhookTail.position;
    if (position !== positionWritten.position && clock.now().getTime() - positionWritten.at >= POSITION_WRITE_EVERY_MS) await writePosition(position);
  }

  async function retentionTick() {
    const now = clock.now().getTime();
    if (deps.retentionDays <= 0 || !webhookTail || now - lastRetention < RETENTION_EVERY_MS) return;
    lastRetention = now;
    const { count } = await db.event.deleteMany({
      where: { occurredAt: { lt: new Date(now - deps.retentionDays * 86_400_000) }, seq: { lte: webhookTail.position } },
    });
    if (count) logger.info({ deleted: count, retentionDays: deps.retentionDays }, 'old events deleted');
  }

  /** One pass: read, publish, fan out. Exposed for tests. */
  async function tick() {
    const wasLeader = leader;
    leader = await lease.hold();
    // A new holder must not trust an old in-memory webhook position: another instance may have moved it.
    if (leader && !wasLeader) webhookTail = undefined;
    passReads = new Map();
    live ??= createEventTail({ direct: deps.direct, provider, clock, position: await maxEventSeq(deps.direct), graceMs: deps.graceMs, fetch });
    const events = await live.read();
    publish(events, leader);
    resync();
    settleWaiters();
    if (leader) {
      await fanOutTick();
      await retentionTick();
      await deps.leaderChores?.();
    }
  }

  // ---- lag, read when scraped ----
  type Stream = 'subscriptions' | 'webhooks';
  let backlogRead: { at: number; backlogs: Promise<Array<{ stream: Stream; pending: number; lagSeconds: number }>> } | undefined;
  /** Both streams' backlogs, read once for the two gauges of one scrape. */
  function backlogs() {
    if (backlogRead && Date.now() - backlogRead.at < 1_000) return backlogRead.backlogs;
    const read = async () => {
      // The subscriptions position is this instance's; the webhook position is the lease holder's,
      // in memory there and persisted (at most a second behind) for the others.
      const positions: Array<[Stream, number | undefined]> = [
        ['subscriptions', live?.position],
        ['webhooks', leader && webhookTail ? webhookTail.position : await readStateNumber(db, WEBHOOK_POSITION_KEY)],
      ];
      const now = clock.now().getTime();
      const result = [];
      for (const [stream, position] of positions) {
        if (position === undefined) continue;
        const { pending, oldest } = await eventBacklog(deps.direct, position);
        result.push({ stream, pending, lagSeconds: oldest ? Math.max(0, (now - oldest.getTime()) / 1000) : 0 });
      }
      return result;
    };
    backlogRead = { at: Date.now(), backlogs: read() };
    return backlogRead.backlogs;
  }
  deps.metrics?.gaugeFrom(
    'portcullis_event_relay_pending_events',
    "Committed events not yet handed on, by stream: subscriptions (this instance's pub/sub) and webhooks (fan-out to deliveries, one position for all instances).",
    ['stream'],
    async () => (await backlogs()).map((b) => ({ labels: { stream: b.stream }, value: b.pending })),
  );
  deps.metrics?.gaugeFrom(
    'portcullis_event_relay_lag_seconds',
    'How long ago the oldest event not yet handed on occurred, by stream; 0 when caught up.',
    ['stream'],
    async () => (await backlogs()).map((b) => ({ labels: { stream: b.stream }, value: b.lagSeconds })),
  );

  // ---- the loop and its wake-ups ----
  let running = false;
  let listener: pg.Client | undefined;
  let notifying = false;
  let notifyAgain = false;
  // With LISTEN/NOTIFY waking us, the poll is only a safety net.
  const loop = createWakeLoop(tick, { intervalMs: provider === 'postgresql' ? Math.max(deps.pollMs * 5, 1000) : deps.pollMs, logger, name: 'event relay' });
  const wake = loop.wake;

  /** Tells other instances (PostgreSQL) that events committed; coalesces bursts into few NOTIFYs. */
  function notifyOthers() {
    if (provider !== 'postgresql' || !running) return;
    if (notifying) {
      notifyAgain = true;
      return;
    }
    notifying = true;
    // Signed with our lease owner id, so our own listener can ignore it
    // (committed() already woke this instance).
    deps.direct
      .all('SELECT pg_notify(?, ?)', [NOTIFY_CHANNEL, lease.owner])
      .catch((error) => logger.warn({ err: error }, 'NOTIFY failed; other instances will poll'))
      .finally(() => {
        notifying = false;
        if (notifyAgain) {
          notifyAgain = false;
          notifyOthers();
        }
      });
  }

  async function listen() {
    if (provider !== 'postgresql' || !running || deps.listen === false) return;
    // Loaded here: only PostgreSQL has LISTEN, and an instance on SQLite never loads pg.
    const { default: pgDriver } = await import('pg');
    const client = new pgDriver.Client({ connectionString: deps.databaseUrl });
    client.on('notification', (message) => {
      if (message.payload !== lease.owner) wake();
    });
    client.on('error', (error) => {
      logger.warn({ err: error }, 'LISTEN connection lost; reconnecting');
      listener = undefined;
      client.end().catch(() => {});
      setTimeout(() => void listen().catch(() => {}), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      listener = client;
      if (!running) await client.end();
    } catch (error) {
      logger.warn({ err: error }, 'could not LISTEN; polling only');
      client.end().catch(() => {});
    }
  }

  return {
    tick,
    /** Every seq at or below this has been handed to pub/sub (or given up): subscribers replay up to it. */
    position(): number | undefined {
      return live?.position;
    },
    /** Resolves once the position is at least `seq` (at once when the relay is not running). */
    reach(seq: number): Promise<number | undefined> {
      const position = live?.position;
      if (!running || (position !== undefined && position >= seq)) return Promise.resolve(position);
      return new Promise((resolve) => {
        waiters.push({ seq, resolve });
        wake();
      });
    },
    /** Call after a transaction that recorded events commits; `notified`: its own insert sent the NOTIFY (notice()). */
    committed(committed: { notified?: boolean } = {}) {
      wake();
      if (!committed.notified) notifyOthers();
    },
    /**
     * The NOTIFY (channel and payload) that other instances wake on, for a
     * direct event insert to send at its own commit instead of a NOTIFY
     * round trip after it; null when none is sent (SQLite, not running).
     */
    notice(): readonly [channel: string, payload: string] | null {
      return provider === 'postgresql' && running ? [NOTIFY_CHANNEL, lease.owner] : null;
    },
    wake,
    get isLeader() {
      return leader;
    },
    async start() {
      if (running) return;
      running = true;
      await listen();
      // One pass before serving, so subscribers find a relay position at once.
      await tick().catch((error) => logger.error({ err: error }, 'first event relay pass failed'));
      loop.start();
    },
    async stop() {
      running = false;
      await loop.stop();
      settleWaiters();
      if (leader && webhookTail && webhookTail.position !== positionWritten.position) {
        await writePosition(webhookTail.position).catch((error) => logger.warn({ err: error }, 'could not save the webhook position'));
      }
      await listener?.end().catch(() => {});
      listener = undefined;
      await lease.release().catch(() => {});
    },
  };
}
