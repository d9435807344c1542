/**
 * The webhook portal in a real browser: headless Chromium opens a link from
 * createWebhookPortalLink, sees a failed delivery (the receiver on 127.0.0.1
 * answered 500), retries it, and sees the new attempt succeed; then sends a
 * test event and rotates the secret (shown once, gone on reload). The page loads
 * nothing from elsewhere and breaks no rule of its content security policy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { graphql } from '../gql/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { chromium, launchChromium } from '../helpers/browser.js';
import { needTool } from '../helpers/system-tools.js';
import { createPortalApp, createPortalLink, freePort, until, webhookReceiver } from '../helpers/webhook-portal.js';

const CreateUser = graphql(`
  mutation PortalBrowserCreateUser($email: String!) { createUser(input: { email: $email }) { __typename } }
`);
const Deliveries = graphql(`
  query PortalBrowserDeliveries($id: ID!) {
    webhookApp(id: $id) { deliveries(first: 10) { edges { node { id status attempts attemptLog { responseStatus } } } } }
  }
`);

const rx = webhookReceiver();
let t: TestApp;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  await rx.listen();
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  t = await createTestApp({
    env: {
      HOST: '127.0.0.1',
      PORT: String(port),
      PORTCULLIS_PUBLIC_URL: origin,
      PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true',
      // One attempt: the failed delivery waits for the retry from the page.
      PORTCULLIS_WEBHOOK_RETRY_SCHEDULE: '0',
      PORTCULLIS_RELAY_POLL_MS: '50',
    },
  });
  await t.app.start();
  if (chromium.present) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
  await rx.close();
});

describe('the webhook portal in headless Chromium', () => {
  it('opens a link, shows a failed delivery, retries it, and shows the new attempt', async (ctx) => {
    // Chromium comes from Debian (`apt-get install -y chromium`; .ci/run installs it).
    needTool(ctx, chromium);
    rx.answer('/hooks', 500);
    const app = await createPortalApp(t, 'Billing', rx.url('/hooks'));
    await t.run(CreateUser, { email: 'portal-browser@example.com' });
    const failed = await until(
      async () => (await t.run(Deliveries, { id: app.id })).webhookApp!.deliveries.edges.map((e) => e.node),
      (list) => list.some((d) => d.status === 'FAILED'),
    );
    const delivery = failed.find((d) => d.status === 'FAILED')!;
    const link = await createPortalLink(t, [app.id]);

    const context = await browser!.newContext();
    const page = await context.newPage();
    const requested: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));

    await page.goto(link.url);
    // The token leaves the address bar at once (the first visit traded it for a cookie).
    expect(page.url()).toBe(`${origin}/webhook-portal/`);
    const section = `section.app[data-app-id="${app.id}"]`;
    const row = `${section} tr.delivery[data-delivery-id="${delivery.id}"]`;
    await page.waitForSelector(`${row}[data-status="FAILED"]`, { timeout: 20_000 });
    expect(await page.textContent(`${section} .app-name`)).toBe('Billing');
    expect(await page.textContent(`${section} .app-url`)).toBe(rx.url('/hooks'));
    expect(await page.textContent(`${section} .app-state`)).toBe('Enabled');
    expect(await page.textContent(`${row} .event`)).toBe('user.created');
    expect(await page.textContent(`${row} .response`)).toBe('500');
    expect(await page.textContent(`${row} .latency`)).toMatch(/^\d+ ms$/);
    expect(await page.textContent(`${row} .error`)).toBe('HTTP 500');

    await page.click(`${row} button[data-action="retry"]`);
    // The page follows the queued attempt until it is done.
    await page.waitForSelector(`${row}[data-status="SUCCEEDED"]`, { timeout: 20_000 });
    expect(await page.textContent(`${row} .response`)).toBe('200');
    expect(await page.textContent(`${row} .error`)).toBe('');
    expect(await page.textContent(`${row} .attempts summary`)).toBe('2');
    await page.click(`${row} .attempts summary`);
    const attempts = await page.locator(`${row} li.attempt`).allTextContents();
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toContain('HTTP 500');
    expect(attempts[1]).toContain('HTTP 200');
    expect(await page.locator(`${row} button[data-action="retry"]`).count()).toBe(0);

    const after = (await t.run(Deliveries, { id: app.id })).webhookApp!.deliveries.edges.map((e) => e.node).find((d) => d.id === delivery.id);
    expect(after).toMatchObject({ status: 'SUCCEEDED', attempts: 2, attemptLog: [{ responseStatus: 500 }, { responseStatus: 200 }] });

    // The other two actions: a test event, and a new secret shown once.
    await page.click(`${section} button[data-action="test"]`);
    await page.waitForSelector(`${section} tr.delivery[data-status="SUCCEEDED"] >> text=webhook.test`, { timeout: 20_000 });
    expect(await page.locator(`${section} .secret`).isHidden()).toBe(true);
    await page.click(`${section} button[data-action="rotate"]`);
    await page.click(`${section} button[data-action="rotate-confirm"]`);
    await page.waitForSelector(`${section} .secret:not([hidden])`, { timeout: 20_000 });
    expect(await page.textContent(`${section} .secret-value`)).toMatch(/^whsec_/);
    expect(await page.textContent(`${section} .secret-grace`)).toContain('The previous secret also signs deliveries until');

    // A reload keeps the session (the cookie, not the token); the link itself is spent.
    await page.reload();
    await page.waitForSelector(`${row}[data-status="SUCCEEDED"]`, { timeout: 20_000 });
    expect(await page.locator(`${section} .secret`).isHidden()).toBe(true);
    const other = await context.browser()!.newContext();
    const second = await other.newPage();
    await second.goto(link.url);
    expect(await second.textContent('h1')).toBe('Link already used');
    await other.close();

    // Everything came from the gateway (no CDN), and nothing broke the page's rules.
    expect(requested.filter((u) => !u.startsWith(origin))).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
