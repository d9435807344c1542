/**
 * Threats: one address spraying passwords takes the budget of every other
 * caller, or gets a fresh budget per request, because the gateway keys its
 * per-address limit on something other than the connection's address; and
 * the audit log names the wrong address (or one the caller wrote itself in
 * X-Forwarded-For), so an investigation follows the wrong client.
 *
 * In-process tests (yoga.fetch) have no socket: every caller there shares one
 * key. Here the gateway listens on 127.0.0.1 and the clients connect from two
 * loopback source addresses, 127.0.0.1 and 127.0.0.2 (`localAddress`), so the
 * gateway sees two real peers.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from './helpers/app.js';

const LOGIN = 'mutation ($identifier: String!, $password: String!) { login(input: { identifier: $identifier, password: $password }) { __typename } }';

interface Answer {
  status: number;
  body: { data?: Record<string, any>; errors?: Array<{ extensions?: { code?: string } }> };
}

/** POSTs an operation over a new connection whose source address is `from`. */
function postFrom(from: string, url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Answer> {
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    // agent: false, so no connection from one source address is reused for the other.
    const req = http.request(url, { method: 'POST', localAddress: from, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const opened: TestApp[] = [];
async function started(env: Record<string, string>) {
  const t = await createTestApp({ env: { HOST: '127.0.0.1', ...env } });
  opened.push(t);
  return { t, url: (await t.app.start()).url };
}
afterAll(async () => {
  for (const t of opened) await t.close();
});

describe('the per-address limit on public operations, over real sockets', () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await started({ PORTCULLIS_PUBLIC_RATE_LIMIT: '3' }));
  });

  const login = (from: string) => postFrom(from, url, LOGIN, { identifier: 'nobody@example.com', password: 'guess-guess-guess' });

  it('gives 127.0.0.1 and 127.0.0.2 a budget each: one is refused with 429 while the other is still answered', async () => {
    for (let i = 0; i < 3; i++) expect((await login('127.0.0.1')).body.data?.login.__typename).toBe('IncorrectPasswordError');
    const refused = await login('127.0.0.1');
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0].extensions?.code).toBe('RATE_LIMITED');

    // The other address is untouched by the first one's spending, and has a budget of its own size.
    for (let i = 0; i < 3; i++) {
      const other = await login('127.0.0.2');
      expect(other.status).toBe(200);
      expect(other.body.data?.login.__typename).toBe('IncorrectPasswordError');
    }
    expect((await login('127.0.0.2')).status).toBe(429);
    expect((await login('127.0.0.1')).status).toBe(429);
  });
});

describe("the audit log's address, over real sockets", () => {
  it("records the connection's address, not one the caller claims in X-Forwarded-For", async () => {
    const { t, url } = await started({});
    const user = await t.app.services.users.createUser({ email: 'audited@example.com' }, systemMeta);
    const login = { identifier: 'audited@example.com', password: 'guess-guess-guess' };
    expect((await postFrom('127.0.0.2', url, LOGIN, login)).body.data?.login.__typename).toBe('IncorrectPasswordError');
    expect((await postFrom('127.0.0.1', url, LOGIN, login, { 'x-forwarded-for': '198.51.100.7' })).body.data?.login.__typename).toBe('IncorrectPasswordError');

    const read = await postFrom(
      '127.0.0.1',
      url,
      'query ($userId: ID!) { events(userId: $userId, types: [USER_LOGIN_FAILED]) { edges { node { type ip } } } }',
      { userId: user.id },
      { authorization: `Bearer ${BOOTSTRAP_KEY}` },
    );
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data?.events.edges.map((e: { node: unknown }) => e.node)).toEqual([
      { type: 'USER_LOGIN_FAILED', ip: '127.0.0.2' },
      { type: 'USER_LOGIN_FAILED', ip: '127.0.0.1' },
    ]);
  });
});
