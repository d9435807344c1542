/**
 * Threats to the webhook portal, from its link's holder and from others:
 *
 * - a link opened twice (by the holder, a colleague it was forwarded to, or
 *   a race of both), or after its expiry, must open nothing;
 * - a session must reach the link's apps and nothing else, however the ids
 *   in its requests are forged;
 * - another site must not drive the portal's API with the holder's cookie (CSRF);
 * - the token and the session must never reach a log, a Referer or an event;
 * - behind a proxy, the cookie must keep to the portal's path and to HTTPS.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { graphql } from './gql/index.js';
import { BOOTSTRAP_KEY, capturedLogger, createTestApp, type TestApp } from './helpers/app.js';
import { accessLines } from './helpers/access-log.js';
import { createPortalApp, createPortalLink, freePort, openPortal, until, webhookReceiver } from './helpers/webhook-portal.js';

const CreateUser = graphql(`
  mutation PortalSecCreateUser($email: String!) { createUser(input: { email: $email }) { __typename } }
`);
const LinkUses = graphql(`
  query PortalSecLinkUses { events(first: 200, types: [WEBHOOK_PORTAL_LINK_USED]) { edges { node { data } } } }
`);

const clock = manualClock(new Date());
const rx = webhookReceiver();
const log = capturedLogger('info');
let t: TestApp;
let base: string;
/** The link's app, and one it does not name. */
let mine: { id: string; secret: string };
let theirs: { id: string; secret: string };

const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** The link as the gateway serves it (the public URL is this gateway's own address here). */
const get = (url: string, init: RequestInit = {}) => fetch(url, { redirect: 'manual', ...init });

beforeAll(async () => {
  await rx.listen();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  t = await createTestApp({
    clock,
    logger: log.logger,
    env: {
      HOST: '127.0.0.1',
      PORT: String(port),
      PORTCULLIS_PUBLIC_URL: base,
      PORTCULLIS_ACCESS_LOG: 'true',
      PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true',
      PORTCULLIS_WEBHOOK_RETRY_SCHEDULE: '0',
      PORTCULLIS_RELAY_POLL_MS: '50',
    },
  });
  await t.app.start();
  mine = await createPortalApp(t, 'Mine', rx.url('/mine'));
  theirs = await createPortalApp(t, 'Theirs', rx.url('/theirs'));
});
afterAll(async () => {
  await t?.close();
  await rx.close();
});

describe('a link opens once', () => {
  it('a second visit gets a plain page saying so, and no session', async () => {
    const link = await createPortalLink(t, [mine.id]);
    const first = await openPortal(link.url);
    expect((await first.api('GET', 'session')).status).toBe(200);

    const again = await get(link.url);
    expect(again.status).toBe(410);
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(again.headers.get('content-type')).toContain('text/html');
    expect(again.headers.get('content-security-policy')).toContain("script-src 'self'");
    const page = await again.text();
    expect(page).toContain('Link already used');
    expect(page).not.toContain('<script');
    // The first session is untouched by the second visit.
    expect((await first.api('GET', 'session')).status).toBe(200);
  });

  it('of visits racing with one link, exactly one gets a session', async () => {
    const link = await createPortalLink(t, [mine.id]);
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(link.url)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([303, 410, 410, 410, 410, 410, 410, 410]);
    expect(answers.filter((r) => r.headers.get('set-cookie'))).toHaveLength(1);
    const row = await t.app.database.client.webhookPortalLink.findUniqueOrThrow({ where: { tokenHash: sha256(tokenOf(link.url)) } });
    expect(row.usedAt).not.toBeNull();
    const uses = (await t.run(LinkUses)).events.edges.filter((e) => (e.node.data as { linkId: string }).linkId === row.id);
    expect(uses).toHaveLength(1);
  });

  it('a HEAD (a link checker) or a POST spends nothing; an unknown or malformed token opens nothing', async () => {
    const link = await createPortalLink(t, [mine.id]);
    expect((await get(link.url, { method: 'HEAD' })).status).toBe(405);
    expect((await get(link.url, { method: 'POST' })).status).toBe(405);
    await openPortal(link.url);

    for (const token of [`whp_${'A'.repeat(43)}`, 'whp_short', '', `${tokenOf(link.url)}x`]) {
      const r = await get(`${base}/webhook-portal/open?token=${encodeURIComponent(token)}`);
      expect(r.status).toBe(404);
      expect(r.headers.get('set-cookie')).toBeNull();
      expect(await r.text()).toContain('Link not valid');
    }
  });
});

describe('expiry', () => {
  it('an expired link shows a plain page saying so and grants nothing, even unused', async () => {
    const link = await createPortalLink(t, [mine.id], 60);
    clock.advance(61_000);
    const r = await get(link.url);
    expect(r.status).toBe(410);
    expect(r.headers.get('set-cookie')).toBeNull();
    expect(await r.text()).toContain('Link expired');
    const row = await t.app.database.client.webhookPortalLink.findUniqueOrThrow({ where: { tokenHash: sha256(tokenOf(link.url)) } });
    expect(row).toMatchObject({ usedAt: null, sessionHash: null });
  });

  it('a session ends an hour after the link was opened', async () => {
    const portal = await openPortal((await createPortalLink(t, [mine.id], 60)).url);
    clock.advance(3_599_000);
    expect((await portal.api('GET', 'session')).status).toBe(200);
    clock.advance(1_000);
    const ended = await portal.api('GET', 'session');
    expect(ended).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    expect((await portal.api('POST', `apps/${mine.id}/test`)).status).toBe(401);
  });
});

describe("a session reaches its link's apps only", () => {
  it('answers a forged app or delivery id as "not found", and changes nothing of it', async () => {
    rx.answer('/theirs', 500);
    await t.run(CreateUser, { email: 'forged-ids@example.com' });
    const db = t.app.database.client;
    const theirDelivery = await until(
      () => db.webhookDelivery.findFirst({ where: { appId: theirs.id, status: 'FAILED' } }),
      (d) => d !== null,
    );
    if (!theirDelivery) throw new Error('no failed delivery to the other app');
    const theirApp = await db.webhookApp.findUniqueOrThrow({ where: { id: theirs.id } });
    const theirCount = await db.webhookDelivery.count({ where: { appId: theirs.id } });

    const portal = await openPortal((await createPortalLink(t, [mine.id])).url);
    const overview = await portal.api('GET', 'session');
    expect(overview.body.apps.map((a: { id: string }) => a.id)).toEqual([mine.id]);

    const notFound = { status: 404, body: { error: { code: 'NOT_FOUND' } } };
    const forgedApps = [theirs.id, 'wha_missing', encodeURIComponent(`${mine.id}/../${theirs.id}`), encodeURIComponent(` ${theirs.id}`)];
    for (const id of forgedApps) {
      expect(await portal.api('GET', `apps/${id}/deliveries`), id).toMatchObject(notFound);
      expect(await portal.api('POST', `apps/${id}/test`), id).toMatchObject(notFound);
      expect(await portal.api('POST', `apps/${id}/rotate-secret`), id).toMatchObject(notFound);
    }
    // An app that exists and one that does not look alike.
    expect((await portal.api('POST', `apps/${theirs.id}/test`)).body).toEqual((await portal.api('POST', 'apps/wha_missing/test')).body);
    for (const id of [theirDelivery.id, 'whd_missing']) expect(await portal.api('POST', `deliveries/${id}/retry`), id).toMatchObject(notFound);

    expect(await db.webhookApp.findUniqueOrThrow({ where: { id: theirs.id } })).toEqual(theirApp);
    expect(await db.webhookDelivery.count({ where: { appId: theirs.id } })).toBe(theirCount);
    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: theirDelivery.id } })).toMatchObject({
      status: 'FAILED',
      attempts: theirDelivery.attempts,
      nextAttemptAt: theirDelivery.nextAttemptAt,
    });
  });

  it('a new link for another app widens no older session, and a deleted app drops out', async () => {
    const extra = await createPortalApp(t, 'Extra', rx.url('/extra'));
    const portal = await openPortal((await createPortalLink(t, [mine.id, extra.id])).url);
    await openPortal((await createPortalLink(t, [theirs.id])).url);
    expect((await portal.api('POST', `apps/${theirs.id}/test`)).status).toBe(404);

    await t.app.services.webhooks.deleteWebhookApp(extra.id, { actor: { type: 'system' } });
    expect((await portal.api('GET', 'session')).body.apps.map((a: { id: string }) => a.id)).toEqual([mine.id]);
    expect((await portal.api('POST', `apps/${extra.id}/test`)).status).toBe(404);
  });
});

describe('only the portal page drives the API', () => {
  it('refuses requests without the portal header, from another site, without the session, or with an API key', async () => {
    const portal = await openPortal((await createPortalLink(t, [mine.id])).url);
    const before = await t.app.database.client.webhookDelivery.count({ where: { appId: mine.id } });
    const forbidden = { status: 403, body: { error: { code: 'FORBIDDEN' } } };
    // A cross-site form POST carries the cookie only without SameSite=Strict, and never a custom header.
    expect(await portal.api('POST', `apps/${mine.id}/test`, {})).toMatchObject(forbidden);
    expect(await portal.api('POST', `apps/${mine.id}/test`, { 'x-webhook-portal': 'yes' })).toMatchObject(forbidden);
    expect(await portal.api('POST', `apps/${mine.id}/test`, { 'x-webhook-portal': '1', 'sec-fetch-site': 'cross-site' })).toMatchObject(forbidden);
    expect(await portal.api('POST', `apps/${mine.id}/test`, { 'x-webhook-portal': '1', 'sec-fetch-site': 'same-site' })).toMatchObject(forbidden);
    expect(await portal.api('GET', 'session', { 'content-type': 'text/plain' })).toMatchObject(forbidden);
    expect(await t.app.database.client.webhookDelivery.count({ where: { appId: mine.id } })).toBe(before);

    const noCookie = await fetch(`${base}/webhook-portal/api/session`, { headers: { 'x-webhook-portal': '1' } });
    expect(noCookie.status).toBe(401);
    const apiKey = await fetch(`${base}/webhook-portal/api/session`, { headers: { 'x-webhook-portal': '1', authorization: `Bearer ${BOOTSTRAP_KEY}` } });
    expect(apiKey.status).toBe(401);
    const forged = await fetch(`${base}/webhook-portal/api/session`, { headers: { 'x-webhook-portal': '1', cookie: `portcullis_webhook_portal=whs_${'A'.repeat(43)}` } });
    expect(forged.status).toBe(401);
    // The same-origin page's own request passes.
    expect((await portal.api('GET', 'session', { 'x-webhook-portal': '1', 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    // A GET cannot act.
    expect((await portal.api('GET', `apps/${mine.id}/test`)).status).toBe(405);
  });
});

describe('the token stays out of sight', () => {
  it('never reaches a log line, an event, a Referer or the redirect', async () => {
    const link = await createPortalLink(t, [mine.id]);
    const token = tokenOf(link.url);
    const opened = await get(link.url);
    expect(opened.status).toBe(303);
    expect(opened.headers.get('location')).toBe('./');
    expect(opened.headers.get('referrer-policy')).toBe('no-referrer');
    const requestId = opened.headers.get('x-request-id')!;
    const session = (opened.headers.get('set-cookie') ?? '').split(';')[0].split('=')[1];
    await fetch(`${base}/webhook-portal/api/session`, { headers: { 'x-webhook-portal': '1', cookie: `portcullis_webhook_portal=${session}` } });
    // Used links are logged too: the second visit and an expired one.
    await get(link.url);

    const line = await until(
      async () => accessLines(log.lines).find((l) => l.requestId === requestId),
      (l) => l !== undefined,
    );
    expect(line).toMatchObject({ method: 'GET', path: '/webhook-portal/open', status: 303 });
    await until(
      async () => accessLines(log.lines).filter((l) => l.path === '/webhook-portal/api/session').length,
      (n) => n > 0,
    );
    const everything = log.lines.join('\n');
    expect(everything).toContain('/webhook-portal/open');
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.slice(4));
    expect(everything).not.toContain(session);
    expect(everything).not.toContain(session.slice(4));

    const events = await t.app.database.client.event.findMany({ where: { type: { startsWith: 'webhook_portal.' } } });
    expect(events.length).toBeGreaterThan(0);
    expect(JSON.stringify(events)).not.toContain(token.slice(4));
    expect(JSON.stringify(events)).not.toContain(session.slice(4));
    const rows = await t.app.database.client.webhookPortalLink.findMany();
    expect(JSON.stringify(rows)).not.toContain(token.slice(4));
    expect(JSON.stringify(rows)).not.toContain(session.slice(4));

    // Nor a receiver: the portal's audit events are not fanned out (a later event arrives; they never do).
    await t.run(CreateUser, { email: 'after-the-portal@example.com' });
    await until(
      async () => rx.requests.some((r) => r.path === '/mine' && r.body.includes('after-the-portal@example.com')),
      (arrived) => arrived,
    );
    expect(rx.requests.filter((r) => r.body.includes('webhook_portal.'))).toEqual([]);
    expect(rx.requests.filter((r) => r.body.includes(token.slice(4)) || r.body.includes(session.slice(4)))).toEqual([]);
  });
});

describe('behind a proxy', () => {
  it('scopes the cookie to the public path prefix, Secure on https', async () => {
    const behind = await createTestApp({ env: { HOST: '127.0.0.1', PORTCULLIS_PUBLIC_URL: 'https://auth.example.test/gateway/', PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true' } });
    try {
      const { url } = await behind.app.start();
      const { id } = await createPortalApp(behind, 'Behind', 'http://127.0.0.1:9/hooks');
      const link = await createPortalLink(behind, [id]);
      expect(link.url).toMatch(/^https:\/\/auth\.example\.test\/gateway\/webhook-portal\/open\?token=whp_/);
      // The proxy strips /gateway: the gateway itself serves /webhook-portal/open.
      const opened = await get(new URL(`/webhook-portal/open?token=${tokenOf(link.url)}`, url).href);
      expect(opened.status).toBe(303);
      expect(opened.headers.get('set-cookie')).toMatch(/; Path=\/gateway\/webhook-portal; Max-Age=3600; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await behind.close();
    }
  });
});
