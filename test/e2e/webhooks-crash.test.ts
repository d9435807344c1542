/**
 * Crash safety of webhook deliveries, with the real command: the gateway is
 * killed with SIGKILL while deliveries are in flight (the receiver holds
 * them open), then started again on the same database. Every event must
 * reach the receiver at least once, correctly signed: deliveries are
 * persisted before they are sent, claims lapse, and fan-out resumes from
 * the position kept in the database.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { BOOTSTRAP_KEY, ENCRYPTION_KEY } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { postGraphql, startGateway, type Gateway } from '../helpers/process.js';

const USERS = 20;

let db: TestDatabase;
let gateway: Gateway | undefined;
let env: Record<string, string>;
let hold = true;
const held: ServerResponse[] = [];
const received = new Map<string, number>();
let secret = '';
let badSignatures = 0;

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    try {
      new Webhook(secret).verify(body, req.headers as Record<string, string>);
    } catch {
      badSignatures++;
    }
    if (hold) {
      held.push(res); // in flight when the gateway dies
      return;
    }
    const id = req.headers['webhook-id'] as string;
    received.set(id, (received.get(id) ?? 0) + 1);
    res.writeHead(200).end();
  });
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  db = await freshDatabase();
  env = {
    DATABASE_URL: db.url,
    PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-crash-')),
    PORTCULLIS_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY,
    PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY,
    HOST: '127.0.0.1',
    // The receiver is on 127.0.0.1: allowed explicitly, as local development does.
    PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true',
    PORTCULLIS_WEBHOOK_TIMEOUT_MS: '3000',
    PORTCULLIS_WEBHOOK_RETRY_SCHEDULE: '0,1,1,1,1,1',
    PORTCULLIS_RELAY_POLL_MS: '50',
  };
});

afterAll(async () => {
  await gateway?.stop('SIGKILL');
  for (const res of held) res.destroy();
  server.close();
  await db?.drop();
});

it('loses no delivery when the gateway is killed mid-delivery and restarted', { timeout: 120_000 }, async () => {
  gateway = await startGateway(env);
  const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const created = await postGraphql(
    gateway.url,
    'mutation($url: String!) { createWebhookApp(input: { name: "crash", url: $url }) { ... on CreateWebhookAppSuccess { secret } ... on Error { message } } }',
    { url: hookUrl },
    BOOTSTRAP_KEY,
  );
  secret = created.body.data.createWebhookApp.secret;
  expect(secret).toMatch(/^whsec_/);
  for (let i = 0; i < USERS; i++) {
    await postGraphql(gateway.url, 'mutation($e: String) { createUser(input: { email: $e }) { __typename } }', { e: `crash${i}@example.com` }, BOOTSTRAP_KEY);
  }
  // Some deliveries are in flight (held open by the receiver) when the process dies.
  await vi.waitFor(() => expect(held.length).toBeGreaterThanOrEqual(3), { timeout: 30_000, interval: 20 });
  expect(await gateway.stop('SIGKILL')).toBe(null);
  for (const res of held) res.destroy();
  hold = false;

  gateway = await startGateway(env);
  const events = await postGraphql(gateway.url, '{ events(first: 100, types: [USER_CREATED]) { edges { node { id } } } }', {}, BOOTSTRAP_KEY);
  const ids: string[] = events.body.data.events.edges.map((e: { node: { id: string } }) => e.node.id);
  expect(ids).toHaveLength(USERS);
  await vi.waitFor(() => expect(ids.filter((id) => !received.has(id))).toEqual([]), { timeout: 60_000, interval: 100 });
  expect(badSignatures).toBe(0);
  const log = await postGraphql(
    gateway.url,
    '{ webhookApps(first: 1) { edges { node { deliveries(first: 100) { totalCount edges { node { status } } } } } } }',
    {},
    BOOTSTRAP_KEY,
  );
  const deliveries = log.body.data.webhookApps.edges[0].node.deliveries;
  // One delivery row per event, however many attempts it took.
  expect(deliveries.totalCount).toBe(USERS);
  await vi.waitFor(async () => {
    const again = await postGraphql(gateway!.url, '{ webhookApps(first: 1) { edges { node { deliveries(first: 100) { edges { node { status } } } } } } }', {}, BOOTSTRAP_KEY);
    expect(again.body.data.webhookApps.edges[0].node.deliveries.edges.every((e: { node: { status: string } }) => e.node.status === 'SUCCEEDED')).toBe(true);
  }, { timeout: 30_000, interval: 100 });
});
