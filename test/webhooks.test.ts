/**
 * Webhooks through the GraphQL API with the relay and dispatcher driven by
 * hand (one pass at a time) and an injectable clock: signatures checked by
 * the reference `standardwebhooks` package, the delivery log, retries on the
 * configured schedule, exhaustion, manual retry, disabling after persistent
 * failure, secret rotation with both signatures, event-type filters and
 * webhook.test.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { systemMeta } from '../src/kernel/events/outbox.js';
import type { WebhookRequest, WebhookSender } from '../src/modules/webhooks/sender.js';
import { httpWebhookSender } from '../src/modules/webhooks/sender.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const CreateApp = graphql(`
  mutation WhCreateApp($input: CreateWebhookAppInput!) {
    createWebhookApp(input: $input) {
      __typename
      ... on CreateWebhookAppSuccess { secret webhookApp { id name url enabled eventTypes } }
      ... on InvalidInputError { code field message }
    }
  }
`);
const UpdateApp = graphql(`
  mutation WhUpdateApp($input: UpdateWebhookAppInput!) {
    updateWebhookApp(input: $input) {
      __typename
      ... on UpdateWebhookAppSuccess { webhookApp { id name enabled disabledReason eventTypes } }
      ... on Error { code message }
    }
  }
`);
const DeleteApp = graphql(`
  mutation WhDeleteApp($id: ID!) {
    deleteWebhookApp(input: { id: $id }) { __typename ... on DeleteWebhookAppSuccess { deletedWebhookAppId } ... on Error { code } }
  }
`);
const Rotate = graphql(`
  mutation WhRotate($id: ID!) {
    rotateWebhookAppSecret(input: { id: $id }) {
      __typename
      ... on RotateWebhookAppSecretSuccess { secret previousSecretExpiresAt webhookApp { id } }
    }
  }
`);
const TestApp_ = graphql(`
  mutation WhTest($id: ID!) {
    testWebhookApp(input: { id: $id }) {
      __typename
      ... on TestWebhookAppSuccess { delivery { id eventType status } }
      ... on Error { code }
    }
  }
`);
const Retry = graphql(`
  mutation WhRetry($id: ID!) {
    retryWebhookDelivery(input: { id: $id }) { __typename ... on RetryWebhookDeliverySuccess { delivery { id status nextAttemptAt } } ... on Error { code } }
  }
`);
const Deliveries = graphql(`
  query WhDeliveries($id: ID!) {
    node(id: $id) {
      ... on WebhookApp {
        enabled
        disabledReason
        deliveries(first: 50) {
          totalCount
          edges {
            node { id eventId eventType status attempts responseStatus latencyMs error nextAttemptAt attemptLog { responseStatus latencyMs error attemptedAt } }
          }
        }
      }
    }
  }
`);
const App = graphql(`
  query WhApp($id: ID!) { webhookApp(id: $id) { id name url enabled eventTypes deliveries(first: 5) { totalCount } } }
`);
const Apps = graphql(`
  query WhApps { webhookApps(first: 50) { edges { node { id name } } } }
`);
const CreateUser = graphql(`
  mutation WhCreateUser($email: String!) { createUser(input: { email: $email }) { ... on CreateUserSuccess { user { id } } } }
`);
const Lock = graphql(`
  mutation WhLock($id: ID!) { lockUser(input: { userId: $id }) { __typename } }
`);
const Unlock = graphql(`
  mutation WhUnlock($id: ID!) { unlockUser(input: { userId: $id }) { __typename } }
`);
const Log = graphql(`
  query WhLog { events(first: 500, types: [WEBHOOK_APP_DISABLED]) { edges { node { type data } } } }
`);

interface Captured {
  body: string;
  headers: Record<string, string>;
}

/** A local HTTP receiver: records each request and answers with the next status in `statuses` (then 200). */
function receiver() {
  const requests: Captured[] = [];
  const statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ body, headers: req.headers as Record<string, string> });
      res.writeHead(statuses.shift() ?? 200).end('ok');
    });
  });
  return {
    requests,
    statuses,
    server,
    async listen() {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    },
  };
}

const clock = manualClock(new Date());
/** The sender: the real HTTP one unless a test sets `failWith`. */
let failWith: ((req: WebhookRequest) => Promise<never>) | undefined;
const sender: WebhookSender = (req) => (failWith ? failWith(req) : httpWebhookSender(req));

let t: TestApp;
const rx = receiver();
let hookUrl: string;

async function createApp(input: { name: string; url: string; eventTypes?: string[] }) {
  const r = await t.run(CreateApp, { input: input as never });
  if (r.createWebhookApp.__typename !== 'CreateWebhookAppSuccess') throw new Error(JSON.stringify(r.createWebhookApp));
  return r.createWebhookApp;
}

async function newUser(email: string) {
  const r = await t.run(CreateUser, { email });
  return (r.createUser as { user: { id: string } }).user.id;
}

/** One relay pass and one dispatcher pass. */
async function pump() {
  await t.app.events.relay.tick();
  return t.app.events.dispatcher.runOnce();
}

async function deliveriesOf(appId: string) {
  const r = await t.run(Deliveries, { id: appId });
  const node = r.node as { enabled: boolean; disabledReason: string | null; deliveries: { totalCount: number; edges: Array<{ node: any }> } };
  return { ...node, list: node.deliveries.edges.map((e) => e.node) };
}

beforeAll(async () => {
  hookUrl = await rx.listen();
  t = await createTestApp({
    clock,
    webhookSender: sender,
    env: {
      PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true',
      PORTCULLIS_WEBHOOK_RETRY_SCHEDULE: '0,5,300',
      PORTCULLIS_WEBHOOK_SECRET_GRACE_SECONDS: '60',
      PORTCULLIS_WEBHOOK_DISABLE_AFTER_SECONDS: '600',
      PORTCULLIS_WEBHOOK_TIMEOUT_MS: '2000',
    },
  });
  // The first pass sets the relay's starting positions.
  await t.app.events.relay.tick();
});

afterAll(async () => {
  await t?.close();
  rx.server.close();
});

beforeEach(async () => {
  // standardwebhooks checks timestamps against the real time: start each test from it.
  clock.set(new Date());
  failWith = undefined;
  rx.requests.length = 0;
  // Each test starts with no app: deliveries of one must not leak into another.
  for (const edge of (await t.run(Apps)).webhookApps.edges) await t.run(DeleteApp, { id: edge.node.id });
});

describe('webhook apps', () => {
  it('returns the whsec_ secret once and stores it encrypted', async () => {
    const created = await createApp({ name: 'CRM', url: hookUrl });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(created.webhookApp).toMatchObject({ name: 'CRM', url: hookUrl, enabled: true, eventTypes: [] });
    const row = await t.app.database.client.webhookApp.findUniqueOrThrow({ where: { id: created.webhookApp.id } });
    expect(row.secretEncrypted).not.toContain(created.secret.slice(6));
    expect(JSON.stringify(await t.run(Deliveries, { id: created.webhookApp.id }))).not.toContain(created.secret.slice(6));
  });

  it('validates input: name, event types, URL form', async () => {
    for (const input of [
      { name: ' ', url: hookUrl },
      { name: 'x', url: 'ftp://example.com/' },
      { name: 'x', url: 'https://user:pw@example.com/' },
      { name: 'x', url: 'not a url' },
    ]) {
      const r = await t.run(CreateApp, { input });
      expect(r.createWebhookApp.__typename).toBe('InvalidInputError');
    }
  });

  it('updates, pauses and deletes an app', async () => {
    const { webhookApp } = await createApp({ name: 'A', url: hookUrl });
    const updated = await t.run(UpdateApp, { input: { id: webhookApp.id, name: 'B', eventTypes: ['USER_LOCKED'], enabled: false } });
    expect(updated.updateWebhookApp).toMatchObject({ webhookApp: { name: 'B', enabled: false, disabledReason: 'disabled by an admin', eventTypes: ['USER_LOCKED'] } });
    const missing = await t.run(UpdateApp, { input: { id: 'wha_missing', name: 'C' } });
    expect(missing.updateWebhookApp).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect((await t.run(DeleteApp, { id: webhookApp.id })).deleteWebhookApp).toEqual({ __typename: 'DeleteWebhookAppSuccess', deletedWebhookAppId: webhookApp.id });
    expect((await t.run(DeleteApp, { id: webhookApp.id })).deleteWebhookApp).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('webhookApp(id) answers one app, null when there is none, and only to API keys', async () => {
    const { webhookApp } = await createApp({ name: 'Billing', url: hookUrl, eventTypes: ['USER_LOCKED'] });
    await createApp({ name: 'Other', url: hookUrl });
    expect((await t.run(App, { id: webhookApp.id })).webhookApp).toEqual({
      id: webhookApp.id,
      name: 'Billing',
      url: hookUrl,
      enabled: true,
      eventTypes: ['USER_LOCKED'],
      deliveries: { totalCount: 0 },
    });
    // Like user(id): an unknown id, or an id of another kind, is null rather than an error.
    expect((await t.run(App, { id: 'wha_missing' })).webhookApp).toBeNull();
    const userId = await newUser('wh-app-reader@example.com');
    expect((await t.run(App, { id: userId })).webhookApp).toBeNull();

    // An end user's access token reads no webhook app.
    const session = await t.app.services.sessions.createSession(userId, { name: 'test' }, systemMeta);
    const asUser = await t.exec(App, { id: webhookApp.id }, { token: session.accessToken });
    expect(asUser.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(asUser.data?.webhookApp ?? null).toBeNull();

    await t.run(DeleteApp, { id: webhookApp.id });
    expect((await t.run(App, { id: webhookApp.id })).webhookApp).toBeNull();
    // Relay this test's user events while no app exists, so no later test's app receives them.
    for (const edge of (await t.run(Apps)).webhookApps.edges) await t.run(DeleteApp, { id: edge.node.id });
    await t.app.events.relay.tick();
  });
});

describe('deliveries', () => {
  it('delivers committed events signed per Standard Webhooks, verified by the standardwebhooks package', async () => {
    const { webhookApp, secret } = await createApp({ name: 'Verify', url: hookUrl });
    const id = await newUser('signed@example.com');
    await t.run(Lock, { id });
    expect(await pump()).toBe(2);
    expect(rx.requests).toHaveLength(2);
    const verifier = new Webhook(secret);
    const bodies = rx.requests.map((r) => verifier.verify(r.body, r.headers) as { type: string; timestamp: string; data: any });
    // Due deliveries are sent in parallel, so they may arrive in either order (Standard Webhooks promises none).
    expect(bodies.map((b) => b.type).sort()).toEqual(['user.created', 'user.locked']);
    const locked = bodies.find((b) => b.type === 'user.locked')!;
    expect(locked.data).toMatchObject({ userId: id, user: { id, state: 'LOCKED' } });
    expect(new Date(locked.timestamp).toISOString()).toBe(locked.timestamp);
    // webhook-id is the event id, stable across retries, so receivers can de-duplicate.
    const log = await deliveriesOf(webhookApp.id);
    expect(log.list.map((d) => d.eventId).sort()).toEqual(rx.requests.map((r) => r.headers['webhook-id']).sort());
    expect(log.list.every((d) => d.status === 'SUCCEEDED' && d.attempts === 1 && d.responseStatus === 200 && d.attemptLog.length === 1)).toBe(true);
    expect(log.list[0].latencyMs).toBeGreaterThanOrEqual(0);
    // A wrong secret does not verify.
    expect(() => new Webhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`).verify(rx.requests[0].body, rx.requests[0].headers)).toThrow();
    // A second pass sends nothing again.
    expect(await pump()).toBe(0);
  });

  it('delivers only the subscribed event types', async () => {
    const { webhookApp } = await createApp({ name: 'Locks', url: hookUrl, eventTypes: ['USER_LOCKED'] });
    const id = await newUser('filtered@example.com');
    await t.run(Lock, { id });
    await t.run(Unlock, { id });
    await pump();
    expect((await deliveriesOf(webhookApp.id)).list.map((d) => d.eventType)).toEqual(['user.locked']);
  });

  it('retries on the schedule with jitter, logs every attempt, then succeeds; the operation itself never failed', async () => {
    const { webhookApp, secret } = await createApp({ name: 'Flaky', url: hookUrl });
    rx.statuses.push(500, 503);
    const id = await newUser('retry@example.com');
    await pump();
    let [d] = (await deliveriesOf(webhookApp.id)).list;
    expect(d).toMatchObject({ status: 'PENDING', attempts: 1, responseStatus: 500, error: 'HTTP 500' });
    const wait1 = new Date(d.nextAttemptAt).getTime() - clock.now().getTime();
    expect(wait1).toBeGreaterThanOrEqual(4000);
    expect(wait1).toBeLessThanOrEqual(6000);
    expect(await pump()).toBe(0); // not due yet
    clock.advance(6000);
    expect(await pump()).toBe(1);
    [d] = (await deliveriesOf(webhookApp.id)).list;
    expect(d).toMatchObject({ status: 'PENDING', attempts: 2, responseStatus: 503 });
    const wait2 = new Date(d.nextAttemptAt).getTime() - clock.now().getTime();
    expect(wait2).toBeGreaterThanOrEqual(240_000);
    expect(wait2).toBeLessThanOrEqual(360_000);
    clock.advance(360_000);
    expect(await pump()).toBe(1);
    [d] = (await deliveriesOf(webhookApp.id)).list;
    expect(d).toMatchObject({ status: 'SUCCEEDED', attempts: 3, responseStatus: 200, error: null, nextAttemptAt: null });
    expect(d.attemptLog.map((a: { responseStatus: number }) => a.responseStatus)).toEqual([500, 503, 200]);
    // Every attempt carried the same webhook-id and body, signed at its own time (the clock moved 366 s).
    expect(new Set(rx.requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(rx.requests.map((r) => r.body)).size).toBe(1);
    expect(Number(rx.requests[2].headers['webhook-timestamp']) - Number(rx.requests[0].headers['webhook-timestamp'])).toBe(366);
    expect(new Webhook(secret).sign(rx.requests[2].headers['webhook-id'], new Date(Number(rx.requests[2].headers['webhook-timestamp']) * 1000), rx.requests[2].body)).toBe(
      rx.requests[2].headers['webhook-signature'],
    );
    expect(id).toMatch(/^usr_/);
  });

  it('marks a delivery FAILED after the last attempt; retryWebhookDelivery tries once more by hand', async () => {
    const { webhookApp } = await createApp({ name: 'Down', url: hookUrl });
    failWith = async () => {
      throw new Error('connect ECONNREFUSED');
    };
    await newUser('down@example.com');
    await pump();
    clock.advance(6000);
    await pump();
    clock.advance(360_000);
    await pump();
    let [d] = (await deliveriesOf(webhookApp.id)).list;
    expect(d).toMatchObject({ status: 'FAILED', attempts: 3, error: 'connect ECONNREFUSED', nextAttemptAt: null, responseStatus: null });
    clock.advance(3_600_000);
    expect(await pump()).toBe(0);
    failWith = undefined;
    const retried = await t.run(Retry, { id: d.id });
    expect(retried.retryWebhookDelivery).toMatchObject({ __typename: 'RetryWebhookDeliverySuccess', delivery: { status: 'PENDING' } });
    expect(await pump()).toBe(1);
    [d] = (await deliveriesOf(webhookApp.id)).list;
    expect(d).toMatchObject({ status: 'SUCCEEDED', attempts: 4 });
    expect((await t.run(Retry, { id: 'whd_missing' })).retryWebhookDelivery).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('disables an app whose deliveries all failed for the configured time, with an event', async () => {
    const { webhookApp } = await createApp({ name: 'Dead', url: hookUrl });
    failWith = async () => {
      throw new Error('timed out after 2000 ms');
    };
    const id = await newUser('dead@example.com');
    await pump();
    for (let i = 0; i < 3; i++) {
      clock.advance(400_000);
      await t.run(Lock, { id });
      await t.run(Unlock, { id });
      await pump();
    }
    const app = await deliveriesOf(webhookApp.id);
    expect(app.enabled).toBe(false);
    expect(app.disabledReason).toMatch(/failed/);
    const events = (await t.run(Log)).events.edges.map((e) => e.node);
    expect(events.at(-1)).toMatchObject({ type: 'WEBHOOK_APP_DISABLED', data: { appId: webhookApp.id, name: 'Dead' } });
    // Disabled: nothing is sent, deliveries wait; re-enabling resumes them.
    failWith = undefined;
    clock.advance(3_600_000);
    expect(await pump()).toBe(0);
    const enabled = await t.run(UpdateApp, { input: { id: webhookApp.id, enabled: true } });
    expect(enabled.updateWebhookApp).toMatchObject({ webhookApp: { enabled: true, disabledReason: null } });
    expect(await pump()).toBeGreaterThan(0);
  });

  it('signs with both secrets during the grace period after a rotation, then with the new one only', async () => {
    const { webhookApp, secret: oldSecret } = await createApp({ name: 'Rotate', url: hookUrl });
    const rotated = await t.run(Rotate, { id: webhookApp.id });
    if (rotated.rotateWebhookAppSecret.__typename !== 'RotateWebhookAppSecretSuccess') throw new Error('rotate failed');
    const newSecret = rotated.rotateWebhookAppSecret.secret;
    expect(newSecret).not.toBe(oldSecret);
    expect(new Date(rotated.rotateWebhookAppSecret.previousSecretExpiresAt!).getTime()).toBe(clock.now().getTime() + 60_000);
    await newUser('rotate1@example.com');
    await pump();
    const during = rx.requests.at(-1)!;
    expect(during.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(oldSecret).verify(during.body, during.headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(during.body, during.headers)).not.toThrow();
    clock.advance(61_000);
    await newUser('rotate2@example.com');
    await pump();
    const after = rx.requests.at(-1)!;
    expect(after.headers['webhook-signature'].split(' ')).toHaveLength(1);
    expect(() => new Webhook(newSecret).verify(after.body, after.headers)).not.toThrow();
    expect(() => new Webhook(oldSecret).verify(after.body, after.headers)).toThrow();
  });

  it('shutdown cuts off a request in flight without counting it as a failure; the delivery is sent again later', async () => {
    const { webhookApp } = await createApp({ name: 'Slow', url: hookUrl });
    let inFlight!: () => void;
    const started = new Promise<void>((r) => (inFlight = r));
    failWith = (req) =>
      new Promise((_, reject) => {
        inFlight();
        req.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
    await newUser('shutdown@example.com');
    await t.app.events.relay.tick();
    t.app.events.dispatcher.start();
    await started;
    await t.app.events.dispatcher.stop();
    let [d] = (await deliveriesOf(webhookApp.id)).list;
    expect(d).toMatchObject({ status: 'PENDING', attempts: 1, attemptLog: [] });
    // The claim lapses after the timeout plus a margin; then it is sent.
    failWith = undefined;
    clock.advance(2000 + 2000);
    expect(await pump()).toBe(1);
    [d] = (await deliveriesOf(webhookApp.id)).list;
    expect(d).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(d.attemptLog).toHaveLength(1);
  });

  it('testWebhookApp sends a webhook.test event to that app only, now', async () => {
    const a = await createApp({ name: 'T1', url: hookUrl });
    const b = await createApp({ name: 'T2', url: hookUrl });
    const r = await t.run(TestApp_, { id: a.webhookApp.id });
    expect(r.testWebhookApp).toMatchObject({ __typename: 'TestWebhookAppSuccess', delivery: { eventType: 'webhook.test', status: 'PENDING' } });
    await pump();
    expect(rx.requests).toHaveLength(1);
    const body = new Webhook(a.secret).verify(rx.requests[0].body, rx.requests[0].headers) as { type: string; data: { appId: string } };
    expect(body).toMatchObject({ type: 'webhook.test', data: { appId: a.webhookApp.id } });
    expect((await deliveriesOf(b.webhookApp.id)).list).toHaveLength(0);
    expect((await t.run(TestApp_, { id: 'wha_missing' })).testWebhookApp).toMatchObject({ __typename: 'NotFoundError' });
  });
});
