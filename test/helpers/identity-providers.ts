/**
 * What identity-provider tests share: a gateway listening on 127.0.0.1 (the
 * providers redirect the browser to its /idps/callback), a GitHub-shaped
 * OAuth 2.0 server (GitHub's API is its own, so a stub of its shape is the
 * honest test of the OAuth-only path), and the browser's last hop: from the
 * provider's redirect through the callback to the app's success or failure URL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppOptions } from '../../src/app.js';
import { createTestApp, type TestApp } from './app.js';
import { freePort } from './ports.js';

/** The app's origin in these tests: where intents send the browser back to (never requested). */
export const APP_ORIGIN = 'https://app.example.com';
export const SUCCESS_URL = `${APP_ORIGIN}/auth/done`;
export const FAILURE_URL = `${APP_ORIGIN}/auth/failed`;

// A free port, so the gateway's public URL can name it before it starts.
export { freePort } from './ports.js';

export interface IdpGateway {
  t: TestApp;
  publicUrl: string;
  callbackUrl: string;
}

/** A test gateway listening on 127.0.0.1, its public URL and redirect allowlist set. */
export async function startIdpGateway(options: AppOptions & { env?: Record<string, string> } = {}): Promise<IdpGateway> {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const t = await createTestApp({
    ...options,
    env: { HOST: '127.0.0.1', PORT: String(port), PORTCULLIS_PUBLIC_URL: publicUrl, PORTCULLIS_IDP_REDIRECT_ORIGINS: APP_ORIGIN, ...options.env },
  });
  await t.app.start();
  return { t, publicUrl, callbackUrl: `${publicUrl}/idps/callback` };
}

/** Where the gateway's callback sent the browser: the app URL and its query. */
export interface CallbackOutcome {
  status: number;
  location: URL | null;
  id: string | null;
  token: string | null;
  error: string | null;
  body: string;
}

/** Requests the callback URL a provider redirected to (the browser's last hop), without following the gateway's redirect. */
export async function completeCallback(callback: URL | string): Promise<CallbackOutcome> {
  const response = await fetch(callback, { redirect: 'manual' });
  const location = response.headers.get('location') ? new URL(response.headers.get('location')!) : null;
  return {
    status: response.status,
    location,
    id: location?.searchParams.get('id') ?? null,
    token: location?.searchParams.get('token') ?? null,
    error: location?.searchParams.get('error') ?? null,
    body: await response.text(),
  };
}

export interface GitHubAccount {
  id: number;
  login: string;
  name?: string | null;
  avatar_url?: string;
  emails: Array<{ email: string; verified: boolean; primary: boolean }>;
}

export interface GitHubStub {
  url: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, GitHubAccount>;
  /** The paths requested, in order (what the gateway asked). */
  requests: string[];
  /** Plays the browser at the authorize endpoint as `login`; returns the redirect to the gateway's callback. */
  signIn(authUrl: string, login: string): Promise<URL>;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => resolve(body));
  });

/**
 * GitHub's OAuth 2.0 shape on 127.0.0.1: /login/oauth/authorize (the account
 * named by `login` approves at once), /login/oauth/access_token (checks the
 * client secret, the redirect URI, the single-use code and its PKCE
 * verifier), /user and /user/emails (with the access token).
 */
export async function startGitHubStub(): Promise<GitHubStub> {
  const clientId = 'Iv1.stubclient';
  const clientSecret = randomBytes(16).toString('hex');
  const accounts = new Map<string, GitHubAccount>();
  const requests: string[] = [];
  const codes = new Map<string, { login: string; redirectUri: string; challenge: string | null }>();
  const tokens = new Map<string, string>();

  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server: Server = createHttpServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    requests.push(url.pathname);
    if (url.pathname === '/login/oauth/authorize') {
      const q = url.searchParams;
      const account = accounts.get(q.get('login') ?? '');
      if (q.get('client_id') !== clientId || !account) return json(res, 400, { error: 'bad request' });
      const code = randomBytes(10).toString('hex');
      codes.set(code, { login: account.login, redirectUri: q.get('redirect_uri') ?? '', challenge: q.get('code_challenge') });
      const back = new URL(q.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      const basic = req.headers.authorization?.startsWith('Basic ') ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString().split(':') : [];
      const id = form.get('client_id') ?? decodeURIComponent(basic[0] ?? '');
      const secret = form.get('client_secret') ?? decodeURIComponent(basic[1] ?? '');
      if (id !== clientId || secret !== clientSecret) return json(res, 401, { error: 'invalid_client' });
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (!grant || grant.redirectUri !== form.get('redirect_uri') || (grant.challenge && grant.challenge !== challenge)) return json(res, 400, { error: 'bad_verification_code' });
      const token = `gho_${randomBytes(16).toString('hex')}`;
      tokens.set(token, grant.login);
      return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    const login = tokens.get((req.headers.authorization ?? '').replace(/^(Bearer|token) /i, ''));
    const account = login ? accounts.get(login) : undefined;
    if (!account) return json(res, 401, { message: 'Bad credentials' });
    if (url.pathname === '/user') {
      const primary = account.emails.find((e) => e.primary);
      return json(res, 200, { id: account.id, login: account.login, name: account.name ?? null, avatar_url: account.avatar_url ?? null, email: primary?.email ?? null });
    }
    if (url.pathname === '/user/emails') return json(res, 200, account.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })));
    return json(res, 404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    clientId,
    clientSecret,
    accounts,
    requests,
    async signIn(authUrl, login) {
      const authorize = new URL(authUrl);
      authorize.searchParams.set('login', login);
      const response = await fetch(authorize, { redirect: 'manual' });
      if (response.status !== 302) throw new Error(`the stub answered ${response.status}: ${await response.text()}`);
      return new URL(response.headers.get('location')!);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
