/**
 * Threats at the HTTP and WebSocket edges of a started gateway:
 * - a request yoga cannot parse is answered with a quote of its body (a
 *   password, a token) or logged with one;
 * - any website, opened in a browser that can reach the gateway (an
 *   operator's, inside the network), reads the gateway's answers because CORS
 *   reflected every origin with credentials: the browser becomes a proxy;
 * - one WebSocket opens subscriptions without bound, each holding a listener
 *   and an event buffer on the server.
 */
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { userTopic } from '../src/kernel/events/pubsub.js';
import { collect, subscribed, wsClient } from './e2e/event-clients.js';
import { graphql } from './gql/index.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp, capturedLogger } from './helpers/app.js';

const CreateUser = graphql(`
  mutation EdgesCreateUser($email: String!) {
    createUser(input: { email: $email }) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);
const Lock = graphql(`
  mutation EdgesLock($id: ID!) { lockUser(input: { userId: $id }) { __typename } }
`);

const USER_EVENTS = 'subscription($userId: ID!) { userEvents(userId: $userId) { id type } }';
const MARKER = 'hunter2-SECRET-MARKER-7f3a';
const ALLOWED = 'https://app.example.com';
const ALSO_ALLOWED = 'https://admin.example.com:8443';

let t: TestApp;
let url: string;
let cors: TestApp;
let corsUrl: string;
const { lines: logLines, logger } = capturedLogger();

beforeAll(async () => {
  t = await createTestApp({ logger, env: { PORTCULLIS_MAX_SUBSCRIPTIONS_PER_SOCKET: '3' } });
  ({ url } = await t.app.start());
  cors = await createTestApp({ env: { PORTCULLIS_CORS_ORIGINS: `${ALLOWED}, ${ALSO_ALLOWED}` } });
  ({ url: corsUrl } = await cors.app.start());
});
afterAll(async () => {
  await t?.close();
  await cors?.close();
});

describe('requests that cannot be parsed', () => {
  it.each([[undefined], ['application/json'], ['application/graphql-response+json']])(
    'a POST body that is not JSON gets 400 without a quote of the body (accept: %s)',
    async (accept) => {
      const body = `{"query":"mutation($p: String!) { login(input: { identifier: \\"ada\\", password: $p }) { __typename } }","variables":{"p":"${MARKER}"`;
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}) }, body });
      const text = await res.text();
      expect(res.status).toBe(400);
      expect(text).not.toContain(MARKER);
      expect(JSON.parse(text).errors[0].extensions.code).toBe('BAD_REQUEST');
    },
  );

  it('GET variables that are not JSON get 400 without a quote, and nothing of them is logged', async () => {
    const query = encodeURIComponent('query($p: String) { __typename }');
    const res = await fetch(`${url}?query=${query}&variables=${encodeURIComponent(`{"p":"${MARKER}`)}`, { headers: { accept: 'application/json' } });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text).not.toContain(MARKER);
    expect(JSON.parse(text).errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(logLines.filter((l) => l.includes(MARKER))).toEqual([]);
  });

  it('well-formed requests are answered as before', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BOOTSTRAP_KEY}` },
      body: JSON.stringify({ query: 'query($n: Int!) { users(first: $n) { totalCount } }', variables: { n: 1 } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { users: { totalCount: expect.any(Number) } } });
  });
});

describe('CORS', () => {
  const post = (target: string, origin: string) =>
    fetch(target, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
  const preflight = (target: string, origin: string) =>
    fetch(target, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });

  it('by default no origin is allowed, for requests and preflights', async () => {
    for (const origin of ['https://evil.example', ALLOWED, 'null']) {
      for (const res of [await post(url, origin), await preflight(url, origin)]) {
        expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
        expect(res.headers.get('access-control-allow-credentials'), origin).toBeNull();
      }
    }
  });

  it('a listed origin is echoed exactly, never * and never with credentials; others get nothing', async () => {
    for (const origin of [ALLOWED, ALSO_ALLOWED]) {
      const res = await post(corsUrl, origin);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
      const pre = await preflight(corsUrl, origin);
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe(origin);
      expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
      expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
      expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    }
    for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', 'http://app.example.com', 'null']) {
      for (const res of [await post(corsUrl, origin), await preflight(corsUrl, origin)]) {
        expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
        expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
      }
    }
  });

  it('the public keys stay readable from any origin, without credentials', async () => {
    const res = await fetch(`${new URL(url).origin}/.well-known/jwks.json`, { headers: { origin: 'https://evil.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });
});

describe('subscriptions per WebSocket', () => {
  const clients: Client[] = [];
  afterAll(async () => {
    for (const client of clients) await client.dispose();
  });

  it('refuses the one past PORTCULLIS_MAX_SUBSCRIPTIONS_PER_SOCKET on that socket; completing one frees a slot', async () => {
    const created = await t.run(CreateUser, { email: 'edges-ws@example.com' });
    if (created.createUser.__typename !== 'CreateUserSuccess') throw new Error('createUser failed');
    const userId = created.createUser.user.id;
    const ws = wsClient(url, BOOTSTRAP_KEY);
    clients.push(ws);

    const running = [1, 2, 3].map(() => collect(ws, USER_EVENTS, { userId }));
    await subscribed(t.app, userId, 3);
    const refused = collect(ws, USER_EVENTS, { userId });
    const listeners = () => t.app.events.pubsub.listenerCount(userTopic(userId));
    // Either the refusal arrives, or (without a limit) a fourth listener goes live.
    await vi.waitFor(() => expect(refused.ended !== undefined || listeners() > 3).toBe(true), { timeout: 10_000, interval: 20 });
    expect(refused.ended).toEqual([expect.objectContaining({ extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 3 } })]);
    expect(listeners()).toBe(3);

    // Another socket has its own budget.
    const other = wsClient(url, BOOTSTRAP_KEY);
    clients.push(other);
    const elsewhere = collect(other, USER_EVENTS, { userId });
    await subscribed(t.app, userId, 4);

    running[0].stop();
    await subscribed(t.app, userId, 3);
    const again = collect(ws, USER_EVENTS, { userId });
    await subscribed(t.app, userId, 4);
    await t.run(Lock, { id: userId });
    for (const sub of [again, running[1], running[2], elsewhere]) {
      expect((await sub.waitFor(1))[0].data.userEvents.type).toBe('USER_LOCKED');
    }
  });
});
