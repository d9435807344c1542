/**
 * Redis carries subscription events between instances, and its loss costs
 * nothing: each case runs against a Redis server of its own that the test
 * kills and starts again.
 *
 * - While Redis is down, every instance delivers events to its own
 *   subscribers from its own read of the log; when it returns, nothing is
 *   missing or repeated, and no subscriber waits for a later event.
 * - With two instances on PostgreSQL, an event made on A reaches a subscriber
 *   on B through Redis within a bound far below B's own polling, with B's
 *   other wake-up (LISTEN) turned off: the Redis path itself is what is
 *   shown, for a user's stream and for an organization's. The fallback,
 *   with Redis dead, is shown separately.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemMeta } from '../../src/kernel/events/outbox.js';
import { organizationTopic } from '../../src/kernel/events/pubsub.js';
import { newId } from '../../src/kernel/ids.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from '../helpers/app.js';
import { testProvider } from '../helpers/db.js';
import { testRedis, type TestRedis } from '../helpers/redis-server.js';
import { collect, newestEventId, subscribed, wsClient, type Collector } from './event-clients.js';

const USER_EVENTS = `subscription($userId: ID!, $after: ID) { userEvents(userId: $userId, types: [USER_UPDATED], after: $after) { id type data } }`;
const ORGANIZATION_EVENTS = `subscription($organizationId: ID!, $after: ID) { organizationEvents(organizationId: $organizationId, after: $after) { id type } }`;
const WAIT = { timeout: 10_000, interval: 20 };

let redis: TestRedis;
const opened: TestApp[] = [];
beforeAll(async () => {
  redis = await testRedis();
});
afterAll(async () => {
  for (const t of opened) await t.close();
  await redis?.stop();
});

async function gateway(options: Parameters<typeof createTestApp>[0] = {}) {
  const t = await createTestApp({ ...options, env: { REDIS_URL: redis.url, PORTCULLIS_RELAY_POLL_MS: '50', ...options.env } });
  opened.push(t);
  const { url } = await t.app.start();
  await vi.waitFor(() => expect(t.app.events.pubsub.connected).toBe(true), WAIT);
  return { t, url };
}

async function rename(t: TestApp, userId: string, displayName: string) {
  await t.app.services.users.updateUser(userId, { displayName }, systemMeta);
}

const names = (c: Collector) => c.items.map((i) => (i.data?.userEvents?.data as { user?: { displayName?: string } }).user?.displayName);

describe('a Redis outage on one instance', () => {
  it('keeps delivering from the log while Redis is down, and misses or repeats nothing across the outage', async () => {
    const { t, url } = await gateway();
    const user = await t.app.services.users.createUser({ email: 'outage@example.com' }, systemMeta);
    const client = wsClient(url, BOOTSTRAP_KEY);
    const stream = collect(client, USER_EVENTS, { userId: user.id, after: await newestEventId(t.app, user.id) });
    await subscribed(t.app, user.id);
    await rename(t, user.id, 'before');
    await stream.waitFor(1);

    await redis.stop();
    await vi.waitFor(() => expect(t.app.events.pubsub.connected).toBe(false), WAIT);
    // Past the few seconds in which the relay resyncs subscribers after a change: what arrives now is the fallback's doing.
    await new Promise((r) => setTimeout(r, 6_000));
    for (const name of ['down 1', 'down 2', 'down 3']) await rename(t, user.id, name);
    // Delivered during the outage, not after it.
    await stream.waitFor(4);

    await redis.start();
    await vi.waitFor(() => expect(t.app.events.pubsub.connected).toBe(true), WAIT);
    await rename(t, user.id, 'after');
    await stream.waitFor(5);
    await new Promise((r) => setTimeout(r, 300));
    expect(names(stream)).toEqual(['before', 'down 1', 'down 2', 'down 3', 'after']);
    expect(stream.ended).toBeUndefined();
    await client.dispose();
  });
});

describe.runIf(testProvider === 'postgresql')('two instances on one PostgreSQL database', () => {
  let a: Awaited<ReturnType<typeof gateway>>;
  let b: Awaited<ReturnType<typeof gateway>>;
  beforeAll(async () => {
    a = await gateway();
    // B polls the log only every 5 minutes and does not LISTEN: it learns of A's events through Redis, or not soon.
    b = await gateway({ database: a.t.db, listenForCommits: false, env: { PORTCULLIS_RELAY_POLL_MS: '60000' } });
    expect(a.t.app.events.relay.isLeader).toBe(true);
  });

  it("carry A's event to B's subscriber through Redis, within a second", async () => {
    const user = await a.t.app.services.users.createUser({ email: 'crossing@example.com' }, systemMeta);
    const client = wsClient(b.url, BOOTSTRAP_KEY);
    const stream = collect(client, USER_EVENTS, { userId: user.id, after: await newestEventId(a.t.app, user.id) });
    await subscribed(b.t.app, user.id);
    const started = Date.now();
    await rename(a.t, user.id, 'from A');
    await stream.waitFor(1);
    // B's own relay would not have read the log for minutes.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(names(stream)).toEqual(['from A']);
    await client.dispose();
  });

  it("carry an organization's event from A to B's organizationEvents subscriber through Redis", async () => {
    const organization = { id: newId('Organization'), name: 'Crossing', slug: 'crossing' };
    const { outbox } = a.t.app.services;
    const record = (type: 'organization.created' | 'organization.updated') =>
      outbox.transaction((tx) =>
        outbox.record(tx, { type, organizationId: organization.id, data: type === 'organization.created' ? { organization } : { organization, changes: ['name'] } }, systemMeta),
      );
    const created = await record('organization.created');
    const client = wsClient(b.url, BOOTSTRAP_KEY);
    const stream = collect(client, ORGANIZATION_EVENTS, { organizationId: organization.id, after: created.id });
    await vi.waitFor(() => expect(b.t.app.events.pubsub.listenerCount(organizationTopic(organization.id))).toBe(1), WAIT);
    const updated = await record('organization.updated');
    // B does not hold the lease: with Redis up it publishes nothing itself, so this came from A through Redis.
    await stream.waitFor(1);
    expect(stream.items.map((i) => i.data?.organizationEvents?.id)).toEqual([updated.id]);
    await client.dispose();
  });

  it("fall back to B's own read of the log while Redis is down", async () => {
    const user = await a.t.app.services.users.createUser({ email: 'fallback@example.com' }, systemMeta);
    const client = wsClient(b.url, BOOTSTRAP_KEY);
    const stream = collect(client, USER_EVENTS, { userId: user.id, after: await newestEventId(a.t.app, user.id) });
    await subscribed(b.t.app, user.id);
    await redis.stop();
    await vi.waitFor(() => expect(b.t.app.events.pubsub.connected).toBe(false), WAIT);
    await rename(a.t, user.id, 'while down');
    // B reads the log on its next pass (woken here by hand: its 5-minute poll stands for any later pass).
    b.t.app.events.relay.wake();
    await stream.waitFor(1);
    await redis.start();
    await vi.waitFor(() => expect(a.t.app.events.pubsub.connected && b.t.app.events.pubsub.connected).toBe(true), WAIT);
    await rename(a.t, user.id, 'back');
    await stream.waitFor(2);
    expect(names(stream)).toEqual(['while down', 'back']);
    await client.dispose();
  });
});
