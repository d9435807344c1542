/**
 * Passkeys in a real browser: headless Chromium with a virtual authenticator
 * (Chrome DevTools Protocol, WebAuthn domain) opens the gateway's demo page,
 * registers a passkey with a registration link code, signs in with it, and the
 * result is checked through the GraphQL API.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { graphql } from '../gql/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { chromium, launchChromium } from '../helpers/browser.js';
import { needTool } from '../helpers/system-tools.js';
import { CreateLink, CreateUser } from '../helpers/webauthn-operations.js';

const PasskeyState = graphql(`
  query WaBrowserState($id: ID!) {
    user(id: $id) {
      authMethods { __typename id kind createdAt lastUsedAt ... on PasskeyMethod { name deviceType backedUp } }
      events(first: 50) { edges { node { type data } } }
    }
  }
`);

/** A free port, so the configured WebAuthn origin can name it before the gateway starts. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

let t: TestApp;
let origin: string;
let browser: Browser | undefined;

beforeAll(async () => {
  const port = await freePort();
  origin = `http://localhost:${port}`;
  t = await createTestApp({
    env: { HOST: '127.0.0.1', PORT: String(port), PORTCULLIS_PASSKEY_DEMO: 'true', PORTCULLIS_WEBAUTHN_RP_ID: 'localhost', PORTCULLIS_WEBAUTHN_ORIGINS: origin },
  });
  await t.app.start();
  if (chromium.present) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('the passkey demo page', () => {
  it('is served with a strict content security policy, and is absent unless enabled', async () => {
    const page = await fetch(`${origin}/passkeys`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).toContain('/passkeys/simplewebauthn-browser.js');
    const bundle = await fetch(`${origin}/passkeys/simplewebauthn-browser.js`);
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toContain('SimpleWebAuthnBrowser');
    expect((await fetch(`${origin}/passkeys/../package.json`)).status).toBe(404);

    const off = await createTestApp({ env: { HOST: '127.0.0.1' } });
    try {
      const { url } = await off.app.start();
      expect((await fetch(new URL('/passkeys', url))).status).toBe(404);
    } finally {
      await off.close();
    }
  });

  it('registers a passkey from a registration link and signs in with it, in headless Chromium', async (ctx) => {
    // Chromium comes from Debian (`apt-get install -y chromium`; .ci/run installs it).
    needTool(ctx, chromium);
    const created = await t.run(CreateUser, { input: { email: 'browser@example.com' } });
    if (created.createUser.__typename !== 'CreateUserSuccess') throw new Error('createUser failed');
    const userId = created.createUser.user.id;
    const link = await t.run(CreateLink, { input: { userId, returnCode: true } });
    if (link.createPasskeyRegistrationLink.__typename !== 'CreatePasskeyRegistrationLinkSuccess') throw new Error(JSON.stringify(link));
    const code = link.createPasskeyRegistrationLink.linkCode!;

    const context = await browser!.newContext();
    const page = await context.newPage();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    // A platform authenticator that holds discoverable credentials and verifies the user (like Touch ID).
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });

    await page.goto(`${origin}/passkeys?user=${encodeURIComponent(userId)}&code=${encodeURIComponent(code)}`);
    // The code leaves the address bar as soon as the page has read it.
    expect(page.url()).toBe(`${origin}/passkeys`);
    await page.fill('#passkey-name', 'Virtual authenticator');
    await page.click('#register-button');
    await page.waitForSelector('#status[data-outcome="registered"], #status[data-outcome="error"]', { timeout: 20_000 });
    expect(await page.textContent('#status')).toContain('Passkey registered');

    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
    expect(Buffer.from(credentials[0].userHandle!, 'base64').toString()).toBe(userId);

    await page.click('#signin-button');
    await page.waitForSelector('#status[data-outcome="signed-in"], #status[data-outcome="error"]', { timeout: 20_000 });
    expect(await page.textContent('#status')).toBe('Signed in as browser@example.com.');

    const { user } = await t.run(PasskeyState, { id: userId });
    expect(user!.authMethods).toMatchObject([{ __typename: 'PasskeyMethod', kind: 'PASSKEY', name: 'Virtual authenticator', backedUp: false }]);
    expect(user!.authMethods[0].lastUsedAt).toBeTruthy();
    const types = user!.events.edges.map((e) => e.node.type);
    expect(types).toEqual(expect.arrayContaining(['USER_PASSKEY_ADDED', 'USER_PASSKEY_VERIFIED', 'USER_LOGGED_IN']));
    expect(JSON.parse((await page.textContent('#result'))!)).toMatchObject({ sessionId: expect.stringMatching(/^ses_/) });
    const row = await t.app.database.client.authMethod.findFirstOrThrow({ where: { userId } });
    expect(row.credentialId).toBe(Buffer.from(credentials[0].credentialId, 'base64').toString('base64url'));
    expect(row.counter).toBeGreaterThan(0);

    // The same link cannot register a second passkey.
    await page.goto(`${origin}/passkeys?user=${encodeURIComponent(userId)}&code=${encodeURIComponent(code)}`);
    await page.click('#register-button');
    await page.waitForSelector('#status[data-outcome="error"]', { timeout: 20_000 });
    expect(await page.textContent('#status')).toContain('CODE_ALREADY_USED');

    // Everything the page loaded came from the gateway: no CDN.
    expect(requested.filter((u) => !u.startsWith(origin))).toEqual([]);
    await context.close();
  });
});
