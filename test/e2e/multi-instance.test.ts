/**
 * Two gateway processes behind one (imaginary) load balancer, sharing one
 * PostgreSQL database and one Redis: a mutation on one instance reaches a
 * subscriber connected to the other, and webhook deliveries are sent once
 * although both instances run a dispatcher.
 *
 * PostgreSQL only: several instances need a database several machines can
 * share; SQLite is a single-machine file, so this setup does not exist there.
 * Redis is the one on 127.0.0.1:6379; a prefix unique to this run keeps its
 * channels apart from other runs.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BOOTSTRAP_KEY, ENCRYPTION_KEY } from '../helpers/app.js';
import { freshDatabase, testProvider, type TestDatabase } from '../helpers/db.js';
import { postGraphql, startGateway, type Gateway } from '../helpers/process.js';
import { collect, wsClient } from './event-clients.js';

describe.runIf(testProvider === 'postgresql')('two instances on PostgreSQL and Redis', () => {
  let db: TestDatabase;
  let a: Gateway;
  let b: Gateway;
  const received: string[] = [];
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(req.headers['webhook-id'] as string);
      res.writeHead(204).end();
    });
  });

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    db = await freshDatabase();
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      PORTCULLIS_REDIS_PREFIX: `portcullis-test-${randomBytes(6).toString('hex')}:`,
      PORTCULLIS_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY,
      PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY,
      PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true',
      HOST: '127.0.0.1',
    };
    a = await startGateway({ ...env, PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-a-')) });
    // A took the relay lease on its first pass: B publishes nothing itself, so B's subscribers hear only what crosses Redis.
    b = await startGateway({ ...env, PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-b-')) });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    receiver.close();
    await db?.drop();
  });

  it('a mutation on one instance reaches a subscriber on the other', async () => {
    const created = await postGraphql(a.url, 'mutation { createUser(input: { email: "multi@example.com" }) { ... on CreateUserSuccess { user { id } } } }', {}, BOOTSTRAP_KEY);
    const userId = created.body.data.createUser.user.id as string;
    const log = await postGraphql(a.url, 'query($id: ID!) { events(first: 5, userId: $id) { edges { node { id } } } }', { id: userId }, BOOTSTRAP_KEY);
    const cursor = log.body.data.events.edges[0].node.id as string;

    const client = wsClient(b.url, BOOTSTRAP_KEY);
    const sub = collect(client, 'subscription($id: ID!, $after: ID) { userEvents(userId: $id, after: $after) { id type } }', { id: userId, after: cursor });
    await postGraphql(a.url, 'mutation($id: ID!) { lockUser(input: { userId: $id }) { __typename } }', { id: userId }, BOOTSTRAP_KEY);
    await sub.waitFor(1);
    // Now B's subscription is live for certain: the next events arrive from A through Redis.
    await postGraphql(a.url, 'mutation($id: ID!) { unlockUser(input: { userId: $id }) { __typename } }', { id: userId }, BOOTSTRAP_KEY);
    await postGraphql(a.url, 'mutation($id: ID!) { deactivateUser(input: { userId: $id }) { __typename } }', { id: userId }, BOOTSTRAP_KEY);
    const got = await sub.waitFor(3);
    expect(got.map((r) => r.data.userEvents.type)).toEqual(['USER_LOCKED', 'USER_UNLOCKED', 'USER_DEACTIVATED']);
    sub.stop();
    await client.dispose();
  });

  it('sends each webhook delivery once although both instances dispatch', async () => {
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    await postGraphql(b.url, 'mutation($url: String!) { createWebhookApp(input: { name: "multi", url: $url }) { __typename } }', { url: hookUrl }, BOOTSTRAP_KEY);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const gw = i % 2 ? a : b;
      await postGraphql(gw.url, 'mutation($e: String) { createUser(input: { email: $e }) { __typename } }', { e: `m${i}@example.com` }, BOOTSTRAP_KEY);
    }
    const events = await postGraphql(a.url, '{ events(first: 100, types: [USER_CREATED]) { edges { node { id } } } }', {}, BOOTSTRAP_KEY);
    ids.push(...events.body.data.events.edges.slice(-10).map((e: { node: { id: string } }) => e.node.id));
    await vi.waitFor(() => expect(ids.filter((id) => !received.includes(id))).toEqual([]), { timeout: 30_000, interval: 50 });
    expect(received.filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
  });
});
