/**
 * Threat: text the databases cannot store (a lone UTF-16 surrogate on both,
 * a NUL character on PostgreSQL) sent in any argument, anonymously through
 * `login`, reaches the database driver and comes back as a masked
 * "Unexpected error." with stack traces in the log: an anonymous caller
 * floods the operators' error log and probes internals. Such text must be
 * refused at the input boundary as a typed error naming the field, while
 * real non-ASCII text (accents, CJK, emoji as surrogate pairs) still works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp, capturedLogger } from './helpers/app.js';

const Login = graphql(`
  mutation InputTextLogin($input: LoginInput!) {
    login(input: $input) {
      __typename
      ... on InvalidInputError { field message }
      ... on Error { code }
    }
  }
`);
const CreateUser = graphql(`
  mutation InputTextCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess { user { id givenName metadata } }
      ... on InvalidInputError { field message }
      ... on Error { code }
    }
  }
`);
const SearchUsers = graphql(`
  query InputTextSearch($query: String!) {
    users(first: 5, filter: { query: $query }) { totalCount edges { node { givenName } } }
  }
`);

const LONE_HIGH = 'ada\uD83Dlovelace';
const LONE_LOW = '\uDE00ada';
const NUL = 'ada\u0000lovelace';
const EMOJI = '\u{1F600}';

let t: TestApp;
const { lines: logLines, logger } = capturedLogger();

beforeAll(async () => {
  t = await createTestApp({ logger });
});
afterAll(() => t.close());

/** Error-level lines (pino level 50 and above) logged while fn ran. */
async function errorLinesDuring(fn: () => Promise<void>): Promise<string[]> {
  const from = logLines.length;
  await fn();
  return logLines.slice(from).filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
}

describe('malformed text in arguments', () => {
  it.each([
    ['a lone high surrogate in the identifier', { identifier: LONE_HIGH, password: 'whatever-it-is' }, 'input.identifier'],
    ['a lone low surrogate in the identifier', { identifier: LONE_LOW, password: 'whatever-it-is' }, 'input.identifier'],
    ['a NUL in the identifier', { identifier: NUL, password: 'whatever-it-is' }, 'input.identifier'],
    ['a NUL in the password', { identifier: 'ada@example.com', password: 'pass\u0000word' }, 'input.password'],
  ])('anonymous login with %s is InvalidInputError naming the field, and nothing is logged as an error', async (_case, input, field) => {
    const errors = await errorLinesDuring(async () => {
      const res = await t.exec(Login, { input }, { token: null });
      expect(JSON.stringify(res)).not.toContain('Unexpected error');
      expect(res.errors).toBeUndefined();
      expect(res.data?.login).toMatchObject({ __typename: 'InvalidInputError', field });
      expect(res.data?.login).toMatchObject({ message: expect.stringContaining(field) });
    });
    expect(errors).toEqual([]);
  });

  it('createUser with a lone surrogate in givenName or a NUL in metadata is InvalidInputError naming the field', async () => {
    const errors = await errorLinesDuring(async () => {
      const surrogate = await t.exec(CreateUser, { input: { email: 'grace@example.com', givenName: LONE_HIGH } });
      expect(surrogate.data?.createUser).toMatchObject({ __typename: 'InvalidInputError', field: 'input.givenName' });
      const nul = await t.exec(CreateUser, { input: { email: 'grace@example.com', metadata: { team: ['ops', NUL] } } });
      expect(nul.data?.createUser).toMatchObject({ __typename: 'InvalidInputError', field: 'input.metadata.team[1]' });
      const key = await t.exec(CreateUser, { input: { email: 'grace@example.com', metadata: { [LONE_LOW]: 1 } } });
      expect(key.data?.createUser).toMatchObject({ __typename: 'InvalidInputError', field: 'input.metadata' });
    });
    expect(errors).toEqual([]);
    expect((await t.run(SearchUsers, { query: 'grace' })).users.totalCount).toBe(0);
  });

  it('a field without typed errors (users as admin) answers BAD_USER_INPUT naming the argument', async () => {
    const errors = await errorLinesDuring(async () => {
      for (const query of [NUL, LONE_HIGH]) {
        const res = await t.exec(SearchUsers, { query });
        expect(res.errors?.[0].message).not.toBe('Unexpected error.');
        expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.query' });
      }
    });
    expect(errors).toEqual([]);
  });

  it('a subscription argument is checked before the stream starts', async () => {
    const errors = await errorLinesDuring(async () => {
      const res = await t.app.yoga.fetch('http://gateway.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${BOOTSTRAP_KEY}` },
        body: JSON.stringify({ query: 'subscription($after: ID) { userEvents(userId: "usr_x", after: $after) { id } }', variables: { after: `evt_${LONE_HIGH}` } }),
      });
      const text = await res.text();
      expect(text).not.toContain('Unexpected error');
      const event = JSON.parse(/^data: (\{.*\})$/m.exec(text)![1]) as { errors: Array<{ extensions: Record<string, unknown> }> };
      expect(event.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    });
    expect(errors).toEqual([]);
  });
});

describe('well-formed text', () => {
  it('non-ASCII text, emoji (surrogate pairs) included, is stored, found and signs in', async () => {
    const givenName = `Zoë 李 ${EMOJI}`;
    const password = `correct horse ${EMOJI} battery ü`;
    const created = await t.run(CreateUser, { input: { email: 'zoe@example.com', givenName, password, metadata: { motto: `${EMOJI} ok` } } });
    expect(created.createUser).toMatchObject({ __typename: 'CreateUserSuccess', user: { givenName, metadata: { motto: `${EMOJI} ok` } } });
    const found = await t.run(SearchUsers, { query: EMOJI });
    expect(found.users.edges.map((e) => e.node.givenName)).toEqual([givenName]);
    const signedIn = await t.exec(Login, { input: { identifier: 'zoe@example.com', password } }, { token: null });
    expect(signedIn.data?.login.__typename).toBe('LoginSuccess');
    const wrong = await t.exec(Login, { input: { identifier: `zoë${EMOJI}@example.com`, password } }, { token: null });
    expect(wrong.data?.login).toMatchObject({ __typename: 'IncorrectPasswordError', code: 'INCORRECT_PASSWORD' });
  });
});
