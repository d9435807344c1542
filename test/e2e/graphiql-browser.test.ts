/**
 * GraphiQL in a real browser: the page renders from the gateway's own assets
 * (no CDN, so it works offline and in closed networks) and loads the schema;
 * and a subscription run from GraphiQL, authenticated by the headers pane,
 * shows a live event (subscriptions go over SSE, which carries the headers;
 * GraphiQL's WebSocket would not).
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Browser } from 'playwright-core';
import { systemMeta } from '../../src/kernel/events/outbox.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from '../helpers/app.js';
import { chromium, launchChromium } from '../helpers/browser.js';
import { needTool } from '../helpers/system-tools.js';

let t: TestApp;
let url: string;
let browser: Browser | undefined;

beforeAll(async () => {
  t = await createTestApp({ env: { HOST: '127.0.0.1', PORTCULLIS_RELAY_POLL_MS: '50' } });
  url = (await t.app.start()).url;
  if (chromium.present) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t.close();
});

it('renders GraphiQL from local assets and introspects the schema', async (ctx) => {
  // Chromium comes from Debian (.ci/run installs it).
  needTool(ctx, chromium);
  const page = await browser!.newPage();
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  const introspection = page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST');
  await page.goto(url);
  await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
  const response = await introspection;
  expect(response.status()).toBe(200);
  expect(JSON.stringify(await response.json())).toContain('"UserState"');
  expect(await page.title()).toBe('Portcullis');
  const external = requested.filter((u) => !u.startsWith(new URL(url).origin) && !u.startsWith('data:') && !u.startsWith('blob:'));
  expect(external).toEqual([]);
  await page.close();
});

it('runs a subscription with the key from the headers pane and shows a live event', async (ctx) => {
  needTool(ctx, chromium);
  const user = await t.app.services.users.createUser({ email: 'graphiql@example.com' }, systemMeta);
  const page = await browser!.newPage();
  // What a person types into the editor and the headers pane, put where GraphiQL keeps them.
  const query = `subscription { userEvents(userId: "${user.id}") { type } }`;
  const headers = JSON.stringify({ Authorization: `Bearer ${BOOTSTRAP_KEY}` });
  await page.addInitScript(([q, h]) => {
    localStorage.setItem('graphiql:query', q);
    localStorage.setItem('graphiql:headers', h);
  }, [query, headers]);
  await page.goto(url);
  await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
  // The subscription is open once the server holds a listener on the user's topic.
  const subscribed = vi.waitFor(() => expect(t.app.events.pubsub.listenerCount(`user:${user.id}`)).toBe(1), { timeout: 20_000, interval: 50 });
  await page.click('.graphiql-execute-button');
  await subscribed;
  await t.app.services.users.updateUser(user.id, { displayName: 'Seen in GraphiQL' }, systemMeta);
  await page.waitForFunction(() => document.querySelector('.graphiql-response')?.textContent?.includes('USER_UPDATED'), undefined, { timeout: 20_000 });
  await page.close();
});
