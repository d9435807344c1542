/**
 * The access log: one JSON line per HTTP request, written when the response
 * ends, with the request id the response carried, the method and path (never
 * the query string), the operation, who asked (an API key by its id, a user
 * by theirs), the status and the duration; and the trace id when tracing is on.
 * Real requests over HTTP to a started gateway, read back from its log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, capturedLogger, createTestApp, type TestApp } from './helpers/app.js';
import { seed, type SeededUser } from './helpers/seed.js';
import { accessLineOf, accessLines, post } from './helpers/access-log.js';
import { startOtlpReceiver } from './helpers/otlp-receiver.js';
import { systemMeta } from '../src/kernel/events/outbox.js';

const LOGIN = 'mutation SignIn($identifier: String!, $password: String!) { login(input: { identifier: $identifier, password: $password }) { __typename ... on LoginSuccess { accessToken } } }';
const PASSWORD = 'access-log-password-1';

describe('with the access log on', () => {
  const { lines, logger } = capturedLogger();
  let t: TestApp;
  let url: string;
  let origin: string;
  let user: SeededUser;
  const requestIds: string[] = [];

  beforeAll(async () => {
    t = await createTestApp({ logger, env: { HOST: '127.0.0.1', PORTCULLIS_ACCESS_LOG: 'true' } });
    url = (await t.app.start()).url;
    origin = new URL(url).origin;
    user = await seed(t).user({ password: PASSWORD });
  });
  afterAll(() => t.close());

  /** The line of a request, after checking the answer named it. */
  async function lineOf(call: { requestId: string }) {
    expect(call.requestId).toMatch(/^[0-9a-f-]{36}$/);
    requestIds.push(call.requestId);
    return accessLineOf(lines, call.requestId);
  }

  it('logs an anonymous sign-in by its operation name, with status, duration and the client address', async () => {
    const call = await post(url, LOGIN, { identifier: user.email, password: PASSWORD });
    expect(call.body.data.login.__typename).toBe('LoginSuccess');
    const line = await lineOf(call);
    expect(line).toMatchObject({
      level: 30,
      method: 'POST',
      path: '/graphql',
      operation: 'SignIn',
      operationType: 'mutation',
      caller: 'anonymous',
      ip: '127.0.0.1',
      status: 200,
    });
    expect(line.durationMs).toBeGreaterThanOrEqual(0);
    expect(line).not.toHaveProperty('keyId');
    expect(line).not.toHaveProperty('userId');
    // Tracing is off here.
    expect(line).not.toHaveProperty('traceId');
  });

  it('names the caller: an API key by its id, a user by theirs, the bootstrap key by its kind', async () => {
    const apiKey = await t.app.services.apiKeys.createApiKey({ name: 'access-log', scopes: ['*'] }, systemMeta);
    const byKey = await lineOf(await post(url, '{ users(first: 1) { totalCount } }', {}, { token: apiKey.key }));
    expect(byKey).toMatchObject({ caller: 'api_key', keyId: apiKey.id, operation: 'users', operationType: 'query', status: 200 });

    const { accessToken } = (await post(url, LOGIN, { identifier: user.email, password: PASSWORD })).body.data.login;
    const byUser = await lineOf(await post(url, 'query Me { me { id } }', {}, { token: accessToken }));
    expect(byUser).toMatchObject({ caller: 'user', userId: user.id, operation: 'Me', status: 200 });
    expect(byUser).not.toHaveProperty('keyId');

    const byBootstrap = await lineOf(await post(url, '{ users(first: 1) { totalCount } }', {}, { token: BOOTSTRAP_KEY }));
    expect(byBootstrap).toMatchObject({ caller: 'bootstrap_key', status: 200 });
    expect(byBootstrap).not.toHaveProperty('keyId');
  });

  it('logs a refused request with its status', async () => {
    const refused = await post(url, '{ users(first: 1) { totalCount } }');
    expect(refused.status).toBe(401);
    expect(await lineOf(refused)).toMatchObject({ caller: 'anonymous', operation: 'users', status: 401 });
  });

  it('logs GET requests by path alone, without their query string, and the probes', async () => {
    const get = await fetch(`${url}?query=${encodeURIComponent('query Typename { __typename }')}`, { headers: { authorization: `Bearer ${BOOTSTRAP_KEY}`, accept: 'application/json' } });
    expect(get.status).toBe(200);
    expect(await lineOf({ requestId: get.headers.get('x-request-id')! })).toMatchObject({ method: 'GET', path: '/graphql', operation: 'Typename', status: 200 });

    const probe = await fetch(`${origin}/healthz`);
    expect(probe.status).toBe(200);
    const line = await lineOf({ requestId: probe.headers.get('x-request-id')! });
    expect(line).toMatchObject({ method: 'GET', path: '/healthz', caller: 'anonymous', status: 200 });
    expect(line).not.toHaveProperty('operation');
  });

  it('writes exactly one line per request', () => {
    // Every request above, and the one sign-in whose line was not read, each once.
    const logged = accessLines(lines).map((l) => l.requestId);
    expect(new Set(logged).size).toBe(logged.length);
    for (const id of requestIds) expect(logged).toContain(id);
    expect(logged.length).toBe(requestIds.length + 1);
  });
});

describe('with tracing on', () => {
  it('carries the trace id of the request span', async () => {
    const receiver = await startOtlpReceiver();
    const { lines, logger } = capturedLogger();
    const t = await createTestApp({ logger, env: { HOST: '127.0.0.1', PORTCULLIS_ACCESS_LOG: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } });
    let call: Awaited<ReturnType<typeof post>>;
    try {
      const { url } = await t.app.start();
      call = await post(url, 'query Count { users(first: 1) { totalCount } }', {}, { token: BOOTSTRAP_KEY });
    } finally {
      // Stopping sends the spans still batched.
      await t.close();
      await receiver.close();
    }
    const line = await accessLineOf(lines, call.requestId);
    expect(line.traceId).toMatch(/^[0-9a-f]{32}$/);
    const span = receiver.spans.find((s) => s.name === 'query Count');
    expect(span?.traceId).toBe(line.traceId);
  });
});

describe('with the access log off', () => {
  it('writes no request lines (PORTCULLIS_ACCESS_LOG=false), and tests run with it off by default', async () => {
    for (const env of [{ PORTCULLIS_ACCESS_LOG: 'false' }, {}] as Array<Record<string, string>>) {
      const { lines, logger } = capturedLogger();
      const t = await createTestApp({ logger, env: { HOST: '127.0.0.1', ...env } });
      const { url } = await t.app.start();
      expect((await post(url, '{ users(first: 1) { totalCount } }', {}, { token: BOOTSTRAP_KEY })).status).toBe(200);
      // Stopping waits for the response to close, when the line would be written.
      await t.close();
      expect(lines.some((l) => l.includes('portcullis is listening'))).toBe(true);
      expect(accessLines(lines)).toEqual([]);
    }
  });
});
