/**
 * GraphiQL in a real browser: the page renders from the gateway's own assets
 * (no CDN, so it works offline and in closed networks) and loads the schema.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { chromium, launchChromium } from '../helpers/browser.js';
import { needTool } from '../helpers/system-tools.js';

let t: TestApp;
let url: string;
let browser: Browser | undefined;

beforeAll(async () => {
  t = await createTestApp({ env: { HOST: '127.0.0.1' } });
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
