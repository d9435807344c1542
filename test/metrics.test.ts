/**
 * GET /metrics on a started gateway after real traffic over HTTP, SSE and
 * WebSocket: every family is there, in the Prometheus text format, with the
 * counts of what was sent. With PORTCULLIS_METRICS_PORT the endpoint moves
 * to its own port and is gone from the public one.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { graphql } from './gql/index.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from './helpers/app.js';
import { testProvider } from './helpers/db.js';
import { scrape, type Scrape } from './helpers/prometheus.js';
import { collect, sseClient, subscribed, wsClient } from './e2e/event-clients.js';

const CreateUser = graphql(`
  mutation MetricsCreateUser($email: String!, $password: String!) {
    createUser(input: { email: $email, password: $password }) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);
const Login = graphql(`
  mutation MetricsLogin($identifier: String!, $password: String!) {
    login(input: { identifier: $identifier, password: $password }) { __typename }
  }
`);
const VerifyPassword = graphql(`
  mutation MetricsVerifyPassword($userId: ID!, $password: String!) {
    verifyPassword(input: { userId: $userId, password: $password }) { __typename }
  }
`);
const Rename = graphql(`
  mutation MetricsRename($userId: ID!, $name: String!) { updateUser(input: { userId: $userId, displayName: $name }) { __typename } }
`);
const Users = graphql(`
  query MetricsUsers { users(first: 1) { totalCount } }
`);
const CreateWebhookApp = graphql(`
  mutation MetricsCreateWebhookApp($url: String!) {
    createWebhookApp(input: { name: "metrics", url: $url, eventTypes: [WEBHOOK_TEST] }) {
      __typename
      ... on CreateWebhookAppSuccess { webhookApp { id } }
    }
  }
`);
const TestWebhookApp = graphql(`
  mutation MetricsTestWebhookApp($id: ID!) { testWebhookApp(input: { id: $id }) { __typename } }
`);

const USER_EVENTS = 'subscription($userId: ID!) { userEvents(userId: $userId) { id type } }';

/** Runs a typed operation over HTTP against the started gateway. */
async function send<R, V>(url: string, document: TypedDocumentNode<R, V>, variables: V, token: string | null = BOOTSTRAP_KEY): Promise<ExecutionResult<R>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return (await response.json()) as ExecutionResult<R>;
}

const typename = (result: ExecutionResult<Record<string, unknown>>) => Object.values(result.data ?? {}).map((v) => (v as { __typename?: string })?.__typename)[0];

describe('GET /metrics on the main port', () => {
  let t: TestApp;
  let url: string;
  let metricsUrl: string;
  let receiver: Server;
  const received: string[] = [];
  let ws: Client | undefined;
  const users: Record<'ada' | 'bob', string> = { ada: '', bob: '' };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        received.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    t = await createTestApp({
      env: { PORTCULLIS_RELAY_POLL_MS: '50', PORTCULLIS_LOCKOUT_PASSWORD_ATTEMPTS: '3', PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true' },
    });
    ({ url, metricsUrl } = await t.app.start());
  });

  afterAll(async () => {
    await ws?.dispose();
    await t?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('is served on the main port, without an API key', () => {
    expect(new URL(metricsUrl).origin).toBe(new URL(url).origin);
    expect(new URL(metricsUrl).pathname).toBe('/metrics');
  });

  it('counts operations, sign-ins and lockouts as they were sent', async () => {
    for (const [name, password] of [
      ['ada', 'ada correct horse 1'],
      ['bob', 'bob correct horse 2'],
    ] as const) {
      const created = await send(url, CreateUser, { email: `${name}-metrics@example.com`, password });
      if (created.data?.createUser.__typename !== 'CreateUserSuccess') throw new Error(JSON.stringify(created));
      users[name] = created.data.createUser.user.id;
    }
    const login = (identifier: string, password: string) => send(url, Login, { identifier, password }, null).then(typename);
    expect(await login('ada-metrics@example.com', 'ada correct horse 1')).toBe('LoginSuccess');
    expect(await login('ada-metrics@example.com', 'not the password')).toBe('IncorrectPasswordError');
    expect(await login('nobody-metrics@example.com', 'not the password')).toBe('IncorrectPasswordError');
    // The third failure reaches the limit of 3 and locks bob; the fourth is refused as locked.
    for (let i = 0; i < 3; i++) expect(await login('bob-metrics@example.com', `wrong ${i}`)).toBe('IncorrectPasswordError');
    expect(await login('bob-metrics@example.com', 'bob correct horse 2')).toBe('UserLockedError');
    expect(typename(await send(url, VerifyPassword, { userId: users.ada, password: 'ada correct horse 1' }))).toBe('VerifyPasswordSuccess');
    const anonymous = await send(url, Users, {}, null);
    expect(anonymous.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');

    const m = await scrape(metricsUrl);
    const ops = (operation: string, result: string) => m.sum('portcullis_graphql_operations_total', { operation, result });
    expect(m.types.get('portcullis_graphql_operations_total')).toBe('counter');
    expect(ops('createUser', 'success')).toBe(2);
    expect(ops('login', 'success')).toBe(1);
    expect(ops('login', 'IncorrectPasswordError')).toBe(5);
    expect(ops('login', 'UserLockedError')).toBe(1);
    expect(ops('verifyPassword', 'success')).toBe(1);
    expect(ops('users', 'UNAUTHENTICATED')).toBe(1);
    expect(m.find('portcullis_graphql_operations_total', { operation: 'login' }).every((s) => s.labels.type === 'mutation')).toBe(true);
    expect(m.find('portcullis_graphql_operations_total', { operation: 'users' })[0].labels.type).toBe('query');

    // The histogram saw each operation once, with a positive total time.
    expect(m.types.get('portcullis_graphql_operation_duration_seconds')).toBe('histogram');
    expect(m.sum('portcullis_graphql_operation_duration_seconds_count', { operation: 'login' })).toBe(7);
    expect(m.sum('portcullis_graphql_operation_duration_seconds_sum', { operation: 'login' })).toBeGreaterThan(0);
    const buckets = m.find('portcullis_graphql_operation_duration_seconds_bucket', { operation: 'verifyPassword', result: 'success' });
    expect(buckets.find((b) => b.labels.le === '+Inf')?.value).toBe(1);

    // Sign-ins by method and outcome; an unknown identifier counts as an incorrect password, as its answer says.
    expect(m.types.get('portcullis_sign_ins_total')).toBe('counter');
    expect(m.sum('portcullis_sign_ins_total', { method: 'password', outcome: 'success' })).toBe(1);
    expect(m.sum('portcullis_sign_ins_total', { method: 'password', outcome: 'incorrect_password' })).toBe(5);
    expect(m.sum('portcullis_sign_ins_total', { method: 'password', outcome: 'user_locked' })).toBe(1);
    expect(m.sum('portcullis_sign_ins_total')).toBe(7);
    expect(m.sum('portcullis_lockouts_total', { reason: 'too_many_failed_passwords' })).toBe(1);
    expect(m.sum('portcullis_lockouts_total')).toBe(1);

    // No hash is running once the answers are in.
    expect(m.find('portcullis_password_hashes_in_flight')).toEqual([expect.objectContaining({ value: 0 })]);
    expect(m.find('portcullis_password_hashes_queued')).toEqual([expect.objectContaining({ value: 0 })]);
  });

  it('counts live subscriptions by transport while they stream, and their operations', async () => {
    const sse = collect(sseClient(url, BOOTSTRAP_KEY), USER_EVENTS, { userId: users.ada });
    await subscribed(t.app, users.ada);
    ws = wsClient(url, BOOTSTRAP_KEY);
    const overWs = collect(ws, USER_EVENTS, { userId: users.ada });
    await subscribed(t.app, users.ada, 2);
    await send(url, Rename, { userId: users.ada, name: 'Ada' });
    await sse.waitFor(1);
    await overWs.waitFor(1);

    let m = await scrape(metricsUrl);
    expect(m.sum('portcullis_subscriptions_live', { transport: 'sse' })).toBe(1);
    expect(m.sum('portcullis_subscriptions_live', { transport: 'websocket' })).toBe(1);
    expect(m.sum('portcullis_graphql_operations_total', { type: 'subscription', operation: 'userEvents', result: 'success' })).toBe(2);

    sse.stop();
    overWs.stop();
    await vi.waitFor(
      async () => {
        m = await scrape(metricsUrl);
        expect(m.sum('portcullis_subscriptions_live', { transport: 'sse' })).toBe(0);
        expect(m.sum('portcullis_subscriptions_live', { transport: 'websocket' })).toBe(0);
      },
      { timeout: 10_000, interval: 50 },
    );
  });

  it('reports webhook deliveries, the apps and the relay lag', async () => {
    const address = receiver.address() as AddressInfo;
    const created = await send(url, CreateWebhookApp, { url: `http://127.0.0.1:${address.port}/hook` });
    if (created.data?.createWebhookApp.__typename !== 'CreateWebhookAppSuccess') throw new Error(JSON.stringify(created));
    expect(typename(await send(url, TestWebhookApp, { id: created.data.createWebhookApp.webhookApp.id }))).toBe('TestWebhookAppSuccess');
    await vi.waitFor(() => expect(received).toHaveLength(1), { timeout: 10_000, interval: 20 });

    let m: Scrape | undefined;
    await vi.waitFor(
      async () => {
        m = await scrape(metricsUrl);
        expect(m.sum('portcullis_webhook_deliveries_total', { status: 'succeeded' })).toBe(1);
        expect(m.sum('portcullis_webhook_deliveries_pending')).toBe(0);
        expect(m.sum('portcullis_event_relay_pending_events', { stream: 'subscriptions' })).toBe(0);
        expect(m.sum('portcullis_event_relay_pending_events', { stream: 'webhooks' })).toBe(0);
      },
      { timeout: 10_000, interval: 50 },
    );
    m = m!;
    expect(m.sum('portcullis_webhook_deliveries_total', { status: 'failed' })).toBe(0);
    expect(m.sum('portcullis_webhook_attempts_total', { outcome: 'success' })).toBe(1);
    expect(m.find('portcullis_webhook_apps', { state: 'enabled' })[0]?.value).toBe(1);
    expect(m.find('portcullis_webhook_apps', { state: 'disabled' })[0]?.value).toBe(0);
    for (const stream of ['subscriptions', 'webhooks']) {
      expect(m.find('portcullis_event_relay_lag_seconds', { stream })).toEqual([expect.objectContaining({ value: 0 })]);
    }
    expect(m.sum('portcullis_metrics_read_failures_total')).toBe(0);
  });

  it('has the process metrics, and the database pool on PostgreSQL only', async () => {
    const m = await scrape(metricsUrl);
    expect(m.sum('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.sum('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.find('nodejs_eventloop_lag_seconds')).toHaveLength(1);
    if (testProvider === 'postgresql') {
      const connections = m.sum('portcullis_db_pool_connections', { state: 'in_use' }) + m.sum('portcullis_db_pool_connections', { state: 'idle' });
      expect(connections).toBeGreaterThan(0);
      expect(connections).toBeLessThanOrEqual(10);
      expect(m.sum('portcullis_db_pool_max_connections')).toBe(10);
      expect(m.find('portcullis_db_pool_waiting')).toEqual([expect.objectContaining({ value: 0 })]);
    } else {
      // One in-process connection: no pool to report.
      expect(m.find('portcullis_db_pool_connections')).toEqual([]);
    }
  });
});

describe('PORTCULLIS_METRICS_PORT', () => {
  let t: TestApp;
  let url: string;
  let metricsUrl: string;

  beforeAll(async () => {
    t = await createTestApp({ env: { PORTCULLIS_METRICS_PORT: '0' } });
    ({ url, metricsUrl } = await t.app.start());
  });

  afterAll(async () => {
    await t?.close();
  });

  it('serves /metrics on its own port only, and nothing else there', async () => {
    expect(new URL(metricsUrl).port).not.toBe(new URL(url).port);
    expect(new URL(metricsUrl).hostname).toBe('127.0.0.1');
    expect(typename(await send(url, VerifyPassword, { userId: 'usr_nobody', password: 'whatever it is' }))).toBe('UserNotFoundError');

    const m = await scrape(metricsUrl);
    expect(m.sum('portcullis_graphql_operations_total', { operation: 'verifyPassword', result: 'UserNotFoundError' })).toBe(1);

    const publicPort = await fetch(new URL('/metrics', url));
    expect(publicPort.status).toBe(404);
    expect(await publicPort.text()).not.toContain('portcullis_');
    expect((await fetch(new URL('/graphql', metricsUrl))).status).toBe(404);
  });
});
