/**
 * Threats: an anonymous caller reading or changing users; a caller exhausting
 * the server with deep, wide or aliased queries; internal details (SQL, stack
 * traces) leaking through error messages. Each limit is shown against its
 * legitimate counterpart (the right key, a query within the limit), so a
 * check that refuses everything fails too.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const CreateUser = graphql(`
  mutation SafetyCreate($email: String!) {
    createUser(input: { email: $email }) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);
const Users = graphql(`
  query SafetyUsers { users(first: 1) { totalCount } }
`);

let t: TestApp;
const logLines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  t = await createTestApp({ logger: createLogger('info', sink as never) });
});
afterAll(() => t.close());

async function post(query: string, token: string | null = 'test-bootstrap-key-0123456789abcdef', headers: Record<string, string> = {}) {
  const res = await t.app.yoga.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } };
}

describe('authentication', () => {
  it('refuses anonymous queries and mutations with UNAUTHENTICATED and changes nothing', async () => {
    const denied = await t.exec(CreateUser, { email: 'anon@example.com' }, { token: null });
    expect(denied.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(denied.data ?? null).toBeNull();
    const count = await t.run(Users, undefined);
    expect(count.users.totalCount).toBe(0);
    const mixed = await post('{ __typename users(first: 1) { totalCount } }', null);
    expect(mixed.status).toBe(401);
  });

  it('refuses a token that is almost the bootstrap key, and accepts the key', async () => {
    const res = await post('{ users(first: 1) { totalCount } }', 'test-bootstrap-key-0123456789abcdeX');
    expect(res.body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(await post('{ users(first: 1) { totalCount } }')).toEqual({ status: 200, body: { data: { users: { totalCount: expect.any(Number) } } } });
  });

  it('refuses anonymous introspection in production, and answers it with a key', async () => {
    // Codes are not under test here: console delivery is allowed explicitly, as production demands.
    const prod = await createTestApp({ env: { NODE_ENV: 'production', PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'true' } });
    try {
      const res = await prod.app.yoga.fetch('http://gateway.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __schema { types { name } } }' }),
      });
      const body = (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
      expect(body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      const withKey = await prod.app.yoga.fetch('http://gateway.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer test-bootstrap-key-0123456789abcdef' },
        body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
      });
      expect(await withKey.json()).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    } finally {
      await prod.close();
    }
  });
});

describe('query limits', () => {
  it('refuses a query deeper than the limit with a clear error, and answers one at the limit', async () => {
    // Valid queries, 12 (the default limit) and 13 fields deep.
    const deep = (leaf: string) => `{ users(first: 1) { edges { node { events(first: 1) { edges { node { user { events(first: 1) { edges { node { user { ${leaf} } } } } } } } } } } } }`;
    expect(await post(deep('id'))).toEqual({ status: 200, body: { data: { users: { edges: [] } } } });
    const res = await post(deep('events(first: 1) { totalCount }'));
    expect(res.body.errors?.[0].message).toMatch(/depth/i);
    expect(res.body.data ?? null).toBeNull();
  });

  it('refuses more aliases than the limit, and answers as many as it allows', async () => {
    const aliased = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: user(id: "usr_x") { id }`).join(' ')} }`;
    const res = await post(aliased(31));
    expect(res.body.errors?.[0].message).toMatch(/alias/i);
    const allowed = await post(aliased(30));
    expect(allowed.body.errors).toBeUndefined();
    expect(Object.keys(allowed.body.data as object)).toHaveLength(30);
  });

  it('refuses a query whose cost is over the limit, and answers a cheap one', async () => {
    const costly = await createTestApp({ env: { PORTCULLIS_MAX_COST: '50' } });
    try {
      const listing = (n: number) => Array.from({ length: n }, (_, i) => `f${i}: users(first: 1) { edges { node { id email state } } }`).join(' ');
      const send = async (query: string) => {
        const res = await costly.app.yoga.fetch('http://gateway.test/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer test-bootstrap-key-0123456789abcdef' },
          body: JSON.stringify({ query }),
        });
        return (await res.json()) as { data?: unknown; errors?: Array<{ message: string }> };
      };
      expect((await send(`{ ${listing(20)} }`)).errors?.[0].message).toMatch(/cost/i);
      expect(await send(`{ ${listing(1)} }`)).toEqual({ data: { f0: { edges: [] } } });
    } finally {
      await costly.close();
    }
  });
});

describe('unexpected errors', () => {
  it('are masked for the client and logged with the request id for operators', async () => {
    // Break the database under the gateway: the next read fails inside Prisma.
    await t.app.database.client.$executeRawUnsafe('DROP TABLE "Event"');
    const res = await post('{ events(first: 1) { edges { node { id } } } }', undefined, { 'x-request-id': 'req-test-12345678' });
    const error = res.body.errors?.[0];
    expect(error?.message).toBe('Unexpected error.');
    expect(JSON.stringify(res.body)).not.toMatch(/SQL|prisma|DROP|no such table|does not exist|stack|\.ts:\d/i);
    const logged = logLines.find((l) => l.includes('req-test-12345678'));
    expect(logged).toBeDefined();
    expect(logged).toContain('unexpected error in an operation');
  });

  it('never logs the API key', () => {
    expect(logLines.join('\n')).not.toContain('test-bootstrap-key-0123456789abcdef');
  });
});
