/**
 * The webhook portal through the public API and over real HTTP: a link from
 * createWebhookPortalLink (hashed at rest, audited), its page and the JSON API
 * the page uses (the link's apps, their deliveries with filters, a retry, a
 * test event, a secret rotation), and WebhookApp.deliveries' filters. The
 * gateway runs its relay and dispatcher; deliveries go to a receiver on
 * 127.0.0.1. Attacks (reuse, expiry, forged ids, CSRF, logs) are in
 * webhook-portal.security.test.ts.
 */
import { createHash } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { CreatePortalLink, createPortalApp, createPortalLink, freePort, openPortal, until, webhookReceiver } from './helpers/webhook-portal.js';

const CreateUser = graphql(`
  mutation PortalCreateUser($email: String!) { createUser(input: { email: $email }) { __typename ... on CreateUserSuccess { user { id } } } }
`);
const FilteredDeliveries = graphql(`
  query PortalFilteredDeliveries($id: ID!, $filter: WebhookDeliveryFilter) {
    webhookApp(id: $id) { deliveries(first: 50, filter: $filter) { totalCount edges { node { id status eventType } } } }
  }
`);
const CreatedEvent = graphql(`
  query PortalCreatedEvent($userId: ID!) { events(first: 1, userId: $userId, types: [USER_CREATED]) { edges { node { id } } } }
`);
const PortalEvents = graphql(`
  query PortalEvents {
    events(first: 100, types: [WEBHOOK_PORTAL_LINK_CREATED, WEBHOOK_PORTAL_LINK_USED, WEBHOOK_APP_SECRET_ROTATED, WEBHOOK_TEST]) {
      edges { node { type data actor { type id } } }
    }
  }
`);

const clock = manualClock(new Date());
const rx = webhookReceiver();
let t: TestApp;
let publicUrl: string;
let a: { id: string; secret: string };
let b: { id: string; secret: string };

/** Waits until no delivery to the app waits for an attempt, so a status queued at the receiver goes to the next one. */
async function settled(appId: string) {
  await until(
    async () => (await t.run(FilteredDeliveries, { id: appId, filter: { status: ['PENDING'] } })).webhookApp!.deliveries.totalCount,
    (n) => n === 0,
  );
}

beforeAll(async () => {
  await rx.listen();
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  t = await createTestApp({
    clock,
    env: {
      HOST: '127.0.0.1',
      PORT: String(port),
      PORTCULLIS_PUBLIC_URL: publicUrl,
      PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true',
      // One attempt: a failed delivery is FAILED at once, and waits for a retry by hand.
      PORTCULLIS_WEBHOOK_RETRY_SCHEDULE: '0',
      PORTCULLIS_RELAY_POLL_MS: '50',
    },
  });
  await t.app.start();
  a = await createPortalApp(t, 'Billing', rx.url('/a'));
  b = await createPortalApp(t, 'CRM', rx.url('/b'), ['USER_CREATED']);
});
afterAll(async () => {
  await t?.close();
  await rx.close();
});

describe('createWebhookPortalLink', () => {
  it('returns a URL on PORTCULLIS_PUBLIC_URL with a token stored only as its SHA-256, and audits the link without it', async () => {
    const r = await t.run(CreatePortalLink, { input: { webhookAppIds: [a.id, b.id, a.id], expiresInSeconds: 600 } });
    if (r.createWebhookPortalLink.__typename !== 'CreateWebhookPortalLinkSuccess') throw new Error(JSON.stringify(r));
    const { url, expiresAt, webhookApps } = r.createWebhookPortalLink;
    expect(url).toMatch(new RegExp(`^${publicUrl}/webhook-portal/open\\?token=whp_[A-Za-z0-9_-]{43}$`));
    expect(new Date(expiresAt).getTime()).toBe(clock.now().getTime() + 600_000);
    expect(webhookApps.map((w) => w.id)).toEqual([a.id, b.id]);

    const token = new URL(url).searchParams.get('token')!;
    const row = await t.app.database.client.webhookPortalLink.findUniqueOrThrow({ where: { tokenHash: createHash('sha256').update(token).digest('hex') } });
    expect(row).toMatchObject({ appIds: [a.id, b.id], usedAt: null, sessionHash: null });
    expect(JSON.stringify(row)).not.toContain(token.slice(4));

    const created = (await t.run(PortalEvents)).events.edges.map((e) => e.node).filter((e) => e.type === 'WEBHOOK_PORTAL_LINK_CREATED');
    expect(created.at(-1)).toEqual({
      type: 'WEBHOOK_PORTAL_LINK_CREATED',
      data: { linkId: row.id, appIds: [a.id, b.id], expiresAt },
      actor: { type: 'bootstrap_key', id: null },
    });
    expect(JSON.stringify(created)).not.toContain(token.slice(4));
  });

  it('refuses no app, an unknown app and a lifetime out of range, naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ webhookAppIds: [] }, 'webhookAppIds'],
      [{ webhookAppIds: [a.id, 'wha_missing'] }, 'webhookAppIds'],
      [{ webhookAppIds: [a.id], expiresInSeconds: 59 }, 'expiresInSeconds'],
      [{ webhookAppIds: [a.id], expiresInSeconds: 604_801 }, 'expiresInSeconds'],
    ];
    for (const [input, field] of cases) {
      const r = await t.run(CreatePortalLink, { input: input as never });
      expect(r.createWebhookPortalLink).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT', field });
    }
    expect((await t.run(CreatePortalLink, { input: { webhookAppIds: [a.id, 'wha_missing'] } })).createWebhookPortalLink).toMatchObject({
      message: 'No webhook app has the id "wha_missing".',
    });
    // The default lifetime is an hour.
    const link = await createPortalLink(t, [a.id]);
    expect(new Date(link.expiresAt).getTime()).toBe(clock.now().getTime() + 3_600_000);
  });

  it('is for API keys only', async () => {
    const user = await t.run(CreateUser, { email: 'portal-user@example.com' });
    if (user.createUser.__typename !== 'CreateUserSuccess') throw new Error('createUser failed');
    const session = await t.app.services.sessions.createSession(user.createUser.user.id, { name: 'test' }, systemMeta);
    const asUser = await t.exec(CreatePortalLink, { input: { webhookAppIds: [a.id] } }, { token: session.accessToken });
    expect(asUser.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const anonymous = await t.exec(CreatePortalLink, { input: { webhookAppIds: [a.id] } }, { token: null });
    expect(anonymous.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('the portal page', () => {
  it('is static, strict about what it loads, and the same for everyone', async () => {
    const page = await fetch(`${publicUrl}/webhook-portal/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain('<script src="portal.js" defer></script>');
    // No inline script, no remote resource.
    expect(html.match(/<script\b[^>]*>[^<]+<\/script>/)).toBeNull();
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect((await fetch(`${publicUrl}/webhook-portal/portal.js`)).headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${publicUrl}/webhook-portal/portal.css`)).status).toBe(200);
    const bare = await fetch(`${publicUrl}/webhook-portal`, { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(new URL(bare.headers.get('location')!, `${publicUrl}/webhook-portal`).pathname).toBe('/webhook-portal/');
    expect((await fetch(`${publicUrl}/webhook-portal/../package.json`)).status).not.toBe(200);
    expect((await fetch(`${publicUrl}/webhook-portal/nothing.js`)).status).toBe(404);
  });

  it('opens a link once into a session cookie scoped to the portal, and audits the use', async () => {
    const link = await createPortalLink(t, [a.id, b.id]);
    const portal = await openPortal(link.url);
    expect(portal.base).toBe(`${publicUrl}/webhook-portal/`);
    expect(portal.setCookie).toMatch(/^portcullis_webhook_portal=whs_[A-Za-z0-9_-]{43}; Path=\/webhook-portal; Max-Age=3600; HttpOnly; SameSite=Strict$/);

    const overview = await portal.api('GET', 'session');
    expect(overview.status).toBe(200);
    expect(overview.body.apps).toEqual([
      { id: a.id, name: 'Billing', url: rx.url('/a'), enabled: true, disabledReason: null, eventTypes: [] },
      { id: b.id, name: 'CRM', url: rx.url('/b'), enabled: true, disabledReason: null, eventTypes: ['user.created'] },
    ]);
    expect(new Date(overview.body.expiresAt).getTime()).toBe(clock.now().getTime() + 3_600_000);
    expect(overview.body.eventTypes).toContain('user.locked');
    // Nothing of a secret reaches the page.
    expect(JSON.stringify(overview.body)).not.toContain('whsec_');
    for (const app of overview.body.apps) expect(Object.keys(app).filter((k) => /secret/i.test(k))).toEqual([]);

    const used = (await t.run(PortalEvents)).events.edges.map((e) => e.node).filter((e) => e.type === 'WEBHOOK_PORTAL_LINK_USED');
    expect(used.at(-1)).toMatchObject({ data: { appIds: [a.id, b.id], sessionExpiresAt: overview.body.expiresAt }, actor: { type: 'webhook_portal' } });
    expect(used.at(-1)!.actor.id).toMatch(/^whl_/);
  });
});

describe('the portal API', () => {
  it("lists an app's deliveries with status, response code, latency and attempts, filtered by status and event type", async () => {
    await settled(a.id);
    rx.answer('/a', 500);
    const user = await t.run(CreateUser, { email: 'portal-deliveries@example.com' });
    if (user.createUser.__typename !== 'CreateUserSuccess') throw new Error('createUser failed');
    const eventId = (await t.run(CreatedEvent, { userId: user.createUser.user.id })).events.edges[0].node.id;
    const portal = await openPortal((await createPortalLink(t, [a.id, b.id])).url);
    // user.created goes to a (answered 500: FAILED after its one attempt) and to b (200).
    const listA = await until(
      () => portal.api('GET', `apps/${a.id}/deliveries`),
      (r) => r.body.deliveries?.some((d: any) => d.eventId === eventId && d.status === 'FAILED'),
    );
    const failed = listA.body.deliveries.find((d: any) => d.eventId === eventId);
    expect(failed).toMatchObject({ appId: a.id, status: 'FAILED', attempts: 1, responseStatus: 500, error: 'HTTP 500' });
    expect(failed.latencyMs).toEqual(expect.any(Number));
    expect(failed.attemptLog).toEqual([{ attemptedAt: expect.any(String), responseStatus: 500, latencyMs: expect.any(Number), error: 'HTTP 500' }]);
    expect(failed).not.toHaveProperty('payload');
    const listB = await until(
      () => portal.api('GET', `apps/${b.id}/deliveries`),
      (r) => r.body.deliveries?.some((d: any) => d.eventId === eventId && d.status === 'SUCCEEDED'),
    );
    expect(listB.body.deliveries.find((d: any) => d.eventId === eventId)).toMatchObject({ eventType: 'user.created', status: 'SUCCEEDED', responseStatus: 200 });

    const onlyFailed = await portal.api('GET', `apps/${a.id}/deliveries?status=FAILED&eventType=user.created`);
    expect(onlyFailed.body.deliveries.map((d: any) => d.id)).toEqual([failed.id]);
    const succeeded = (await portal.api('GET', `apps/${a.id}/deliveries?status=SUCCEEDED&eventType=user.created`)).body.deliveries;
    expect(succeeded.length).toBeGreaterThan(0);
    for (const d of succeeded) expect(d).toMatchObject({ status: 'SUCCEEDED', eventType: 'user.created' });
    expect((await portal.api('GET', `apps/${a.id}/deliveries?eventType=user.locked`)).body.deliveries).toEqual([]);
    expect((await portal.api('GET', `apps/${a.id}/deliveries?limit=1`)).body.deliveries).toHaveLength(1);
    expect(await portal.api('GET', `apps/${a.id}/deliveries?status=LOST`)).toMatchObject({ status: 400, body: { error: { code: 'INVALID_INPUT', field: 'status' } } });
    expect(await portal.api('GET', `apps/${a.id}/deliveries?eventType=user.nothing`)).toMatchObject({ status: 400, body: { error: { field: 'eventType' } } });
    expect(await portal.api('GET', `apps/${a.id}/deliveries?limit=1000`)).toMatchObject({ status: 400, body: { error: { field: 'limit' } } });
  });

  it('retries a failed delivery: a new attempt follows', async () => {
    await settled(a.id);
    rx.answer('/a', 500);
    const portal = await openPortal((await createPortalLink(t, [a.id])).url);
    const test = await portal.api('POST', `apps/${a.id}/test`);
    const failed = await until(
      () => portal.api('GET', `apps/${a.id}/deliveries?eventType=webhook.test`),
      (r) => r.body.deliveries.find((d: any) => d.id === test.body.delivery.id)?.status === 'FAILED',
    );
    expect(failed.body.deliveries.find((d: any) => d.id === test.body.delivery.id)).toMatchObject({ attempts: 1, responseStatus: 500 });

    const retried = await portal.api('POST', `deliveries/${test.body.delivery.id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body.delivery).toMatchObject({ id: test.body.delivery.id, status: expect.stringMatching(/PENDING|SUCCEEDED/) });
    const after = await until(
      () => portal.api('GET', `apps/${a.id}/deliveries?eventType=webhook.test`),
      (r) => r.body.deliveries.find((d: any) => d.id === test.body.delivery.id)?.status === 'SUCCEEDED',
    );
    const delivery = after.body.deliveries.find((d: any) => d.id === test.body.delivery.id);
    expect(delivery).toMatchObject({ status: 'SUCCEEDED', attempts: 2, responseStatus: 200, error: null });
    expect(delivery.attemptLog.map((x: any) => x.responseStatus)).toEqual([500, 200]);
  });

  it('sends a test event to the app, recorded as the portal link', async () => {
    const before = rx.requests.filter((r) => r.path === '/b').length;
    const portal = await openPortal((await createPortalLink(t, [b.id])).url);
    const sent = await portal.api('POST', `apps/${b.id}/test`);
    expect(sent).toMatchObject({ status: 200, body: { delivery: { appId: b.id, eventType: 'webhook.test', status: 'PENDING', attempts: 0 } } });
    await until(
      async () => rx.requests.filter((r) => r.path === '/b').length,
      (n) => n > before,
    );
    const received = rx.requests.filter((r) => r.path === '/b').at(-1)!;
    expect(JSON.parse(received.body)).toMatchObject({ type: 'webhook.test', data: { appId: b.id } });
    const tests = (await t.run(PortalEvents)).events.edges.map((e) => e.node).filter((e) => e.type === 'WEBHOOK_TEST');
    expect(tests.at(-1)!.actor.type).toBe('webhook_portal');
  });

  it('rotates the secret and shows the new one once: deliveries are signed with it', async () => {
    const portal = await openPortal((await createPortalLink(t, [b.id])).url);
    const rotated = await portal.api('POST', `apps/${b.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(b.secret);
    expect(new Date(rotated.body.previousSecretExpiresAt).getTime()).toBeGreaterThan(clock.now().getTime());
    const audit = (await t.run(PortalEvents)).events.edges.map((e) => e.node).filter((e) => e.type === 'WEBHOOK_APP_SECRET_ROTATED');
    expect(audit.at(-1)).toMatchObject({ data: { appId: b.id }, actor: { type: 'webhook_portal' } });
    expect(JSON.stringify(audit)).not.toContain(rotated.body.secret);
    // Never again: neither the page's lists nor the overview carry it.
    expect(JSON.stringify((await portal.api('GET', 'session')).body)).not.toContain(rotated.body.secret);

    const before = rx.requests.length;
    await portal.api('POST', `apps/${b.id}/test`);
    await until(
      async () => rx.requests.slice(before).filter((r) => r.path === '/b'),
      (list) => list.length > 0,
    );
    const received = rx.requests.slice(before).find((r) => r.path === '/b')!;
    // standardwebhooks checks the timestamp against the real time, which the manual clock started from.
    expect(() => new Webhook(rotated.body.secret).verify(received.body, received.headers)).not.toThrow();
  });

  it('refuses to test a disabled app, saying why', async () => {
    const paused = await createPortalApp(t, 'Paused', rx.url('/paused'));
    await t.app.services.webhooks.updateWebhookApp(paused.id, { enabled: false }, systemMeta);
    const portal = await openPortal((await createPortalLink(t, [paused.id])).url);
    expect((await portal.api('GET', 'session')).body.apps[0]).toMatchObject({ enabled: false, disabledReason: 'disabled by an admin' });
    expect(await portal.api('POST', `apps/${paused.id}/test`)).toMatchObject({ status: 409, body: { error: { code: 'INVALID_STATE' } } });
  });
});

describe('WebhookApp.deliveries', () => {
  it('filters by status and event type, and counts what it filters', async () => {
    const all = await t.run(FilteredDeliveries, { id: a.id });
    const nodes = all.webhookApp!.deliveries.edges.map((e) => e.node);
    expect(new Set(nodes.map((n) => n.status))).toEqual(new Set(['FAILED', 'SUCCEEDED']));
    const check = async (filter: Record<string, string[]>, expected: typeof nodes) => {
      const r = await t.run(FilteredDeliveries, { id: a.id, filter: filter as never });
      expect(r.webhookApp!.deliveries.edges.map((e) => e.node.id)).toEqual(expected.map((n) => n.id));
      expect(r.webhookApp!.deliveries.totalCount).toBe(expected.length);
    };
    await check({ status: ['FAILED'] }, nodes.filter((n) => n.status === 'FAILED'));
    await check({ status: ['FAILED', 'SUCCEEDED'] }, nodes);
    await check({ eventTypes: ['WEBHOOK_TEST'] }, nodes.filter((n) => n.eventType === 'webhook.test'));
    await check({ status: ['SUCCEEDED'], eventTypes: ['USER_CREATED'] }, nodes.filter((n) => n.status === 'SUCCEEDED' && n.eventType === 'user.created'));
    await check({ status: ['PENDING'] }, []);
    await check({}, nodes);
  });
});
