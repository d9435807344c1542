/**
 * A real OpenID provider in the test process, on 127.0.0.1: panva's
 * oidc-provider (a certified OP), which checks PKCE, redirect URIs, client
 * authentication and the nonce for real. Pinned to 8.x: 9.x declares
 * Node >= 22, which test/engines.test.ts refuses.
 *
 * Its development interactions take any login name and password; the account
 * a test signs in as is `accounts.get(login)` (its claims). `signIn` plays the
 * browser with fetch and a cookie jar. `tamper` re-signs the ID tokens the
 * token endpoint returns (with changed claims, or with a key the provider does
 * not publish), so a test can hand the gateway a bad ID token without
 * writing a provider of its own. `hold` keeps token requests waiting (a slow
 * provider) until the provider closes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import Provider, { type ClientMetadata } from 'oidc-provider';

export interface TestAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  picture?: string;
  preferred_username?: string;
}

export interface TestOidcProvider {
  /** http://127.0.0.1:<port>, or the issuer named at start (reached through `fetch`). */
  issuer: string;
  /** The provider's origin on this machine. */
  url: string;
  accounts: Map<string, TestAccount>;
  /** Set to rewrite the ID tokens of later token responses. */
  tamper: { claims?: (claims: Record<string, unknown>) => Record<string, unknown>; foreignKey?: boolean } | null;
  /** True: token requests wait until close (a provider that stopped answering). */
  hold: boolean;
  /**
   * Follows an authorization URL as a browser would, signs in as `login`
   * and consents (or cancels, with `consent: false`), and returns the URL
   * the provider redirects to (the gateway's callback), without requesting it.
   */
  signIn(authUrl: string, login: string, options?: { consent?: boolean }): Promise<URL>;
  /** A fetch that sends requests for `issuer`'s host to this provider (for a provider named like a real one). */
  fetch: typeof fetch;
  close(): Promise<void>;
}

export async function startOidcProvider(options: { clients: ClientMetadata[]; issuer?: string; accessTokenTtlSeconds?: number }): Promise<TestOidcProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = options.issuer ?? url;
  const accounts = new Map<string, TestAccount>();

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' } as JWK;
  const foreign = (await generateKeyPair('RS256', { extractable: true })).privateKey;

  const provider = new Provider(issuer, {
    clients: options.clients,
    jwks: { keys: [jwk as never] },
    pkce: { methods: ['S256'], required: () => true },
    features: { devInteractions: { enabled: true } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'given_name', 'family_name', 'picture', 'preferred_username'] },
    ttl: { AccessToken: options.accessTokenTtlSeconds ?? 3600, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600, RefreshToken: 86_400 },
    cookies: { keys: ['oidc-provider-test-cookie-key'] },
    // Every code flow gets a refresh token (stored provider tokens are refreshed in tests).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx, id) => {
      const account = accounts.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ ...account }) };
    },
    // Silence the provider's console warnings about its development settings.
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  // Behind the fetch below, requests say which host they were for.
  provider.proxy = true;

  const state: Pick<TestOidcProvider, 'tamper' | 'hold'> = { tamper: null, hold: false };
  const held: Array<() => void> = [];
  provider.use(async (ctx, next) => {
    if (ctx.path === '/token' && state.hold) {
      await new Promise<void>((resolve) => held.push(resolve));
      return;
    }
    await next();
    const tamper = state.tamper;
    if (ctx.path !== '/token' || !tamper || ctx.status !== 200) return;
    const body = ctx.body as { id_token?: string };
    if (!body?.id_token) return;
    const header = decodeProtectedHeader(body.id_token);
    const claims = tamper.claims ? tamper.claims(decodeJwt(body.id_token)) : decodeJwt(body.id_token);
    body.id_token = await new SignJWT(claims as never).setProtectedHeader({ alg: 'RS256', kid: header.kid, typ: header.typ }).sign(tamper.foreignKey ? foreign : privateKey);
  });
  server.on('request', provider.callback());

  const origin = new URL(issuer);
  const routed: typeof fetch = (input, init) => {
    const target = new URL(input instanceof Request ? input.url : String(input));
    if (target.host !== origin.host) return fetch(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('x-forwarded-proto', origin.protocol.replace(':', ''));
    headers.set('x-forwarded-host', origin.host);
    return fetch(`${url}${target.pathname}${target.search}`, { ...init, headers });
  };

  async function signIn(authUrl: string, login: string, signInOptions: { consent?: boolean } = {}): Promise<URL> {
    const cookies = new Map<string, string>();
    let next = new URL(authUrl);
    let method = 'GET';
    let body: URLSearchParams | undefined;
    for (let hop = 0; hop < 20; hop++) {
      if (next.host !== origin.host) return next;
      const response = await routed(next.href, {
        method,
        body,
        redirect: 'manual',
        headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const at = pair.indexOf('=');
        cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1));
      }
      if (response.status >= 300 && response.status < 400) {
        next = new URL(response.headers.get('location')!, next);
        method = 'GET';
        body = undefined;
        continue;
      }
      const html = await response.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      if (response.status !== 200 || !action) throw new Error(`the provider answered ${response.status} at ${next.pathname}: ${html.slice(0, 300)}`);
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
      if (prompt === 'consent' && signInOptions.consent === false) {
        const abort = /href="([^"]*\/abort)"/.exec(html)?.[1];
        next = new URL(abort ?? `${new URL(action, next).pathname}/abort`, next);
        method = 'GET';
        body = undefined;
        continue;
      }
      next = new URL(action, next);
      method = 'POST';
      body = new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any password' } : { prompt: prompt ?? 'consent' });
    }
    throw new Error('too many redirects at the provider');
  }

  return {
    issuer,
    url,
    accounts,
    get tamper() {
      return state.tamper;
    },
    set tamper(value) {
      state.tamper = value;
    },
    get hold() {
      return state.hold;
    },
    set hold(value) {
      state.hold = value;
    },
    signIn,
    fetch: routed,
    async close() {
      for (const release of held.splice(0)) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
