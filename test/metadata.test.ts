/**
 * Metadata through the API: publicMetadata, privateMetadata and
 * unsafeMetadata of users, and the public and private metadata of
 * organizations, under one set of rules:
 * - updateUserMetadata / updateOrganizationMetadata merge (RFC 7396: null
 *   deletes a key, nested objects merge, arrays replace) or replace each part
 *   given; parts left out stay; a change that changes nothing records nothing;
 * - each part a JSON object, at most 8 levels deep, the parts of one owner
 *   together at most 8192 bytes: InvalidInputError naming the part;
 * - concurrent merges all land (a row lock on PostgreSQL);
 * - user.metadata_updated names the changed parts and keys, never values;
 * - users(filter: { metadata: { path, equals } }) compares a JSON scalar at a
 *   path of publicMetadata, on both databases (PostgreSQL: through the GIN
 *   index, also past the index's candidate bound);
 * - PORTCULLIS_TOKEN_METADATA_KEYS copies public keys into access tokens
 *   (`public_metadata`), beside the organization and role claims, afresh at
 *   every refresh: checked by verifying the token with the gateway's keys;
 * - User.metadata and the `metadata` input stay as publicMetadata's old name,
 *   and the renaming migration keeps the values stored before it.
 */
import { mkdtempSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { newId } from '../src/kernel/ids.js';
import { migrate, readMigrations } from '../src/kernel/db/migrator.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { emptyDatabase, testProvider } from './helpers/db.js';
import { seed } from './helpers/seed.js';

const ReadMetadata = graphql(`
  query MetaRead($id: ID!) { user(id: $id) { id metadata publicMetadata privateMetadata unsafeMetadata } }
`);
const CreateWithMetadata = graphql(`
  mutation MetaCreate($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess { user { id metadata publicMetadata privateMetadata unsafeMetadata } }
      ... on InvalidInputError { field message }
    }
  }
`);
const UpdateProfile = graphql(`
  mutation MetaUpdateProfile($input: UpdateUserInput!) {
    updateUser(input: $input) { __typename ... on UpdateUserSuccess { user { metadata publicMetadata privateMetadata } } ... on InvalidInputError { field } }
  }
`);
const UpdateMetadata = graphql(`
  mutation MetaUpdate($input: UpdateUserMetadataInput!) {
    updateUserMetadata(input: $input) {
      __typename
      ... on UpdateUserMetadataSuccess { changed user { publicMetadata privateMetadata unsafeMetadata } }
      ... on InvalidInputError { field message }
      ... on Error { code }
    }
  }
`);
const MetadataEvents = graphql(`
  query MetaEvents($userId: ID!) { events(first: 50, userId: $userId, types: [USER_METADATA_UPDATED]) { edges { node { type data } } } }
`);
const FilterUsers = graphql(`
  query MetaFilter($filter: UserFilter, $first: Int) { users(first: $first, filter: $filter) { totalCount edges { node { id } } } }
`);
const Login = graphql(`
  mutation MetaLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on LoginSuccess { accessToken refreshToken } ... on Error { code } }
  }
`);
const Refresh = graphql(`
  mutation MetaRefresh($input: RefreshSessionInput!) {
    refreshSession(input: $input) { __typename ... on RefreshSessionSuccess { accessToken } ... on Error { code } }
  }
`);
const CreateOrg = graphql(`
  mutation MetaCreateOrg($input: CreateOrganizationInput!) {
    createOrganization(input: $input) { __typename ... on CreateOrganizationSuccess { organization { id } } ... on InvalidInputError { field } }
  }
`);
const UpdateOrgMetadata = graphql(`
  mutation MetaUpdateOrg($input: UpdateOrganizationMetadataInput!) {
    updateOrganizationMetadata(input: $input) {
      __typename
      ... on UpdateOrganizationMetadataSuccess { changed organization { publicMetadata privateMetadata } }
      ... on InvalidInputError { field }
      ... on Error { code }
    }
  }
`);
const OrgEvents = graphql(`
  query MetaOrgEvents($organizationId: ID!) { events(first: 50, organizationId: $organizationId, types: [ORGANIZATION_UPDATED]) { edges { node { data } } } }
`);

const PASSWORD = 'correct horse battery staple';
/** Nested objects `levels` deep: {"a":{"a":…{"a":1}}}. */
const nested = (levels: number): Record<string, unknown> => (levels === 1 ? { a: 1 } : { a: nested(levels - 1) });
/** An object of exactly `bytes` bytes once serialized. */
const blob = (bytes: number, key = 'v') => ({ [key]: 'x'.repeat(bytes - `{"${key}":""}`.length) });

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_TOKEN_METADATA_KEYS: 'plan, tier', PORTCULLIS_TOKEN_ROLES: 'true' } });
});
afterAll(() => t?.close());

const newUser = async () => (await seed(t).user({ password: PASSWORD })).id;
const update = async (input: Record<string, unknown>) => (await t.run(UpdateMetadata, { input: input as never })).updateUserMetadata;
const read = async (id: string) => (await t.run(ReadMetadata, { id })).user;

describe('users', () => {
  it('reads {} until written; createUser takes the three parts; metadata is publicMetadata under its old name', async () => {
    const bare = await newUser();
    expect(await read(bare)).toEqual({ id: bare, metadata: null, publicMetadata: {}, privateMetadata: {}, unsafeMetadata: {} });

    const created = await t.run(CreateWithMetadata, { input: { publicMetadata: { plan: 'pro' }, privateMetadata: { crm: 'A-1' }, unsafeMetadata: { theme: 'dark' } } });
    expect(created.createUser).toMatchObject({
      user: { metadata: { plan: 'pro' }, publicMetadata: { plan: 'pro' }, privateMetadata: { crm: 'A-1' }, unsafeMetadata: { theme: 'dark' } },
    });
    const legacy = await t.run(CreateWithMetadata, { input: { metadata: { locale: 'de' } } });
    expect(legacy.createUser).toMatchObject({ user: { metadata: { locale: 'de' }, publicMetadata: { locale: 'de' } } });
    expect((await t.run(CreateWithMetadata, { input: { metadata: { a: 1 }, publicMetadata: { b: 2 } } })).createUser).toMatchObject({ __typename: 'InvalidInputError', field: 'metadata' });
    expect((await t.run(CreateWithMetadata, { input: { privateMetadata: nested(9) } })).createUser).toMatchObject({ __typename: 'InvalidInputError', field: 'privateMetadata' });
    expect((await t.run(CreateWithMetadata, { input: { publicMetadata: blob(5000), unsafeMetadata: blob(4000) } })).createUser).toMatchObject({
      __typename: 'InvalidInputError',
      field: 'publicMetadata',
    });

    // updateUser's metadata replaces publicMetadata, within the limit counted with the other parts; null clears it.
    if (created.createUser.__typename !== 'CreateUserSuccess') throw new Error('createUser failed');
    const id = created.createUser.user.id;
    expect((await t.run(UpdateProfile, { input: { userId: id, metadata: { plan: 'team' } } })).updateUser).toMatchObject({
      user: { metadata: { plan: 'team' }, publicMetadata: { plan: 'team' }, privateMetadata: { crm: 'A-1' } },
    });
    await update({ userId: id, private: blob(6000, 'p') });
    expect((await t.run(UpdateProfile, { input: { userId: id, metadata: blob(3000) } })).updateUser).toMatchObject({ __typename: 'InvalidInputError', field: 'metadata' });
    expect((await t.run(UpdateProfile, { input: { userId: id, metadata: null } })).updateUser).toMatchObject({ user: { metadata: null, publicMetadata: {} } });
  });

  it('merges as RFC 7396 (null deletes, objects merge, arrays replace), leaves parts not given, and replaces with REPLACE', async () => {
    const id = await newUser();
    expect(await update({ userId: id, public: { plan: 'pro', billing: { tier: 'gold', seats: 5 }, tags: ['a', 'b'] }, unsafe: { theme: 'dark' } })).toEqual({
      __typename: 'UpdateUserMetadataSuccess',
      changed: ['PUBLIC', 'UNSAFE'],
      user: { publicMetadata: { plan: 'pro', billing: { tier: 'gold', seats: 5 }, tags: ['a', 'b'] }, privateMetadata: {}, unsafeMetadata: { theme: 'dark' } },
    });
    expect(await update({ userId: id, public: { billing: { seats: null, cycle: 'yearly' }, tags: ['c'], plan: null }, private: { risk: 0.2 } })).toMatchObject({
      changed: ['PUBLIC', 'PRIVATE'],
      user: { publicMetadata: { billing: { tier: 'gold', cycle: 'yearly' }, tags: ['c'] }, privateMetadata: { risk: 0.2 }, unsafeMetadata: { theme: 'dark' } },
    });
    expect(await update({ userId: id, public: { only: true }, mode: 'REPLACE' })).toMatchObject({
      changed: ['PUBLIC'],
      user: { publicMetadata: { only: true }, privateMetadata: { risk: 0.2 }, unsafeMetadata: { theme: 'dark' } },
    });
    // A change that changes nothing writes and records nothing.
    expect(await update({ userId: id, public: { only: true }, unsafe: {} })).toMatchObject({ changed: [] });
    expect(await update({ userId: 'usr_00000000000000000000000000', public: { a: 1 } })).toMatchObject({ __typename: 'UserNotFoundError' });

    const events = (await t.run(MetadataEvents, { userId: id })).events.edges.map((e) => e.node);
    expect(events.map((e) => e.data)).toEqual([
      expect.objectContaining({ mode: 'MERGE', changed: ['public', 'unsafe'], publicKeys: ['billing', 'plan', 'tags'], unsafeKeys: ['theme'] }),
      expect.objectContaining({ mode: 'MERGE', changed: ['public', 'private'], publicKeys: ['billing', 'plan', 'tags'], unsafeKeys: [] }),
      expect.objectContaining({ mode: 'REPLACE', changed: ['public'], publicKeys: ['billing', 'only', 'tags'], unsafeKeys: [] }),
    ]);
    // Names, never values; private metadata not even by key.
    expect(JSON.stringify(events)).not.toMatch(/gold|yearly|risk|dark/);
  });

  it('refuses non-objects, more than 8 levels and more than 8192 bytes for the three parts together, naming the part', async () => {
    const id = await newUser();
    for (const [input, field] of [
      [{ public: [1, 2] }, 'public'],
      [{ private: 'text' }, 'private'],
      [{ unsafe: 42 }, 'unsafe'],
      [{ public: nested(9) }, 'public'],
      [{ unsafe: { list: [[[[[[[[1]]]]]]]] } }, 'unsafe'],
      [{ public: blob(8193) }, 'public'],
      [{ public: blob(3000), private: blob(3000), unsafe: blob(2200) }, 'public'],
    ] as const) {
      expect(await update({ userId: id, ...input })).toMatchObject({ __typename: 'InvalidInputError', field });
    }
    expect(await update({ userId: id, public: nested(8), private: blob(3000), unsafe: blob(2000) })).toMatchObject({ changed: ['PUBLIC', 'PRIVATE', 'UNSAFE'] });
    // The parts not given count too: private grows past the total, then fits once unsafe shrinks.
    const total = JSON.stringify(nested(8)).length + 3000 + 2000;
    expect(await update({ userId: id, private: blob(3000 + 8192 - total + 1) })).toMatchObject({ __typename: 'InvalidInputError', field: 'private' });
    expect(await update({ userId: id, unsafe: { v: null } })).toMatchObject({ changed: ['UNSAFE'] });
    expect(await update({ userId: id, private: blob(3000 + 8192 - total + 1) })).toMatchObject({ changed: ['PRIVATE'] });
    // Nothing of the refused changes was written.
    expect(await read(id)).toMatchObject({ publicMetadata: nested(8), unsafeMetadata: {} });
  });

  it('lets concurrent merges all land: no key is lost', async () => {
    const id = await newUser();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => update({ userId: id, public: { [`k${i}`]: i, shared: { [`s${i}`]: true } }, ...(i % 2 ? { unsafe: { [`u${i}`]: i } } : {}) })),
    );
    expect(results.every((r) => r.__typename === 'UpdateUserMetadataSuccess')).toBe(true);
    const after = await read(id);
    expect(Object.keys(after!.publicMetadata as object).sort()).toEqual([...Array.from({ length: 12 }, (_, i) => `k${i}`), 'shared'].sort());
    expect(Object.keys((after!.publicMetadata as { shared: object }).shared)).toHaveLength(12);
    expect(Object.keys(after!.unsafeMetadata as object)).toHaveLength(6);
    expect((await t.run(MetadataEvents, { userId: id })).events.edges).toHaveLength(12);
  });
});

describe('users(filter: { metadata })', () => {
  const ids: Record<string, string> = {};
  const emails: Record<string, string> = {};
  const found = async (metadata: { path: string; equals: unknown }, extra: object = {}) => {
    const page = (await t.run(FilterUsers, { filter: { metadata, ...extra }, first: 50 })).users;
    expect(page.totalCount).toBe(page.edges.length);
    return page.edges.map((e) => Object.keys(ids).find((k) => ids[k] === e.node.id) ?? e.node.id).sort();
  };

  beforeAll(async () => {
    const set = async (name: string, pub: object) => {
      const user = await seed(t).user({});
      [ids[name], emails[name]] = [user.id, user.email!];
      await update({ userId: ids[name], public: pub, unsafe: { plan: 'spoofed', flag: true } });
    };
    await set('ada', { plan: 'pro', billing: { tier: 'gold', seats: 5 }, flag: true, n: 1.5, code: '1' });
    await set('bob', { plan: 'free', billing: { tier: 'silver' }, flag: false, n: 1, code: 1 });
    await set('cy', { plan: ['pro'], billing: [{ tier: 'gold' }], flag: 'true', n: 2 });
    await set('di', { plan: 'pro', crm: 'Ünïcode ✓' });
  });

  it('matches a JSON scalar at a path of publicMetadata, as JSON: types stay apart, arrays are not entered', async () => {
    expect(await found({ path: 'plan', equals: 'pro' })).toEqual(['ada', 'di']);
    expect(await found({ path: 'billing.tier', equals: 'gold' })).toEqual(['ada']);
    expect(await found({ path: 'billing.seats', equals: 5 })).toEqual(['ada']);
    expect(await found({ path: 'flag', equals: true })).toEqual(['ada']);
    expect(await found({ path: 'flag', equals: 'true' })).toEqual(['cy']);
    expect(await found({ path: 'n', equals: 1 })).toEqual(['bob']);
    expect(await found({ path: 'n', equals: 1.5 })).toEqual(['ada']);
    expect(await found({ path: 'code', equals: '1' })).toEqual(['ada']);
    expect(await found({ path: 'code', equals: 1 })).toEqual(['bob']);
    expect(await found({ path: 'crm', equals: 'Ünïcode ✓' })).toEqual(['di']);
    expect(await found({ path: 'billing.tier.deeper', equals: 'gold' })).toEqual([]);
    // unsafeMetadata is never searched (everyone's says plan: spoofed).
    expect(await found({ path: 'plan', equals: 'spoofed' })).toEqual([]);
    // With the other filters (AND).
    expect(await found({ path: 'plan', equals: 'pro' }, { state: 'ACTIVE' })).toEqual(['ada', 'di']);
    expect(await found({ path: 'plan', equals: 'pro' }, { email: emails.di })).toEqual(['di']);
    expect(await found({ path: 'plan', equals: 'pro' }, { email: emails.bob })).toEqual([]);
  });

  it('answers BAD_USER_INPUT for a path or a value it cannot mean', async () => {
    for (const [metadata, field] of [
      [{ path: '', equals: 'x' }, 'filter.metadata.path'],
      [{ path: 'a..b', equals: 'x' }, 'filter.metadata.path'],
      [{ path: "plan') OR 1=1 --", equals: 'x' }, 'filter.metadata.path'],
      [{ path: 'a.b.c.d.e.f.g.h.i', equals: 'x' }, 'filter.metadata.path'],
      [{ path: 'plan', equals: { tier: 'gold' } }, 'filter.metadata.equals'],
      [{ path: 'plan', equals: ['pro'] }, 'filter.metadata.equals'],
    ] as const) {
      const result = await t.exec(FilterUsers, { filter: { metadata } });
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });

  it('pages and counts past the index candidates (more than 1000 matches)', async () => {
    const db = t.app.database.client;
    const now = new Date();
    await db.user.createMany({ data: Array.from({ length: 1001 }, () => ({ id: newId('User'), publicMetadata: { cohort: 'bulk' }, createdAt: now, updatedAt: now })) });
    const page = (await t.run(FilterUsers, { filter: { metadata: { path: 'cohort', equals: 'bulk' } }, first: 3 })).users;
    expect(page.totalCount).toBe(1001);
    expect(page.edges).toHaveLength(3);
  });

  it.runIf(testProvider === 'postgresql')('is served by the GIN index on PostgreSQL', async () => {
    const client = new pg.Client({ connectionString: t.db.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      // Without sequential scans the planner takes any index that can answer; the question is whether one can.
      await client.query('SET LOCAL enable_seqscan = off');
      const plan = await client.query(`EXPLAIN SELECT "id" FROM "User" WHERE "publicMetadata" @> '{"billing":{"tier":"gold"}}'::jsonb`);
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('User_publicMetadata_idx');
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });
});

describe('access tokens (PORTCULLIS_TOKEN_METADATA_KEYS=plan,tier)', () => {
  /** Verified with the gateway's published keys, as a resource server does. */
  async function claims(token: string) {
    const jwks = createLocalJWKSet(await t.app.services.signingKeys.publicJwks());
    return (await jwtVerify(token, jwks)).payload as Record<string, unknown>;
  }
  const login = async (email: string, organizationId?: string) => {
    const result = (await t.run(Login, { input: { identifier: email, password: PASSWORD, organizationId } }, { token: null })).login;
    if (result.__typename !== 'LoginSuccess') throw new Error(`login: ${result.__typename}`);
    return result;
  };

  it('carries the listed public keys the user has, beside the organization and role claims, and the new values after a refresh', async () => {
    const user = await seed(t).user({ password: PASSWORD });
    const org = (await t.app.services.organizations.createOrganization({ name: `Tokens ${user.id}` }, systemMeta)).id;
    await t.app.services.organizations.addMember({ organizationId: org, userId: user.id }, systemMeta);
    expect((await claims((await login(user.email!)).accessToken)).public_metadata).toEqual({});

    await update({ userId: user.id, public: { plan: 'pro', tier: 2, internal: 'not copied' }, private: { plan: 'private' }, unsafe: { tier: 99 } });
    const signedIn = await login(user.email!, org);
    const first = await claims(signedIn.accessToken);
    expect(first).toMatchObject({ sub: user.id, org_id: org, roles: [], public_metadata: { plan: 'pro', tier: 2 } });
    // Only the listed keys of the public metadata: none of the private or unsafe values (ids and jti are random, so the values are looked for, not digits).
    expect(first.public_metadata).toEqual({ plan: 'pro', tier: 2 });
    expect(JSON.stringify(first)).not.toMatch(/not copied|"private"|:99\b/);

    await update({ userId: user.id, public: { plan: 'team', tier: null } });
    const refreshed = (await t.run(Refresh, { input: { refreshToken: signedIn.refreshToken } }, { token: null })).refreshSession;
    if (refreshed.__typename !== 'RefreshSessionSuccess') throw new Error('refresh failed');
    expect(await claims(refreshed.accessToken)).toMatchObject({ org_id: org, public_metadata: { plan: 'team' } });
  });

  it('keeps the copied keys within 1200 bytes together', async () => {
    const id = await newUser();
    expect(await update({ userId: id, public: { plan: 'x'.repeat(700), tier: 'y'.repeat(600) } })).toMatchObject({ __typename: 'InvalidInputError', field: 'public' });
    expect(await update({ userId: id, public: { plan: 'x'.repeat(700), other: 'y'.repeat(600) } })).toMatchObject({ changed: ['PUBLIC'] });
  });
});

describe('organizations', () => {
  it('merges and replaces by the same rules, counts both parts toward 8192 bytes, and records organization.updated', async () => {
    const created = (await t.run(CreateOrg, { input: { name: 'Meta Org', publicMetadata: { plan: 'pro', limits: { seats: 5 } } } })).createOrganization;
    if (created.__typename !== 'CreateOrganizationSuccess') throw new Error('createOrganization failed');
    const organizationId = created.organization.id;
    const change = async (input: object) => (await t.run(UpdateOrgMetadata, { input: { organizationId, ...input } as never })).updateOrganizationMetadata;

    expect(await change({ public: { limits: { seats: null, projects: 3 }, region: 'eu' }, private: { crm: 'A-1' } })).toEqual({
      __typename: 'UpdateOrganizationMetadataSuccess',
      changed: ['PUBLIC', 'PRIVATE'],
      organization: { publicMetadata: { plan: 'pro', limits: { projects: 3 }, region: 'eu' }, privateMetadata: { crm: 'A-1' } },
    });
    expect(await change({ private: { other: true }, mode: 'REPLACE' })).toMatchObject({ changed: ['PRIVATE'], organization: { privateMetadata: { other: true } } });
    expect(await change({ public: { plan: 'pro' } })).toMatchObject({ changed: [] });
    expect(await change({ public: [1] })).toMatchObject({ __typename: 'InvalidInputError', field: 'public' });
    expect(await change({ private: nested(9) })).toMatchObject({ __typename: 'InvalidInputError', field: 'private' });
    expect(await change({ public: blob(4100), private: blob(4100) })).toMatchObject({ __typename: 'InvalidInputError', field: 'public' });
    expect((await t.run(UpdateOrgMetadata, { input: { organizationId: 'org_00000000000000000000000000', public: {} } })).updateOrganizationMetadata).toMatchObject({
      __typename: 'NotFoundError',
    });
    // createOrganization follows the same rules (depth, both parts together).
    expect((await t.run(CreateOrg, { input: { name: 'Deep', publicMetadata: nested(9) } })).createOrganization).toMatchObject({ field: 'publicMetadata' });
    expect((await t.run(CreateOrg, { input: { name: 'Big', publicMetadata: blob(4100), privateMetadata: blob(4100) } })).createOrganization).toMatchObject({
      field: 'publicMetadata',
    });

    const events = (await t.run(OrgEvents, { organizationId })).events.edges.map((e) => (e.node.data as { changes: string[] }).changes);
    expect(events).toEqual([['publicMetadata', 'privateMetadata'], ['privateMetadata']]);
  });

  it('lets concurrent merges all land', async () => {
    const organizationId = (await t.app.services.organizations.createOrganization({ name: 'Busy Org' }, systemMeta)).id;
    await Promise.all(Array.from({ length: 12 }, (_, i) => t.run(UpdateOrgMetadata, { input: { organizationId, public: { [`k${i}`]: i }, private: { [`p${i}`]: i } } })));
    const org = await t.app.database.client.organization.findUniqueOrThrow({ where: { id: organizationId } });
    expect(Object.keys(org.publicMetadata as object)).toHaveLength(12);
    expect(Object.keys(org.privateMetadata as object)).toHaveLength(12);
  });
});

it('keeps the metadata stored before the migration that renames it publicMetadata', async () => {
  const db = await emptyDatabase();
  const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-migrations-'));
  try {
    cpSync(path.resolve(import.meta.dirname, '..', 'prisma', 'migrations'), dir, { recursive: true });
    const renaming = readMigrations(db.provider, dir).find((m) => m.name.endsWith('_user_metadata'));
    if (!renaming) throw new Error('no user_metadata migration');
    for (const m of readMigrations(db.provider, dir)) if (m.name >= renaming.name) rmSync(path.join(dir, db.provider, m.name), { recursive: true });
    await migrate(db.provider, db.url, { dir });
    const id = newId('User');
    const insert = `INSERT INTO "User" ("id", "metadata", "updatedAt") VALUES ('${id}', '{"plan":"pro","locale":"de"}', '${db.provider === 'sqlite' ? '2026-01-01T00:00:00.000+00:00' : '2026-01-01T00:00:00.000Z'}')`;
    if (db.provider === 'sqlite') {
      const { default: Database } = await import('better-sqlite3');
      const sqlite = new Database(db.url.replace(/^file:/, ''));
      sqlite.exec(insert);
      sqlite.close();
    } else {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query(insert);
      await client.end();
    }

    expect((await migrate(db.provider, db.url)).applied).toContain(renaming.name);
    const app = await createTestApp({ database: db });
    try {
      expect((await app.run(ReadMetadata, { id })).user).toEqual({ id, metadata: { plan: 'pro', locale: 'de' }, publicMetadata: { plan: 'pro', locale: 'de' }, privateMetadata: {}, unsafeMetadata: {} });
    } finally {
      await app.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
});
