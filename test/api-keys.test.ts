/**
 * Scoped API keys over GraphQL: created with their scopes and an optional
 * expiry, shown once, listed without secrets, narrowed to their scopes,
 * revoked, expired; keys from before scopes hold every scope; each change is
 * an event.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const CreateApiKey = graphql(`
  mutation KeysCreate($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      __typename
      ... on CreateApiKeySuccess { key apiKey { id name start scopes createdAt expiresAt lastUsedAt revokedAt } }
      ... on InvalidInputError { field message }
      ... on Error { code }
    }
  }
`);
const RevokeApiKey = graphql(`
  mutation KeysRevoke($input: RevokeApiKeyInput!) {
    revokeApiKey(input: $input) { __typename ... on RevokeApiKeySuccess { apiKey { id revokedAt } } ... on Error { code message } }
  }
`);
const ApiKeys = graphql(`
  query KeysList($first: Int, $after: String) {
    apiKeys(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id name start scopes expiresAt lastUsedAt revokedAt } } }
  }
`);
const Users = graphql(`
  query KeysUsers { users(first: 1) { totalCount } }
`);
const WebhookApps = graphql(`
  query KeysWebhookApps { webhookApps(first: 1) { edges { node { id } } } }
`);
const Events = graphql(`
  query KeysEvents($types: [UserEventType!]) { events(first: 100, types: $types) { edges { node { type actor { type id } data } } } }
`);

const clock = manualClock();
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ clock });
});
afterAll(() => t?.close());

async function createKey(input: { name: string; scopes: string[]; expiresAt?: string }) {
  const result = await t.run(CreateApiKey, { input });
  if (result.createApiKey.__typename !== 'CreateApiKeySuccess') throw new Error(`not created: ${JSON.stringify(result.createApiKey)}`);
  return result.createApiKey;
}

const keyId = (key: string) => /^key_/.test(key) ? key : '';

describe('createApiKey', () => {
  it('returns the key once, with the scopes given, and the key works within them', async () => {
    const created = await createKey({ name: '  billing backend ', scopes: ['users:read', 'events:read', 'users:read'] });
    expect(created.key).toMatch(/^pck_[A-Za-z0-9_-]{43}$/);
    expect(created.apiKey).toMatchObject({ name: 'billing backend', start: created.key.slice(0, 10), scopes: ['users:read', 'events:read'], expiresAt: null, lastUsedAt: null, revokedAt: null });
    expect(keyId(created.apiKey.id)).toBe(created.apiKey.id);
    // Only the hash is stored.
    const row = await t.app.database.client.apiKey.findUniqueOrThrow({ where: { id: created.apiKey.id } });
    expect(row.secretHash).toBe(createHash('sha256').update(created.key).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(created.key.slice(10));

    expect((await t.run(Users, undefined, { token: created.key })).users.totalCount).toBeGreaterThanOrEqual(0);
    const outside = await t.exec(WebhookApps, undefined, { token: created.key });
    expect(outside.errors?.[0]).toMatchObject({
      message: 'You are not allowed to do this. This API key lacks the scope webhooks:manage.',
      extensions: { code: 'FORBIDDEN', reason: 'MISSING_SCOPE', scope: 'webhooks:manage' },
    });
  });

  it('refuses a bad name, an unknown scope or an expiry that is not in the future, creating nothing', async () => {
    const before = (await t.run(ApiKeys, { first: 100 })).apiKeys.totalCount;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: ' ', scopes: ['users:read'] }, 'name'],
      [{ name: 'x'.repeat(101), scopes: ['users:read'] }, 'name'],
      [{ name: 'typo', scopes: ['user:read'] }, 'scopes'],
      [{ name: 'past', scopes: ['users:read'], expiresAt: new Date(clock.now().getTime() - 1).toISOString() }, 'expiresAt'],
      [{ name: 'now', scopes: ['users:read'], expiresAt: clock.now().toISOString() }, 'expiresAt'],
    ];
    for (const [input, field] of cases) {
      const result = await t.run(CreateApiKey, { input: input as never });
      expect(result.createApiKey, JSON.stringify(input)).toMatchObject({ __typename: 'InvalidInputError', field });
    }
    expect((await t.run(ApiKeys, { first: 100 })).apiKeys.totalCount).toBe(before);
  });

  it('accepts a key with no scopes, which can do nothing', async () => {
    const created = await createKey({ name: 'nothing', scopes: [] });
    expect(created.apiKey.scopes).toEqual([]);
    expect((await t.exec(Users, undefined, { token: created.key })).errors?.[0].extensions).toMatchObject({ reason: 'MISSING_SCOPE', scope: 'users:read' });
  });
});

describe('apiKeys', () => {
  it('lists every key page by page, oldest first, with no secret', async () => {
    const created = await createKey({ name: 'listed', scopes: ['*'] });
    const firstPage = await t.run(ApiKeys, { first: 2 });
    expect(firstPage.apiKeys.pageInfo.hasNextPage).toBe(true);
    const all = await t.run(ApiKeys, { first: 100 });
    const names = all.apiKeys.edges.map((e) => e.node.name);
    expect(names.indexOf('billing backend')).toBeLessThan(names.indexOf('listed'));
    expect(all.apiKeys.edges.find((e) => e.node.id === created.apiKey.id)?.node).toMatchObject({ scopes: ['*'], start: created.key.slice(0, 10) });
    expect(JSON.stringify(all)).not.toContain(created.key);
  });

  it('records when a key was last used, at most once a minute', async () => {
    const created = await createKey({ name: 'stamped', scopes: ['users:read'] });
    const lastUsed = async () => (await t.app.database.client.apiKey.findUniqueOrThrow({ where: { id: created.apiKey.id } })).lastUsedAt?.toISOString();
    const first = clock.now().toISOString();
    await t.run(Users, undefined, { token: created.key });
    expect(await lastUsed()).toBe(first);
    clock.advance(30_000);
    await t.run(Users, undefined, { token: created.key });
    expect(await lastUsed()).toBe(first);
    clock.advance(31_000);
    await t.run(Users, undefined, { token: created.key });
    expect(await lastUsed()).toBe(clock.now().toISOString());
  });
});

describe('revokeApiKey and expiry', () => {
  it('revokes once: the key is refused (401, saying so) and revoking again is NotFoundError', async () => {
    const created = await createKey({ name: 'to revoke', scopes: ['users:read'] });
    const revoked = await t.run(RevokeApiKey, { input: { id: created.apiKey.id } });
    expect(revoked.revokeApiKey).toEqual({ __typename: 'RevokeApiKeySuccess', apiKey: { id: created.apiKey.id, revokedAt: clock.now().toISOString() } });
    const refused = await t.exec(Users, undefined, { token: created.key });
    expect(refused.errors?.[0]).toMatchObject({ message: expect.stringContaining('This API key was revoked.'), extensions: { code: 'UNAUTHENTICATED' } });
    expect((await t.run(RevokeApiKey, { input: { id: created.apiKey.id } })).revokeApiKey).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect((await t.run(RevokeApiKey, { input: { id: 'key_unknown' } })).revokeApiKey).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('refuses a key from its expiry on (401, saying when)', async () => {
    const expiresAt = new Date(clock.now().getTime() + 3_600_000);
    const created = await createKey({ name: 'an hour', scopes: ['users:read'], expiresAt: expiresAt.toISOString() });
    expect(created.apiKey.expiresAt).toBe(expiresAt.toISOString());
    clock.advance(3_599_000);
    expect((await t.exec(Users, undefined, { token: created.key })).errors).toBeUndefined();
    clock.advance(1_000);
    const refused = await t.exec(Users, undefined, { token: created.key });
    expect(refused.errors?.[0]).toMatchObject({ message: expect.stringContaining(`This API key expired at ${expiresAt.toISOString()}.`), extensions: { code: 'UNAUTHENTICATED' } });
  });
});

describe('keys from before scopes', () => {
  it('hold every scope, so nothing breaks for them', async () => {
    const legacyKey = 'pck_issued-before-scopes-existed-0123456789abcdefghij';
    // A row as the gateway wrote it before: no scopes, no start, no expiry (the migration's defaults fill them).
    const legacy = await t.app.database.client.apiKey.create({ data: { id: 'key_legacy', name: 'legacy', secretHash: createHash('sha256').update(legacyKey).digest('hex') } });
    expect(legacy.scopes).toBe('*');
    expect((await t.run(WebhookApps, undefined, { token: legacyKey })).webhookApps.edges).toEqual([]);
    const made = await t.run(CreateApiKey, { input: { name: 'made by legacy', scopes: ['*'] } }, { token: legacyKey });
    expect(made.createApiKey.__typename).toBe('CreateApiKeySuccess');
    const listed = await t.run(ApiKeys, { first: 100 });
    expect(listed.apiKeys.edges.find((e) => e.node.id === 'key_legacy')?.node).toMatchObject({ scopes: ['*'], start: null });
  });
});

describe('events', () => {
  it('records api_key.created and api_key.revoked with the key\'s name and scopes, never the key', async () => {
    const created = await createKey({ name: 'audited', scopes: ['events:read'] });
    await t.run(RevokeApiKey, { input: { id: created.apiKey.id } });
    const { key: byKey, id: actorKeyId } = await t.app.services.apiKeys.createApiKey({ name: 'actor', scopes: ['api_keys:manage'] }, systemMeta);
    await t.run(CreateApiKey, { input: { name: 'made by a key', scopes: ['api_keys:manage'] } }, { token: byKey });

    const events = (await t.run(Events, { types: ['API_KEY_CREATED', 'API_KEY_REVOKED'] })).events.edges.map((e) => e.node);
    const about = (name: string) => events.filter((e) => (e.data as { apiKey: { name: string } }).apiKey.name === name);
    expect(about('audited')).toEqual([
      { type: 'API_KEY_CREATED', actor: { type: 'bootstrap_key', id: null }, data: { apiKey: { id: created.apiKey.id, name: 'audited', scopes: ['events:read'], expiresAt: null } } },
      { type: 'API_KEY_REVOKED', actor: { type: 'bootstrap_key', id: null }, data: { apiKey: { id: created.apiKey.id, name: 'audited', scopes: ['events:read'], expiresAt: null } } },
    ]);
    expect(about('made by a key')).toEqual([expect.objectContaining({ actor: { type: 'api_key', id: actorKeyId } })]);
    expect(JSON.stringify(events)).not.toContain(created.key);
  });
});

describe('subscriptions', () => {
  it('follow the scope of their field: events:read streams a user\'s events, users:read alone does not', async () => {
    const user = await t.app.services.users.createUser({ email: 'streamed@example.com' }, systemMeta);
    const reader = await createKey({ name: 'stream reader', scopes: ['events:read'] });
    const onlyUsers = await createKey({ name: 'users only', scopes: ['users:read'] });
    const Stream = graphql(`
      subscription KeysStream($userId: ID!, $after: ID) { userEvents(userId: $userId, after: $after) { type } }
    `);
    // The stored events after the cursor come first: the update is replayed.
    const cursor = (await t.app.database.client.event.findFirstOrThrow({ where: { userId: user.id }, orderBy: { seq: 'desc' } })).id;
    await t.app.services.users.updateUser(user.id, { displayName: 'streamed' }, systemMeta);
    const subscribe = async (token: string) => {
      const result = (await t.exec(Stream, { userId: user.id, after: cursor }, { token })) as unknown as AsyncIterable<{ data?: unknown; errors?: Array<{ extensions?: unknown }> }>;
      return result[Symbol.asyncIterator]();
    };
    const refused = await subscribe(onlyUsers.key);
    expect((await refused.next()).value?.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'MISSING_SCOPE', scope: 'events:read' });
    await refused.return?.();
    const allowed = await subscribe(reader.key);
    expect((await allowed.next()).value).toEqual({ data: { userEvents: { type: 'USER_UPDATED' } } });
    await allowed.return?.();
  });
});
