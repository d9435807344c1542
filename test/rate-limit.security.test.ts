/**
 * Threat: one address spraying passwords across many accounts through the
 * public sign-in operations (per-account lockout alone does not stop that),
 * or evading the limit by writing its own X-Forwarded-For, or by sending its
 * own (or any) access token. And many addresses spraying one account: a
 * per-identifier budget on login, whatever the address. Counters in Redis
 * make several instances share one budget.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const opened: TestApp[] = [];
afterAll(async () => {
  for (const t of opened) await t.close();
});

async function app(env: Record<string, string>) {
  const t = await createTestApp({ env });
  opened.push(t);
  return t;
}

async function login(t: TestApp, headers: Record<string, string> = {}, identifier = 'nobody@example.com', password = 'guess-guess-guess') {
  const res = await t.app.yoga.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      query: 'mutation ($identifier: String!, $password: String!) { login(input: { identifier: $identifier, password: $password }) { __typename } }',
      variables: { identifier, password },
    }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { data?: { login: { __typename: string } }; errors?: Array<{ extensions?: { code?: string } }> } };
}

describe('public operations are limited per address', () => {
  it('answers 429 RATE_LIMITED with Retry-After once the budget is spent', async () => {
    const t = await app({ PORTCULLIS_PUBLIC_RATE_LIMIT: '3' });
    for (let i = 0; i < 3; i++) expect((await login(t)).body.data?.login.__typename).toBe('IncorrectPasswordError');
    const refused = await login(t);
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0].extensions?.code).toBe('RATE_LIMITED');
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
  });

  it('ignores X-Forwarded-For unless the proxy is trusted', async () => {
    const t = await app({ PORTCULLIS_PUBLIC_RATE_LIMIT: '2' });
    await login(t, { 'x-forwarded-for': '198.51.100.1' });
    await login(t, { 'x-forwarded-for': '198.51.100.2' });
    expect((await login(t, { 'x-forwarded-for': '198.51.100.3' })).status).toBe(429);

    const behindProxy = await app({ PORTCULLIS_PUBLIC_RATE_LIMIT: '2', PORTCULLIS_TRUST_PROXY: 'true' });
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      expect((await login(behindProxy, { 'x-forwarded-for': ip })).status).toBe(200);
    }
  });

  it("spends the same budget when the caller sends an access token, its own or a made-up one", async () => {
    const t = await app({ PORTCULLIS_PUBLIC_RATE_LIMIT: '3' });
    const user = await t.app.services.users.createUser({ email: 'sprayer@example.com' }, systemMeta);
    const { accessToken } = await t.app.services.sessions.createSession(user.id, {}, systemMeta);
    // The token is valid: it reads its own user.
    const me = await t.app.yoga.fetch('http://gateway.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(((await me.json()) as { data: { me: { id: string } } }).data.me.id).toBe(user.id);
    expect((await login(t, { authorization: `Bearer ${accessToken}` })).status).toBe(200);
    expect((await login(t, { authorization: 'Bearer not-a-real-token-at-all' })).status).toBe(200);
    expect((await login(t)).status).toBe(200);
    const refused = await login(t, { authorization: `Bearer ${accessToken}` });
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0].extensions?.code).toBe('RATE_LIMITED');
  });

  it('does not limit callers with an API key', async () => {
    const t = await app({ PORTCULLIS_PUBLIC_RATE_LIMIT: '1' });
    for (let i = 0; i < 3; i++) {
      expect((await login(t, { authorization: 'Bearer test-bootstrap-key-0123456789abcdef' })).status).toBe(200);
    }
  });

  it('shares one budget between instances through Redis', async () => {
    const env = { PORTCULLIS_PUBLIC_RATE_LIMIT: '2', REDIS_URL: 'redis://127.0.0.1:6379', PORTCULLIS_REDIS_PREFIX: `test-${randomBytes(4).toString('hex')}:` };
    const a = await app(env);
    const b = await app(env);
    expect((await login(a)).status).toBe(200);
    expect((await login(b)).status).toBe(200);
    expect((await login(a)).status).toBe(429);
    expect((await login(b)).status).toBe(429);
  });
});

describe('login is limited per identifier, from any address', () => {
  it('refuses a fourth guess at one account from a fourth address, and leaves other accounts alone', async () => {
    const t = await app({ PORTCULLIS_LOGIN_IDENTIFIER_RATE_LIMIT: '3', PORTCULLIS_TRUST_PROXY: 'true' });
    const user = await t.app.services.users.createUser({ email: 'target@example.com' }, systemMeta);
    await t.app.services.passwords.setPassword(user.id, { password: 'the right password' }, systemMeta);
    for (const ip of ['198.51.100.1', '198.51.100.2']) {
      expect((await login(t, { 'x-forwarded-for': ip }, 'target@example.com')).body.data?.login.__typename).toBe('IncorrectPasswordError');
    }
    // The owner signs in within the budget.
    expect((await login(t, { 'x-forwarded-for': '198.51.100.3' }, 'Target@Example.com ', 'the right password')).body.data?.login.__typename).toBe('LoginSuccess');
    // Case and spaces do not make a new identifier.
    const refused = await login(t, { 'x-forwarded-for': '198.51.100.4' }, ' TARGET@example.com', 'the right password');
    expect(refused.body.data?.login.__typename).toBe('TooManyAttemptsError');
    // Unknown identifiers are counted the same way, so the answer tells nothing.
    for (let i = 0; i < 3; i++) await login(t, { 'x-forwarded-for': `203.0.113.${i}` }, 'ghost@example.com');
    expect((await login(t, { 'x-forwarded-for': '203.0.113.9' }, 'ghost@example.com')).body.data?.login.__typename).toBe('TooManyAttemptsError');
    expect((await login(t, {}, 'someone-else@example.com')).body.data?.login.__typename).toBe('IncorrectPasswordError');
  });
});
