/**
 * Threat: one address spraying passwords across many accounts through the
 * public sign-in operations (per-account lockout alone does not stop that),
 * or evading the limit by writing its own X-Forwarded-For. Counters in Redis
 * make several instances share one budget.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
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

async function login(t: TestApp, headers: Record<string, string> = {}) {
  const res = await t.app.yoga.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: 'mutation { login(input: { identifier: "nobody@example.com", password: "guess-guess-guess" }) { __typename } }' }),
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
