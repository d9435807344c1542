/**
 * organizationEvents through real clients against a started gateway
 * (graphql-ws over a real WebSocket, graphql-sse over HTTP): live events of
 * that organization only, the type filter, resuming with `after` across the
 * replay/live switch while events of it and of another organization are being
 * written, an event about a member on both the member's and the
 * organization's streams, `UserEvent.organizationId` in the events query, and
 * webhook delivery of an organization event (no user) with organizationId in
 * its body. Events are recorded through the outbox, as the organizations
 * service records them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from 'graphql-ws';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { organizationTopic } from '../src/kernel/events/pubsub.js';
import { newId } from '../src/kernel/ids.js';
import type { App } from '../src/app.js';
import { graphql } from './gql/index.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from './helpers/app.js';
import { collect, sseClient, subscribed, wsClient } from './e2e/event-clients.js';

const ORGANIZATION_EVENTS = `subscription($organizationId: ID!, $types: [UserEventType!], $after: ID) {
  organizationEvents(organizationId: $organizationId, types: $types, after: $after) { id type userId organizationId data }
}`;
const USER_EVENTS = `subscription($userId: ID!, $after: ID) { userEvents(userId: $userId, after: $after) { id type userId organizationId } }`;

const Log = graphql(`
  query OrgEventsLog($types: [UserEventType!]) { events(first: 100, types: $types) { edges { node { id type userId organizationId data } } } }
`);
const CreateApp = graphql(`
  mutation OrgEventsCreateApp($input: CreateWebhookAppInput!) {
    createWebhookApp(input: $input) { __typename ... on CreateWebhookAppSuccess { secret webhookApp { id } } }
  }
`);

const WAIT = { timeout: 10_000, interval: 20 };

let t: TestApp;
let url: string;
let ws: Client;

beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_RELAY_POLL_MS: '50', PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  ({ url } = await t.app.start());
  ws = wsClient(url, BOOTSTRAP_KEY);
});

afterAll(async () => {
  await ws?.dispose();
  await t?.close();
});

interface Org {
  id: string;
  name: string;
  slug: string;
}

let n = 0;
function newOrg(): Org {
  n++;
  return { id: newId('Organization'), name: `Org ${n}`, slug: `org-${n}` };
}

/** Records organization.created for `org`, as the organizations service will. */
async function created(org: Org) {
  const { outbox } = t.app.services;
  return outbox.transaction((tx) => outbox.record(tx, { type: 'organization.created', organizationId: org.id, data: { organization: org } }, systemMeta));
}

/** Records organization.updated for `org` with a new name. */
async function renamed(org: Org, name: string) {
  const { outbox } = t.app.services;
  org.name = name;
  return outbox.transaction((tx) =>
    outbox.record(tx, { type: 'organization.updated', organizationId: org.id, data: { organization: { ...org }, changes: ['name'] } }, systemMeta),
  );
}

/** The organization's events in the log, oldest first. */
async function logOf(organizationId: string) {
  return t.app.database.client.event.findMany({ where: { organizationId }, orderBy: { seq: 'asc' }, select: { id: true, type: true } });
}

/** Waits until the server has `count` subscribers on the organization's topic. */
async function subscribedTo(app: App, organizationId: string, count = 1) {
  await vi.waitFor(() => expect(app.events.pubsub.listenerCount(organizationTopic(organizationId))).toBe(count), WAIT);
}

describe('organizationEvents over WebSocket (graphql-ws)', () => {
  it("streams live events of that organization only, in order, not another organization's nor a user's", async () => {
    const a = newOrg();
    const b = newOrg();
    const sub = collect(ws, ORGANIZATION_EVENTS, { organizationId: a.id });
    await subscribedTo(t.app, a.id);
    await created(b);
    await created(a);
    await t.app.services.users.createUser({ email: 'not-an-org-event@example.com' }, systemMeta);
    await renamed(b, 'B renamed');
    await renamed(a, 'A renamed');
    const got = await sub.waitFor(2);
    sub.stop();
    await subscribedTo(t.app, a.id, 0);
    expect(got.map((r) => r.data.organizationEvents.type)).toEqual(['ORGANIZATION_CREATED', 'ORGANIZATION_UPDATED']);
    expect(got.map((r) => r.data.organizationEvents.id)).toEqual((await logOf(a.id)).map((e) => e.id));
    expect(got[1].data.organizationEvents).toMatchObject({
      organizationId: a.id,
      userId: null,
      data: { organization: { id: a.id, name: 'A renamed' }, changes: ['name'] },
    });
    // Nothing after the two: b's rename came before a's, so anything of b's would already be here.
    expect(sub.items).toHaveLength(2);
  });

  it('filters by type', async () => {
    const a = newOrg();
    const sub = collect(ws, ORGANIZATION_EVENTS, { organizationId: a.id, types: ['ORGANIZATION_UPDATED'] });
    await subscribedTo(t.app, a.id);
    await created(a);
    await renamed(a, 'first');
    await renamed(a, 'second');
    const got = await sub.waitFor(2);
    sub.stop();
    expect(got.map((r) => [r.data.organizationEvents.type, r.data.organizationEvents.data.organization.name])).toEqual([
      ['ORGANIZATION_UPDATED', 'first'],
      ['ORGANIZATION_UPDATED', 'second'],
    ]);
  });

  it('resumes after a cursor: stored events, then live ones, with no gap or duplicate while events are being written', async () => {
    const a = newOrg();
    const b = newOrg();
    await created(a);
    await created(b);
    for (let i = 0; i < 12; i++) {
      await renamed(a, `stored ${i}`);
      await renamed(b, `other stored ${i}`);
    }
    const cursor = (await logOf(a.id))[2].id;
    const sub = collect(ws, ORGANIZATION_EVENTS, { organizationId: a.id, after: cursor });
    // Writes of both organizations race the replay: some land before the relay position is read, some during the replay, some after.
    await Promise.all([
      (async () => {
        for (let i = 0; i < 25; i++) await renamed(a, `live ${i}`);
      })(),
      (async () => {
        for (let i = 0; i < 25; i++) await renamed(b, `other live ${i}`);
      })(),
    ]);
    const expected = (await logOf(a.id)).slice(3).map((e) => e.id);
    expect(expected).toHaveLength(10 + 25);
    const got = await sub.waitFor(expected.length);
    sub.stop();
    expect(got.map((r) => r.data.organizationEvents.id)).toEqual(expected);
    expect(got.every((r) => r.data.organizationEvents.organizationId === a.id)).toBe(true);
  });

  it("delivers an event about a member on both the member's stream and the organization's", async () => {
    const a = newOrg();
    await created(a);
    const user = await t.app.services.users.createUser({ email: 'member@example.com' }, systemMeta);
    const [userCursor] = (await t.app.database.client.event.findMany({ where: { userId: user.id }, orderBy: { seq: 'desc' }, take: 1 })).map((e) => e.id);
    const orgStream = collect(ws, ORGANIZATION_EVENTS, { organizationId: a.id, after: (await logOf(a.id)).at(-1)!.id });
    const userStream = collect(ws, USER_EVENTS, { userId: user.id, after: userCursor });
    await subscribedTo(t.app, a.id);
    await subscribed(t.app, user.id);
    const { outbox } = t.app.services;
    const membership = { id: newId('Membership'), userId: user.id, roles: ['member'] };
    const added = await outbox.transaction((tx) =>
      outbox.record(tx, { type: 'organization.member_added', userId: user.id, organizationId: a.id, data: { organization: a, membership, via: 'admin' } }, systemMeta),
    );
    await renamed(a, 'after the member');
    const [orgGot, userGot] = await Promise.all([orgStream.waitFor(2), userStream.waitFor(1)]);
    orgStream.stop();
    userStream.stop();
    expect(orgGot.map((r) => r.data.organizationEvents.id)).toEqual([added.id, (await logOf(a.id)).at(-1)!.id]);
    expect(userGot[0].data.userEvents).toEqual({ id: added.id, type: 'ORGANIZATION_MEMBER_ADDED', userId: user.id, organizationId: a.id });
  });

  it('refuses an unknown cursor with a clear error', async () => {
    const sub = collect(ws, ORGANIZATION_EVENTS, { organizationId: newOrg().id, after: 'evt_does_not_exist' });
    await sub.done;
    expect(sub.items).toHaveLength(1);
    expect(sub.items[0].errors?.[0].extensions?.code).toBe('INVALID_INPUT');
  });
});

describe('organizationEvents over Server-Sent Events (graphql-sse)', () => {
  it('replays after a cursor and continues live', async () => {
    const a = newOrg();
    await created(a);
    await renamed(a, 'stored');
    const [first] = await logOf(a.id);
    const sse = sseClient(url, BOOTSTRAP_KEY);
    const sub = collect(sse, ORGANIZATION_EVENTS, { organizationId: a.id, after: first.id });
    await sub.waitFor(1);
    await subscribedTo(t.app, a.id);
    await renamed(a, 'live');
    const got = await sub.waitFor(2);
    sub.stop();
    sse.dispose();
    expect(got.map((r) => r.data.organizationEvents.data.organization.name)).toEqual(['stored', 'live']);
  });
});

describe('the event log', () => {
  it('exposes organizationId on UserEvent', async () => {
    const a = newOrg();
    const event = await created(a);
    const log = await t.run(Log, { types: ['ORGANIZATION_CREATED'] });
    expect(log.events.edges.map((e) => e.node).find((e) => e.id === event.id)).toEqual({
      id: event.id,
      type: 'ORGANIZATION_CREATED',
      userId: null,
      organizationId: a.id,
      data: { organization: a },
    });
  });
});

/** A local HTTP receiver that records each request. */
function receiver() {
  const requests: Array<{ body: string; headers: Record<string, string> }> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ body, headers: req.headers as Record<string, string> });
      res.writeHead(200).end('ok');
    });
  });
  return {
    requests,
    server,
    async listen() {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    },
  };
}

describe('webhooks', () => {
  it('deliver an organization event (no user) like any other, with organizationId in its data', async () => {
    const rx = receiver();
    try {
      const hookUrl = await rx.listen();
      const r = await t.run(CreateApp, { input: { name: 'org hooks', url: hookUrl, eventTypes: ['ORGANIZATION_CREATED'] } });
      if (r.createWebhookApp.__typename !== 'CreateWebhookAppSuccess') throw new Error('createWebhookApp failed');
      const a = newOrg();
      const event = await created(a);
      await vi.waitFor(() => expect(rx.requests.some((q) => q.headers['webhook-id'] === event.id)).toBe(true), WAIT);
      const request = rx.requests.find((q) => q.headers['webhook-id'] === event.id)!;
      const body = new Webhook(r.createWebhookApp.secret).verify(request.body, request.headers);
      expect(body).toEqual({
        type: 'organization.created',
        timestamp: new Date(event.occurredAt).toISOString(),
        data: { organizationId: a.id, organization: a },
      });
    } finally {
      rx.server.close();
    }
  });
});
