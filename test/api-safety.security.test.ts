/**
 * Threats: an anonymous caller reading or changing users; a caller exhausting
 * the server with deep, wide or aliased queries; internal details (SQL, stack
 * traces) leaking through error messages. Each limit is shown against its
 * legitimate counterpart (the right key, a query within the limit), so a
 * check that refuses everything fails too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp, capturedLogger } from './helpers/app.js';

const CreateUser = graphql(`
  mutation SafetyCreate($email: String!) {
    createUser(input: { email: $email }) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);
const Users = graphql(`
  query SafetyUsers { users(first: 1) { totalCount } }
`);

let t: TestApp;
const { lines: logLines, logger } = capturedLogger();

beforeAll(async () => {
  t = await createTestApp({ logger });
});
afterAll(() => t.close());

async function post(query: string, token: string | null = 'test-bootstrap-key-0123456789abcdef', headers: Record<string, string> = {}) {
  const res = await t.app.yoga.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query }),
  });
  return {
    status: res.status,
    requestId: res.headers.get('x-request-id'),
    body: (await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> },
  };
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
    const { status, body } = await post('{ users(first: 1) { totalCount } }');
    expect({ status, body }).toEqual({ status: 200, body: { data: { users: { totalCount: expect.any(Number) } } } });
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

/** A valid query exactly `depth` fields deep: events → edges → node → user → events … ending in __typename. */
function queryOfDepth(depth: number): string {
  const chain = ['events(first: 1)', 'edges', 'node', 'user'];
  let selection = '__typename';
  for (let level = depth - 1; level >= 1; level--) selection = `${chain[(level - 1) % chain.length]} { ${selection} }`;
  return `{ ${selection} }`;
}

function queryWithAliases(count: number): string {
  return `{ ${Array.from({ length: count }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
}

async function postTo(app: TestApp, query: string) {
  const res = await app.app.yoga.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-bootstrap-key-0123456789abcdef' },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

function expectAccepted(body: { data?: unknown; errors?: unknown }) {
  expect(body.errors).toBeUndefined();
  expect(body.data).toBeTruthy();
}

// Each limit is probed at its edge: exactly at the limit runs, one past it is
// refused. A limit off by one either way fails one of the two.
describe.each([
  ['the defaults', {}, 12, 30],
  ['PORTCULLIS_MAX_DEPTH=5 and PORTCULLIS_MAX_ALIASES=4', { PORTCULLIS_MAX_DEPTH: '5', PORTCULLIS_MAX_ALIASES: '4' }, 5, 4],
] as const)('query limits at their edges, with %s', (_limits, env, depth, aliases) => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await createTestApp({ env });
  });
  afterAll(() => limited?.close());

  it(`runs a query exactly ${depth} deep and refuses one ${depth + 1} deep`, async () => {
    expectAccepted(await postTo(limited, queryOfDepth(depth)));
    const refused = await postTo(limited, queryOfDepth(depth + 1));
    expect(refused.errors?.map((e) => [e.message, e.extensions])).toEqual([[`The query is nested ${depth + 1}, over the limit of ${depth}.`, { code: 'QUERY_TOO_DEEP', limit: depth, found: depth + 1 }]]);
    expect(refused.data ?? null).toBeNull();
  });

  it(`runs a query with ${aliases} aliases and refuses one with ${aliases + 1}`, async () => {
    expectAccepted(await postTo(limited, queryWithAliases(aliases)));
    const refused = await postTo(limited, queryWithAliases(aliases + 1));
    expect(refused.errors?.map((e) => [e.message, e.extensions])).toEqual([[`The query has aliases: ${aliases + 1}, over the limit of ${aliases}.`, { code: 'TOO_MANY_ALIASES', limit: aliases, found: aliases + 1 }]]);
    expect(refused.data ?? null).toBeNull();
  });
});

describe('the cost limit at its edge', () => {
  // graphql-armor counts a scalar field as 1, so n copies of __typename cost exactly n.
  // The default (10000) cannot be reached this way within the token limit (5000), hence a small one.
  it('runs a query costing exactly PORTCULLIS_MAX_COST and refuses one costing 1 more', async () => {
    const costly = await createTestApp({ env: { PORTCULLIS_MAX_COST: '10' } });
    try {
      expectAccepted(await postTo(costly, `{ ${'__typename '.repeat(10)}}`));
      const refused = await postTo(costly, `{ ${'__typename '.repeat(11)}}`);
      expect(refused.errors?.map((e) => [e.message, e.extensions])).toEqual([['The query costs 11, over the limit of 10.', { code: 'QUERY_TOO_COMPLEX', limit: 10, found: 11 }]]);
      expect(refused.data ?? null).toBeNull();
    } finally {
      await costly.close();
    }
  });
});

describe('unexpected errors', () => {
  it('are masked for the client and logged with the request id for operators', async () => {
    // Break the database under the gateway: the next read fails inside Prisma.
    await t.app.database.client.$executeRawUnsafe('DROP TABLE "Event"');
    const res = await post('{ events(first: 1) { edges { node { id } } } }');
    const error = res.body.errors?.[0];
    expect(error?.message).toBe('Unexpected error.');
    expect(JSON.stringify(res.body)).not.toMatch(/SQL|prisma|DROP|no such table|does not exist|stack|\.ts:\d/i);
    // The id the answer carries is the one in the log, so a client's report leads to the line.
    expect(res.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const logged = logLines.find((l) => l.includes(res.requestId!));
    expect(logged).toBeDefined();
    expect(logged).toContain('unexpected error in an operation');
  });

  it('never logs the API key', () => {
    expect(logLines.join('\n')).not.toContain('test-bootstrap-key-0123456789abcdef');
  });
});
