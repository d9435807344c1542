/**
 * The relay never skips an event that commits late, hands events on in seq
 * order, resumes webhook fan-out from its persisted position after a
 * restart, and lets only one of several instances fan out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/kernel/db/client.js';
import { newId } from '../src/kernel/ids.js';
import { createLogger } from '../src/kernel/logger.js';
import { createMemoryPubSub, type EventMessage } from '../src/kernel/events/pubsub.js';
import { createRelay, NOTIFY_CHANNEL, WEBHOOK_POSITION_KEY } from '../src/kernel/events/relay.js';
import { createOutbox, systemMeta } from '../src/kernel/events/outbox.js';
import { manualClock } from '../src/kernel/clock.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { testProvider } from './helpers/db.js';

let t: TestApp;
let db: Db;
const clock = manualClock(new Date());

function relayFor(options: { graceMs?: number; retentionDays?: number } = {}) {
  const pubsub = createMemoryPubSub();
  const published: EventMessage[] = [];
  const fanned: number[] = [];
  const relay = createRelay({
    db,
    direct: t.app.database.direct,
    provider: testProvider,
    databaseUrl: t.db.url,
    clock,
    logger: createLogger('silent'),
    pubsub: { ...pubsub, publish: (_topic, m) => published.push(m) },
    fanOut: async (events) => fanned.push(...events.map((e) => e.seq)),
    pollMs: 50,
    retentionDays: options.retentionDays ?? 0,
    graceMs: options.graceMs ?? 60_000,
  });
  return { relay, published, fanned };
}

const eventData = (seq: number | undefined, userId = 'usr_relay') => ({
  ...(seq === undefined ? {} : { seq }),
  id: newId('UserEvent'),
  type: 'user.updated',
  userId,
  data: {},
  occurredAt: clock.now(),
});

async function maxSeq() {
  return (await db.event.aggregate({ _max: { seq: true } }))._max.seq ?? 0;
}

/** After inserting explicit seqs, move PostgreSQL's sequence past them (SQLite's AUTOINCREMENT follows by itself). */
async function syncSequence() {
  if (testProvider === 'postgresql') await db.$executeRawUnsafe(`SELECT setval(pg_get_serial_sequence('"Event"', 'seq'), (SELECT max(seq) FROM "Event"))`);
}

beforeAll(async () => {
  t = await createTestApp({ clock });
  db = t.app.database.client;
});

afterAll(async () => {
  await t?.close();
});

describe('ordering and gaps', () => {
  it('holds back events above a missing seq until it commits, then hands both on in order', async () => {
    const { relay, published, fanned } = relayFor();
    await relay.tick();
    const base = await maxSeq();
    // seq base+2 becomes visible while base+1 is still "in flight".
    await db.event.create({ data: eventData(base + 2) });
    await relay.tick();
    expect(published).toHaveLength(0);
    expect(relay.position()).toBe(base);
    await db.event.create({ data: eventData(base + 1) });
    await syncSequence();
    await relay.tick();
    expect(published.map((m) => m.seq)).toEqual([base + 1, base + 2]);
    expect(fanned).toEqual([base + 1, base + 2]);
    // prevSeq chains the user's events, so subscribers can trust a message without re-reading.
    expect(published[1].prevSeq).toBe(base + 1);
    expect(relay.position()).toBe(base + 2);
    await relay.stop();
  });

  it('gives a gap up after the grace period (a rolled-back insert never fills it)', async () => {
    const { relay, published } = relayFor({ graceMs: 5_000 });
    await relay.tick();
    const base = await maxSeq();
    await db.event.create({ data: eventData(base + 2) });
    await syncSequence();
    await relay.tick();
    expect(published).toHaveLength(0);
    clock.advance(5_001);
    await relay.tick();
    expect(published.map((m) => m.seq)).toEqual([base + 2]);
    await relay.stop();
  });

  // A real late commit needs two writers at once. SQLite has one writer at a
  // time (a second transaction waits for the first to commit), so commits are
  // in seq order there and this race cannot happen; it is PostgreSQL's.
  it.runIf(testProvider === 'postgresql')('PostgreSQL: never skips an event whose transaction commits after a later one', async () => {
    const { relay, published } = relayFor();
    await relay.tick();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const insertedEarly = new Promise<void>((r) => (inserted = r));
    const slow = db.$transaction(
      async (tx) => {
        await tx.event.create({ data: eventData(undefined, 'usr_slow') });
        inserted();
        await held;
      },
      { timeout: 20_000 },
    );
    await insertedEarly;
    const fast = await db.event.create({ data: eventData(undefined, 'usr_fast') });
    await relay.tick();
    expect(published).toHaveLength(0); // the fast event waits behind the open transaction's seq
    await relay.tick();
    expect(published).toHaveLength(0);
    release();
    await slow;
    await relay.tick();
    expect(published.map((m) => m.event!.userId)).toEqual(['usr_slow', 'usr_fast']);
    expect(published[1].seq).toBe(fast.seq);
    expect(published[0].seq).toBe(fast.seq - 1);
    await relay.stop();
  });

  it.runIf(testProvider === 'postgresql')('PostgreSQL: gives up the gap of a rolled-back transaction once no transaction can fill it, without waiting out the grace', { timeout: 60_000 }, async () => {
    const { relay, published } = relayFor({ graceMs: 3_600_000 });
    await relay.tick();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const insertedEarly = new Promise<void>((r) => (inserted = r));
    const doomed = db
      .$transaction(
        async (tx) => {
          await tx.event.create({ data: eventData(undefined, 'usr_doomed') });
          inserted();
          await held;
          throw new Error('roll back');
        },
        { timeout: 20_000 },
      )
      .catch(() => 'rolled back');
    await insertedEarly;
    await db.event.create({ data: eventData(undefined, 'usr_after') });
    await relay.tick();
    try {
      expect(published).toHaveLength(0);
      release();
      expect(await doomed).toBe('rolled back');
      // The snapshot's xmin is the whole server's: a transaction of another test's database running now holds the
      // gap a little longer. Given up within seconds either way, against a grace of an hour.
      for (let i = 0; i < 300 && published.length === 0; i++) {
        await relay.tick();
        if (published.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(published.map((m) => m.event!.userId)).toEqual(['usr_after']);
    } finally {
      release();
      await relay.stop();
    }
  });
});

describe('webhook position and lease', () => {
  it('resumes fan-out from the persisted position after a restart, without repeating or skipping', async () => {
    const first = relayFor();
    await first.relay.tick();
    await db.event.create({ data: eventData(undefined) });
    await first.relay.tick();
    expect(first.fanned).toHaveLength(1);
    await first.relay.stop(); // releases the lease
    const saved = Number((await db.systemState.findUniqueOrThrow({ where: { key: WEBHOOK_POSITION_KEY } })).value);
    expect(saved).toBe(await maxSeq());
    // Written while no relay runs.
    const missed = await db.event.create({ data: eventData(undefined) });
    const second = relayFor();
    await second.relay.tick();
    expect(second.fanned).toEqual([missed.seq]);
    await second.relay.stop();
  });

  it('lets one instance at a time fan out; the other takes over when the holder stops', async () => {
    const a = relayFor();
    const b = relayFor();
    await a.relay.tick();
    await b.relay.tick();
    expect(a.relay.isLeader).toBe(true);
    expect(b.relay.isLeader).toBe(false);
    const e = await db.event.create({ data: eventData(undefined) });
    await a.relay.tick();
    await b.relay.tick();
    expect(a.fanned).toEqual([e.seq]);
    expect(b.fanned).toEqual([]);
    // Both publish to their own (in-process) subscribers.
    expect(a.published.at(-1)?.seq).toBe(e.seq);
    expect(b.published.at(-1)?.seq).toBe(e.seq);
    await a.relay.stop();
    const e2 = await db.event.create({ data: eventData(undefined) });
    await b.relay.tick();
    expect(b.relay.isLeader).toBe(true);
    expect(b.fanned).toEqual([e2.seq]);
    await b.relay.stop();
  });
});

describe.runIf(testProvider === 'postgresql')('waking other instances (PostgreSQL)', () => {
  it('sends one NOTIFY per commit: with a direct event insert, or after it for other commits, and none for a write that did not happen', async () => {
    const { relay } = relayFor();
    expect(relay.notice()).toBeNull();
    await relay.start();
    const owner = relay.notice()![1];
    const { default: pg } = await import('pg');
    const listener = new pg.Client({ connectionString: t.db.url });
    const heard: string[] = [];
    listener.on('notification', (m) => heard.push(m.payload ?? ''));
    await listener.connect();
    await listener.query(`LISTEN ${NOTIFY_CHANNEL}`);
    const direct = t.app.database.direct;
    const outbox = createOutbox({ db, direct, now: () => clock.now(), notice: () => relay.notice(), onCommitted: (c) => relay.committed(c) });
    const settle = async (count: number) => {
      for (let i = 0; i < 100 && heard.length < count; i++) await new Promise((r) => setTimeout(r, 20));
      // Long enough for a NOTIFY that should not come to arrive.
      await new Promise((r) => setTimeout(r, 200));
    };
    try {
      // The insert carries the NOTIFY: no second one after the commit.
      await outbox.append({ type: 'user.updated', userId: 'usr_notify', data: {} }, systemMeta);
      await settle(1);
      expect(heard).toEqual([owner]);
      // A conditional write that changed nothing writes nothing and wakes nobody.
      const event = outbox.statement({ type: 'user.updated', userId: 'usr_notify', data: {} }, systemMeta);
      expect(event.notified).toBe(true);
      const none = { sql: 'UPDATE "User" SET "givenName" = ? WHERE "id" = ? RETURNING "id"', params: ['x', 'usr_nobody'] };
      expect(await direct.allIfChanged(none, [event])).toEqual([]);
      await settle(2);
      expect(heard).toEqual([owner]);
      // A commit without a direct insert (a Prisma transaction) is followed by a NOTIFY of its own.
      await outbox.transaction((tx) => outbox.record(tx, { type: 'user.updated', userId: 'usr_notify', data: {} }, systemMeta));
      await settle(2);
      expect(heard).toEqual([owner, owner]);
    } finally {
      await listener.end();
      await relay.stop();
    }
    expect(relay.notice()).toBeNull();
  });
});

describe('retention', () => {
  it('deletes events older than retentionDays once webhooks have passed them, and keeps the rest', async () => {
    const { relay } = relayFor({ retentionDays: 30 });
    const old = await db.event.create({ data: { ...eventData(undefined), occurredAt: new Date(clock.now().getTime() - 31 * 86_400_000) } });
    const recent = await db.event.create({ data: { ...eventData(undefined), occurredAt: new Date(clock.now().getTime() - 29 * 86_400_000) } });
    await relay.tick();
    expect(await db.event.findUnique({ where: { id: old.id } })).toBeNull();
    expect(await db.event.findUnique({ where: { id: recent.id } })).not.toBeNull();
    await relay.stop();
  });
});
