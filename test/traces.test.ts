/**
 * Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, the gateway sends its spans
 * over OTLP/HTTP to a receiver this test runs on 127.0.0.1, which decodes
 * them as a collector would (JSON, and protobuf, the default). A `login`
 * gives one trace: the request span named after the operation, sign-in, the
 * password check, argon2 and the database statements beneath it, each linked
 * to its parent; a caller's traceparent puts the spans in the caller's trace;
 * the events the login recorded carry the trace id. Without an endpoint, no
 * OpenTelemetry package is even loaded.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, createTestApp, ENCRYPTION_KEY, type TestApp } from './helpers/app.js';
import { seed, type SeededUser } from './helpers/seed.js';
import { ancestors, startOtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver.js';
import { freshDatabase } from './helpers/db.js';
import { postGraphql, startGateway } from './helpers/process.js';

const PASSWORD = 'traced-password-4711';
const SERVER = 2;

async function login(url: string, user: SeededUser, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      query: 'mutation ($identifier: String!, $password: String!) { login(input: { identifier: $identifier, password: $password }) { __typename } }',
      variables: { identifier: user.email, password: PASSWORD },
    }),
  });
  const body = (await res.json()) as { data?: { login: { __typename: string } } };
  expect(body.data?.login.__typename).toBe('LoginSuccess');
}

/** The request span of the one login with this trace id. */
function loginSpan(spans: ReceivedSpan[], traceId?: string) {
  const found = spans.filter((s) => s.kind === SERVER && s.name === 'mutation login' && (!traceId || s.traceId === traceId));
  expect(found).toHaveLength(1);
  return found[0];
}

const receivers: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const r of receivers) await r.close();
});

async function tracedGateway(env: Record<string, string>) {
  const receiver = await startOtlpReceiver();
  receivers.push(receiver);
  const t = await createTestApp({ env: { HOST: '127.0.0.1', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...env } });
  const { url } = await t.app.start();
  return { t, url, receiver };
}

describe('traces over OTLP/HTTP with JSON', () => {
  let t: TestApp;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let user: SeededUser;
  const given = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
  let events: Array<{ type: string; traceId: string | null }>;

  beforeAll(async () => {
    let url: string;
    ({ t, url, receiver } = await tracedGateway({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test' }));
    user = await seed(t).user({ password: PASSWORD });
    await login(url, user);
    await login(url, user, { traceparent: `00-${given.traceId}-${given.spanId}-01` });
    // Through the API, as an operator reads the audit trail.
    const read = await postGraphql(url, 'query ($u: ID!) { events(userId: $u, types: [USER_LOGGED_IN]) { edges { node { type traceId } } } }', { u: user.id }, BOOTSTRAP_KEY);
    events = read.body.data.events.edges.map((e: { node: { type: string; traceId: string | null } }) => e.node);
    // Stopping sends what is still batched.
    await t.close();
  });

  it('sends JSON to the endpoint’s /v1/traces, as the service named portcullis with the configured resource attributes', () => {
    expect(receiver.exports.length).toBeGreaterThan(0);
    for (const e of receiver.exports) expect(e).toMatchObject({ path: '/v1/traces', contentType: 'application/json' });
    expect(receiver.spans[0].resource).toMatchObject({ 'service.name': 'portcullis', 'deployment.environment.name': 'test' });
  });

  it('makes one request span per login, named after the operation, with its type and HTTP status', () => {
    const request = loginSpan(receiver.spans.filter((s) => s.traceId !== given.traceId));
    expect(request.parentSpanId).toBe('');
    expect(request.attributes).toMatchObject({
      'graphql.operation.name': 'login',
      'graphql.operation.type': 'mutation',
      'http.request.method': 'POST',
      'url.path': '/graphql',
      'http.response.status_code': 200,
    });
  });

  it('puts sign-in, the password check, argon2 and database statements beneath it, parent by parent', () => {
    const request = loginSpan(receiver.spans.filter((s) => s.traceId !== given.traceId));
    const trace = receiver.spans.filter((s) => s.traceId === request.traceId);
    const named = (name: string) => {
      const found = trace.filter((s) => s.name === name);
      expect(found, name).toHaveLength(1);
      return found[0];
    };
    const signIn = named('sign-in.login');
    const check = named('credential.verify');
    const argon2 = named('argon2.verify');
    expect(signIn.parentSpanId).toBe(request.spanId);
    expect(check.parentSpanId).toBe(signIn.spanId);
    expect(check.attributes['credential.kind']).toBe('password');
    expect(argon2.parentSpanId).toBe(check.spanId);

    // Direct statements (the lockout's attempt reservation) and Prisma's, all inside the request.
    const direct = trace.filter((s) => s.kind === 3 && typeof s.attributes['db.query.text'] === 'string' && !s.name.startsWith('prisma:'));
    const prisma = trace.filter((s) => s.name === 'prisma:client:db_query');
    expect(direct.length).toBeGreaterThan(0);
    expect(prisma.length).toBeGreaterThan(0);
    for (const statement of [...direct, ...prisma]) {
      expect(ancestors(trace, statement).map((s) => s.spanId)).toContain(request.spanId);
      expect(statement.attributes['db.system.name']).toBe(t.app.database.provider);
    }
    expect(direct.some((s) => ancestors(trace, s)[0]?.spanId === check.spanId)).toBe(true);
    // Every span of the trace leads back to the request span.
    for (const span of trace.filter((s) => s !== request)) expect(ancestors(trace, span).at(-1)?.spanId, span.name).toBe(request.spanId);
  });

  it("joins a caller's trace from its traceparent header", () => {
    const request = loginSpan(receiver.spans, given.traceId);
    expect(request.parentSpanId).toBe(given.spanId);
    const trace = receiver.spans.filter((s) => s.traceId === given.traceId);
    expect(trace.map((s) => s.name)).toEqual(expect.arrayContaining(['sign-in.login', 'credential.verify', 'argon2.verify']));
  });

  it('records the trace id in the events each login recorded', () => {
    const first = loginSpan(receiver.spans.filter((s) => s.traceId !== given.traceId));
    expect(events).toEqual([
      { type: 'USER_LOGGED_IN', traceId: first.traceId },
      { type: 'USER_LOGGED_IN', traceId: given.traceId },
    ]);
  });

  it('never puts the password, the email or the access token in a span', () => {
    const all = JSON.stringify(receiver.spans);
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(user.email!);
    expect(all).not.toContain(BOOTSTRAP_KEY);
  });
});

describe('traces over OTLP/HTTP with protobuf, the default', () => {
  it('sends protobuf to the traces endpoint as written, with the configured headers and service name', async () => {
    const base = await startOtlpReceiver();
    const custom = await startOtlpReceiver();
    receivers.push(base, custom);
    const t = await createTestApp({
      env: {
        HOST: '127.0.0.1',
        OTEL_EXPORTER_OTLP_ENDPOINT: base.url,
        // Used as written, and wins over the base URL.
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${custom.url}/custom/traces`,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=secret%20value',
        OTEL_SERVICE_NAME: 'gateway-under-test',
      },
    });
    const { url } = await t.app.start();
    await login(url, await seed(t).user({ password: PASSWORD }));
    await t.close();

    expect(base.exports).toEqual([]);
    expect(custom.exports.length).toBeGreaterThan(0);
    for (const e of custom.exports) {
      expect(e).toMatchObject({ path: '/custom/traces', contentType: 'application/x-protobuf' });
      expect(e.headers['x-collector-key']).toBe('secret value');
    }
    const request = loginSpan(custom.spans);
    expect(request.resource['service.name']).toBe('gateway-under-test');
    expect(request.attributes['graphql.operation.name']).toBe('login');
    const trace = custom.spans.filter((s) => s.traceId === request.traceId);
    const argon2 = trace.find((s) => s.name === 'argon2.verify')!;
    expect(ancestors(trace, argon2).map((s) => s.name)).toEqual(['credential.verify', 'sign-in.login', 'mutation login']);
  });
});

describe('tracing off', () => {
  // Records every module the gateway process resolves through the ESM loader (node:module hooks).
  const hook = path.join(mkdtempSync(path.join(tmpdir(), 'portcullis-modules-')), 'hook.mjs');
  writeFileSync(
    hook,
    `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  appendFileSync(process.env.MODULE_LOG, specifier + '\\\\n');
  return next(specifier, context);
}\`));
`,
  );

  async function modulesLoaded(env: Record<string, string>) {
    const db = await freshDatabase();
    const log = path.join(path.dirname(hook), `modules-${Math.random().toString(36).slice(2)}.log`);
    writeFileSync(log, '');
    const gateway = await startGateway({
      DATABASE_URL: db.url,
      PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-traces-')),
      PORTCULLIS_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY,
      PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY,
      HOST: '127.0.0.1',
      NODE_OPTIONS: `--import=${hook}`,
      MODULE_LOG: log,
      ...env,
    });
    try {
      expect((await postGraphql(gateway.url, '{ users(first: 1) { totalCount } }', {}, BOOTSTRAP_KEY)).status).toBe(200);
    } finally {
      await gateway.stop();
      await db.drop();
    }
    return readFileSync(log, 'utf8').split('\n');
  }

  // Two gateway starts on a loaded 2-core machine.
  it('loads no OpenTelemetry package without an endpoint, and the SDK with one', { timeout: 180_000 }, async () => {
    const receiver = await startOtlpReceiver();
    receivers.push(receiver);
    const on = await modulesLoaded({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    expect(on.filter((m) => m.startsWith('@opentelemetry/sdk-trace'))).not.toEqual([]);
    const off = await modulesLoaded({});
    expect(off.filter((m) => m.includes('@opentelemetry') || m.includes('@prisma/instrumentation'))).toEqual([]);
    // The log did record the gateway's own packages: an empty log would prove nothing.
    expect(off).toContain('graphql-yoga');
  });
});
