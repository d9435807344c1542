/**
 * "Sign in with …" in a real browser: headless Chromium opens an app's page,
 * which calls startIdpIntent on the gateway and follows authUrl to an OpenID
 * provider (oidc-provider on 127.0.0.1); the user logs in on the provider's
 * page and consents; the provider sends the browser to the gateway's
 * /idps/callback, which sends it on to the app's success URL with the
 * intent's id and token; the app's page signs the user in with
 * loginWithIdpIntent. Every request stays on 127.0.0.1: the provider's page
 * asks for a web font, which the test refuses.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../gql/index.js';
import { chromium, launchChromium } from '../helpers/browser.js';
import { freePort, startIdpGateway, type IdpGateway } from '../helpers/identity-providers.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { seed } from '../helpers/seed.js';
import { needTool } from '../helpers/system-tools.js';

const CreateProvider = graphql(`
  mutation IdpBrowserCreateProvider($input: CreateIdentityProviderInput!) {
    createIdentityProvider(input: $input) { __typename ... on CreateIdentityProviderSuccess { identityProvider { id } } ... on Error { code message } }
  }
`);
const AddLink = graphql(`
  mutation IdpBrowserAddLink($input: AddIdpLinkInput!) {
    addIdpLink(input: $input) { __typename ... on Error { code } }
  }
`);
const SignedIn = graphql(`
  query IdpBrowserUser($id: ID!) {
    user(id: $id) { lastLoginAt idpLinks { lastUsedAt } events(first: 50, types: [USER_LOGGED_IN]) { edges { node { data } } } }
  }
`);

/** The app: a sign-in button that starts an intent, and the success page that signs in with it. */
function appPages(gatewayUrl: string, idpId: string) {
  const call = `async function call(query, input) {
      const response = await fetch(${JSON.stringify(`${gatewayUrl}/graphql`)}, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables: { input } }),
      });
      return (await response.json()).data;
    }`;
  const page = (body: string, script: string) =>
    `<!doctype html><html><head><meta charset="utf-8"><title>Example app</title></head><body>${body}<script>${call}\n${script}</script></body></html>`;
  return {
    '/': page(
      '<button id="signin">Sign in with Example ID</button><p id="status"></p>',
      `document.getElementById('signin').addEventListener('click', async () => {
        const data = await call('mutation Start($input: StartIdpIntentInput!) { startIdpIntent(input: $input) { __typename ... on StartIdpIntentSuccess { authUrl } ... on Error { code } } }',
          { idpId: ${JSON.stringify(idpId)}, successUrl: location.origin + '/done', failureUrl: location.origin + '/failed' });
        if (data.startIdpIntent.authUrl) location.href = data.startIdpIntent.authUrl;
        else document.getElementById('status').textContent = data.startIdpIntent.code;
      });`,
    ),
    '/done': page(
      '<p id="status">Signing in…</p>',
      `(async () => {
        const params = new URLSearchParams(location.search);
        // The token leaves the address bar (and the history) at once.
        history.replaceState(null, '', '/done');
        const data = await call('mutation Login($input: LoginWithIdpIntentInput!) { loginWithIdpIntent(input: $input) { __typename ... on LoginWithIdpIntentSuccess { user { email } session { id } } ... on Error { code } } }',
          { intentId: params.get('id'), token: params.get('token') });
        const r = data.loginWithIdpIntent;
        const status = document.getElementById('status');
        status.textContent = r.user ? 'Signed in as ' + r.user.email + '.' : 'Refused: ' + r.code;
        status.dataset.outcome = r.user ? 'signed-in' : 'error';
      })();`,
    ),
    '/failed': page('<p id="status" data-outcome="error"></p>', `document.getElementById('status').textContent = 'Failed: ' + new URLSearchParams(location.search).get('error');`),
  } as Record<string, string>;
}

let gw: IdpGateway;
let op: TestOidcProvider;
let app: Server;
let appOrigin: string;
let browser: Browser | undefined;
let userId: string;
let pages: Record<string, string> = {};

beforeAll(async () => {
  const appPort = await freePort();
  appOrigin = `http://127.0.0.1:${appPort}`;
  gw = await startIdpGateway({ env: { PORTCULLIS_IDP_REDIRECT_ORIGINS: appOrigin, PORTCULLIS_CORS_ORIGINS: appOrigin } });
  op = await startOidcProvider({ clients: [{ client_id: 'portcullis', client_secret: 'browser-client-secret-0123', redirect_uris: [gw.callbackUrl] }] });
  op.accounts.set('ada', { sub: 'ada-browser-sub', email: 'ada@example.com', email_verified: true });
  const { createIdentityProvider: created } = await gw.t.run(CreateProvider, {
    input: { name: 'Example ID', kind: 'OIDC', issuer: op.issuer, clientId: 'portcullis', clientSecret: 'browser-client-secret-0123' },
  });
  if (created.__typename !== 'CreateIdentityProviderSuccess') throw new Error(JSON.stringify(created));
  const ada = await seed(gw.t).user({ email: 'ada@example.com' });
  userId = ada.id;
  await gw.t.run(AddLink, { input: { userId, idpId: created.identityProvider.id, subject: 'ada-browser-sub' } });
  pages = appPages(gw.publicUrl, created.identityProvider.id);
  app = createServer((req, res) => {
    const body = pages[(req.url ?? '/').split('?')[0]];
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(body ?? 'Not found');
  });
  await new Promise<void>((resolve) => app.listen(appPort, '127.0.0.1', resolve));
  expect((app.address() as AddressInfo).port).toBe(appPort);
  if (chromium.present) browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => app?.close(resolve));
  await gw?.t.close();
  await op?.close();
});

describe('signing in with an identity provider in a browser', () => {
  it("goes from the app to the provider's login page, back through the gateway, and signs the user in", async (ctx) => {
    // Chromium comes from Debian (`apt-get install -y chromium`; .ci/run installs it).
    needTool(ctx, chromium);
    const context = await browser!.newContext();
    const refused: string[] = [];
    const requested: string[] = [];
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') {
        requested.push(url.origin);
        return route.continue();
      }
      refused.push(url.href);
      return route.abort();
    });
    const page = await context.newPage();
    await page.goto(`${appOrigin}/`);
    await page.click('#signin');

    // The provider's own pages: sign in, then consent.
    await page.waitForURL((url) => url.origin === op.url, { timeout: 20_000 });
    await page.fill('input[name="login"]', 'ada');
    await page.fill('input[name="password"]', 'any password');
    await page.click('button[type="submit"]');
    await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached', timeout: 20_000 });
    await page.click('button[type="submit"]');

    await page.waitForSelector('#status[data-outcome]', { timeout: 20_000 });
    expect(await page.textContent('#status')).toBe('Signed in as ada@example.com.');
    expect(page.url()).toBe(`${appOrigin}/done`);

    const { user } = await gw.t.run(SignedIn, { id: userId });
    expect(user!.lastLoginAt).toBeTruthy();
    expect(user!.idpLinks[0].lastUsedAt).toBeTruthy();
    expect(user!.events.edges.map((e) => e.node.data)).toEqual([expect.objectContaining({ method: 'idp' })]);
    // Through the gateway's callback, and nowhere but this machine (the provider's page asked for a web font).
    expect(new Set(requested)).toEqual(new Set([appOrigin, op.url, gw.publicUrl]));
    expect(refused.every((u) => u.startsWith('https://fonts.googleapis.com/'))).toBe(true);
    await context.close();
  });
});
