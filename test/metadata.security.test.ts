/**
 * Threat: a signed-in end user going after metadata with its own access
 * token. Public metadata is what API keys say about the user (a plan, a
 * tier, copied into tokens that other services trust); private metadata is
 * what the back end keeps from the user (a risk score); unsafe metadata is
 * the user's own and trusted by nobody. So a user must not:
 * - read its privateMetadata (directly, through the deprecated alias, or
 *   through the event log);
 * - write its publicMetadata or privateMetadata (updateUserMetadata, or the
 *   deprecated updateUser(metadata)), not even alongside an allowed unsafe
 *   change;
 * - read or write another user's metadata, or probe it with the users filter;
 * - get past the limits (non-object, more than 8 levels, more than 8192
 *   bytes with the parts it cannot see), or learn the size of its private
 *   metadata from the refusal;
 * - pollute prototypes with a `__proto__` or `constructor` key (a
 *   `__proto__` key is refused: Prisma's JSON writer would drop it silently);
 * - put claims into its access token through unsafe metadata under a copied
 *   key name;
 * - inject SQL through the filter's path or value.
 */
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed, type SeededUser } from './helpers/seed.js';

const Me = graphql(`
  query SecMetaMe { me { id publicMetadata unsafeMetadata metadata } }
`);
const MePrivate = graphql(`
  query SecMetaMePrivate { me { id privateMetadata } }
`);
const MyEvents = graphql(`
  query SecMetaMyEvents { me { events(first: 50, types: [USER_METADATA_UPDATED]) { edges { node { data } } } } }
`);
const ReadUser = graphql(`
  query SecMetaRead($id: ID!) { user(id: $id) { publicMetadata privateMetadata unsafeMetadata } }
`);
const ReadNode = graphql(`
  query SecMetaNode($id: ID!) { node(id: $id) { ... on User { privateMetadata } } }
`);
const Filter = graphql(`
  query SecMetaFilter($filter: UserFilter) { users(first: 10, filter: $filter) { totalCount edges { node { id } } } }
`);
const Update = graphql(`
  mutation SecMetaUpdate($input: UpdateUserMetadataInput!) {
    updateUserMetadata(input: $input) {
      __typename
      ... on UpdateUserMetadataSuccess { changed user { unsafeMetadata } }
      ... on InvalidInputError { field message }
      ... on Error { code }
    }
  }
`);
const LegacyUpdate = graphql(`
  mutation SecMetaLegacyUpdate($input: UpdateUserInput!) { updateUser(input: $input) { __typename } }
`);
const Login = graphql(`
  mutation SecMetaLogin($input: LoginInput!) { login(input: $input) { __typename ... on LoginSuccess { accessToken } } }
`);

const PASSWORD = 'correct horse battery staple';
const SECRET = 'risk-score-high-7731';
const blob = (bytes: number, key = 'v') => ({ [key]: 'x'.repeat(bytes - `{"${key}":""}`.length) });

let t: TestApp;
let ada: SeededUser;
let eve: SeededUser;
const token = (u: SeededUser) => ({ token: u.session!.accessToken });
const stored = async (u: SeededUser) => (await t.run(ReadUser, { id: u.id })).user;

beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_TOKEN_METADATA_KEYS: 'plan' } });
  ada = await seed(t).user({ password: PASSWORD }).signedIn();
  eve = await seed(t).user({ password: PASSWORD }).signedIn();
  for (const u of [ada, eve]) {
    await t.run(Update, { input: { userId: u.id, public: { plan: 'pro' }, private: { riskScore: SECRET }, unsafe: { theme: 'dark' } } });
  }
});
afterAll(() => t?.close());

/** A refusal at the top level: FORBIDDEN for this reason, and nothing of the secret in the answer. */
function expectForbidden(result: { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }>; data?: unknown }, reason: string) {
  expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason });
  expect(JSON.stringify(result)).not.toContain(SECRET);
}

describe('reading', () => {
  it('a user reads its public and unsafe metadata, and not its private metadata', async () => {
    expect((await t.run(Me, undefined, token(ada))).me).toEqual({ id: ada.id, publicMetadata: { plan: 'pro' }, unsafeMetadata: { theme: 'dark' }, metadata: { plan: 'pro' } });
    expectForbidden(await t.exec(MePrivate, undefined, token(ada)), 'API_KEY_REQUIRED');
  });

  it("a user's own event log names changed parts, never private keys or values", async () => {
    const result = await t.exec(MyEvents, undefined, token(ada));
    // Whether or not a user may read its events, the metadata event holds nothing private.
    expect(JSON.stringify(result)).not.toMatch(/riskScore|risk-score/);
    const events = (await t.app.database.client.event.findMany({ where: { userId: ada.id, type: 'user.metadata_updated' } })).map((e) => e.data);
    expect(events).toEqual([expect.objectContaining({ changed: ['public', 'private', 'unsafe'], publicKeys: ['plan'], unsafeKeys: ['theme'] })]);
    expect(JSON.stringify(events)).not.toMatch(/riskScore|risk-score|pro|dark/);
  });

  it("a user reads no other user's metadata, and cannot probe it with the filter", async () => {
    expectForbidden(await t.exec(ReadUser, { id: ada.id }, token(eve)), 'API_KEY_REQUIRED');
    expectForbidden(await t.exec(ReadNode, { id: ada.id }, token(eve)), 'API_KEY_REQUIRED');
    expectForbidden(await t.exec(Filter, { filter: { metadata: { path: 'plan', equals: 'pro' } } }, token(eve)), 'API_KEY_REQUIRED');
  });
});

describe('writing', () => {
  it('a user writes its unsafe metadata, and never public or private, not even beside an unsafe change', async () => {
    expect((await t.run(Update, { input: { userId: ada.id, unsafe: { theme: 'light', lang: 'de' } } }, token(ada))).updateUserMetadata).toEqual({
      __typename: 'UpdateUserMetadataSuccess',
      changed: ['UNSAFE'],
      user: { unsafeMetadata: { theme: 'light', lang: 'de' } },
    });
    for (const input of [{ public: { plan: 'enterprise' } }, { private: { riskScore: 'low' } }, { public: { plan: 'enterprise' }, unsafe: { theme: 'hacked' } }, { public: {}, mode: 'REPLACE' }]) {
      expectForbidden(await t.exec(Update, { input: { userId: ada.id, ...input } as never }, token(ada)), 'API_KEY_REQUIRED');
    }
    expectForbidden(await t.exec(LegacyUpdate, { input: { userId: ada.id, metadata: { plan: 'enterprise' } } }, token(ada)), 'API_KEY_REQUIRED');
    expect(await stored(ada)).toEqual({ publicMetadata: { plan: 'pro' }, privateMetadata: { riskScore: SECRET }, unsafeMetadata: { theme: 'light', lang: 'de' } });
  });

  it("a user writes no other user's metadata", async () => {
    const before = await stored(ada);
    expectForbidden(await t.exec(Update, { input: { userId: ada.id, unsafe: { theme: 'eve was here' } } }, token(eve)), 'NOT_SELF');
    expectForbidden(await t.exec(Update, { input: { userId: ada.id, unsafe: {}, mode: 'REPLACE' } }, token(eve)), 'NOT_SELF');
    expectForbidden(await t.exec(Update, { input: { userId: ada.id, public: { plan: 'free' } } }, token(eve)), 'API_KEY_REQUIRED');
    expect(await stored(ada)).toEqual(before);
  });

  it('holds a user to the limits: objects only, 8 levels, 8192 bytes with the parts it cannot see, and says nothing of their size', async () => {
    const refused = async (unsafe: unknown, mode = 'MERGE') => (await t.run(Update, { input: { userId: eve.id, unsafe, mode } as never }, token(eve))).updateUserMetadata;
    for (const bad of [[1, 2], 'text', 7, true]) expect(await refused(bad)).toMatchObject({ __typename: 'InvalidInputError', field: 'unsafe' });
    let deep: Record<string, unknown> = { a: 1 };
    for (let i = 1; i < 9; i++) deep = { a: deep };
    expect(await refused(deep)).toMatchObject({ __typename: 'InvalidInputError', field: 'unsafe', message: expect.stringMatching(/deeper than 8/) });
    expect(await refused(blob(8193), 'REPLACE')).toMatchObject({ __typename: 'InvalidInputError', field: 'unsafe' });

    // An API key fills private metadata; the user's room shrinks, and the refusal gives no size away.
    await t.run(Update, { input: { userId: eve.id, private: blob(6000, 'p') } });
    const overflow = await refused(blob(2500));
    expect(overflow).toMatchObject({ __typename: 'InvalidInputError', field: 'unsafe' });
    expect((overflow as { message: string }).message.match(/\d+/g)).toEqual(['8192']);
    expect(await stored(eve)).toMatchObject({ unsafeMetadata: { theme: 'dark' } });
  });

  it('refuses a __proto__ key and keeps constructor keys as data, polluting nothing', async () => {
    const change = (json: string) => t.run(Update, { input: { userId: eve.id, unsafe: JSON.parse(json) } }, token(eve));
    expect((await change('{"__proto__":{"isAdmin":true}}')).updateUserMetadata).toMatchObject({ __typename: 'InvalidInputError', field: 'unsafe' });
    expect((await change('{"nested":{"__proto__":{"isAdmin":true}}}')).updateUserMetadata).toMatchObject({ __typename: 'InvalidInputError', field: 'unsafe' });
    expect((await change('{"constructor":{"prototype":{"polluted":true}}}')).updateUserMetadata).toMatchObject({ changed: ['UNSAFE'] });
    expect((await t.run(Me, undefined, token(eve))).me!.unsafeMetadata).toEqual({ theme: 'dark', constructor: { prototype: { polluted: true } } });
    expect((await change('{"constructor":{"prototype":{"more":1}}}')).updateUserMetadata).toMatchObject({ changed: ['UNSAFE'] });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).more).toBeUndefined();
  });
});

it('copies public keys into access tokens, never unsafe ones under the same name', async () => {
  await t.run(Update, { input: { userId: ada.id, unsafe: { plan: 'enterprise' } } }, token(ada));
  const login = (await t.run(Login, { input: { identifier: ada.email!, password: PASSWORD } }, { token: null })).login;
  if (login.__typename !== 'LoginSuccess') throw new Error('login failed');
  const { payload } = await jwtVerify(login.accessToken, createLocalJWKSet(await t.app.services.signingKeys.publicJwks()));
  expect(payload.public_metadata).toEqual({ plan: 'pro' });
  expect(JSON.stringify(payload)).not.toMatch(/enterprise|risk/);
});

it('binds the filter: SQL in the value matches nothing, SQL in the path is refused', async () => {
  const page = (await t.run(Filter, { filter: { metadata: { path: 'plan', equals: "pro' OR '1'='1" } } })).users;
  expect(page).toEqual({ totalCount: 0, edges: [] });
  const quoted = await t.exec(Filter, { filter: { metadata: { path: 'plan"."x', equals: 'pro' } } });
  expect(quoted.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.metadata.path' });
});
