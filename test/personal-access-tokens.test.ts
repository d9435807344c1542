/**
 * Personal access tokens: made by an API key for any user, or by the user
 * itself after a recent re-authentication; shown once and stored as a hash;
 * `Authorization: Bearer pat_…` acts as the user within the token's scopes;
 * names unique among the user's live tokens (also under concurrency);
 * lastUsedAt to the minute; revoked and expired tokens refused; revocation,
 * deactivation and deletion end the token's live subscriptions.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed } from './helpers/seed.js';

const CreatePat = graphql(`
  mutation PatCreate($input: CreatePersonalAccessTokenInput!) {
    createPersonalAccessToken(input: $input) {
      __typename
      ... on CreatePersonalAccessTokenSuccess { token personalAccessToken { id name start scopes createdAt expiresAt lastUsedAt revokedAt user { id } } }
      ... on InvalidInputError { field message }
      ... on AlreadyExistsError { field message }
      ... on ReauthenticationRequiredError { maxAgeSeconds }
      ... on Error { code }
    }
  }
`);
const RevokePat = graphql(`
  mutation PatRevoke($input: RevokePersonalAccessTokenInput!) {
    revokePersonalAccessToken(input: $input) { __typename ... on RevokePersonalAccessTokenSuccess { personalAccessToken { id revokedAt } } ... on Error { code } }
  }
`);
const Pats = graphql(`
  query PatList($userId: ID!) { personalAccessTokens(userId: $userId, first: 50) { totalCount edges { node { id name start scopes lastUsedAt revokedAt } } } }
`);
const Me = graphql(`
  query PatMe { me { id email } }
`);
const Reauthenticate = graphql(`
  mutation PatReauthenticate($input: ReauthenticateInput!) { reauthenticate(input: $input) { __typename } }
`);
const UserEvents = graphql(`
  query PatUserEvents($id: ID!) { user(id: $id) { events(first: 50, types: [USER_PAT_CREATED, USER_PAT_REVOKED]) { edges { node { type actor { type id } data } } } } }
`);
const Stream = graphql(`
  subscription PatStream($userId: ID!, $after: ID) { userEvents(userId: $userId, after: $after) { type } }
`);

const PASSWORD = 'a perfectly long password';
const clock = manualClock();
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ clock, env: { PORTCULLIS_SUBSCRIPTION_REAUTH_SECONDS: '1' } });
});
afterAll(() => t?.close());

type Created = Extract<Awaited<ReturnType<typeof create>>['createPersonalAccessToken'], { __typename: 'CreatePersonalAccessTokenSuccess' }>;

function create(input: { userId: string; name: string; scopes: string[]; expiresAt?: string }, token?: string) {
  return t.run(CreatePat, { input }, token ? { token } : undefined);
}

async function created(input: { userId: string; name: string; scopes: string[]; expiresAt?: string }, token?: string): Promise<Created> {
  const result = (await create(input, token)).createPersonalAccessToken;
  if (result.__typename !== 'CreatePersonalAccessTokenSuccess') throw new Error(`not created: ${JSON.stringify(result)}`);
  return result;
}

describe('createPersonalAccessToken by an API key', () => {
  it('returns the token once, stores its hash, and the token acts as the user', async () => {
    const ada = await seed(t).user({ email: 'ada@example.com' });
    const made = await created({ userId: ada.id, name: ' deploy script ', scopes: ['users:read'] });
    expect(made.token).toMatch(/^pat_[A-Za-z0-9_-]{43}$/);
    expect(made.personalAccessToken).toMatchObject({ name: 'deploy script', start: made.token.slice(0, 10), scopes: ['users:read'], expiresAt: null, lastUsedAt: null, revokedAt: null, user: { id: ada.id } });
    expect(made.personalAccessToken.id).toMatch(/^pt_/);
    const row = await t.app.database.client.personalAccessToken.findUniqueOrThrow({ where: { id: made.personalAccessToken.id } });
    expect(row.secretHash).toBe(createHash('sha256').update(made.token).digest('hex'));

    expect((await t.run(Me, undefined, { token: made.token })).me).toEqual({ id: ada.id, email: 'ada@example.com' });
    const listed = await t.run(Pats, { userId: ada.id });
    expect(listed.personalAccessTokens.totalCount).toBe(1);
    expect(listed.personalAccessTokens.edges[0].node).toMatchObject({ id: made.personalAccessToken.id, name: 'deploy script', start: made.token.slice(0, 10) });
    expect(JSON.stringify(listed)).not.toContain(made.token);
  });

  it('records user.pat_created and user.pat_revoked on the user, never the token', async () => {
    const bob = await seed(t).user();
    const made = await created({ userId: bob.id, name: 'audited', scopes: ['events:read', 'users:read'] });
    await t.run(RevokePat, { input: { id: made.personalAccessToken.id } });
    const events = (await t.run(UserEvents, { id: bob.id })).user!.events.edges.map((e) => e.node);
    const audited = { personalAccessToken: { id: made.personalAccessToken.id, name: 'audited', scopes: ['users:read', 'events:read'], expiresAt: null } };
    expect(events).toEqual([
      { type: 'USER_PAT_CREATED', actor: { type: 'bootstrap_key', id: null }, data: audited },
      { type: 'USER_PAT_REVOKED', actor: { type: 'bootstrap_key', id: null }, data: audited },
    ]);
    expect(JSON.stringify(events)).not.toContain(made.token.slice(4));
  });

  it('refuses an unknown user, a bad name, a scope no token may hold, and an expiry not in the future', async () => {
    const cy = await seed(t).user();
    expect((await create({ userId: 'usr_unknown', name: 'x', scopes: ['users:read'] })).createPersonalAccessToken).toMatchObject({ __typename: 'UserNotFoundError' });
    const cases: Array<[Parameters<typeof create>[0], string]> = [
      [{ userId: cy.id, name: '', scopes: ['users:read'] }, 'name'],
      [{ userId: cy.id, name: 'x', scopes: ['webhooks:manage'] }, 'scopes'],
      [{ userId: cy.id, name: 'x', scopes: ['nonsense'] }, 'scopes'],
      [{ userId: cy.id, name: 'x', scopes: ['users:read'], expiresAt: new Date(clock.now().getTime() - 60_000).toISOString() }, 'expiresAt'],
    ];
    for (const [input, field] of cases) expect((await create(input)).createPersonalAccessToken, JSON.stringify(input)).toMatchObject({ __typename: 'InvalidInputError', field });
    expect(await t.app.database.client.personalAccessToken.count({ where: { userId: cy.id } })).toBe(0);
  });
});

describe('names', () => {
  it('are unique among a user\'s live tokens: a second is AlreadyExistsError, another user may use it, a revoked token frees it', async () => {
    const dee = await seed(t).user();
    const eve = await seed(t).user();
    const first = await created({ userId: dee.id, name: 'ci', scopes: ['users:read'] });
    expect((await create({ userId: dee.id, name: 'ci', scopes: ['users:read'] })).createPersonalAccessToken).toMatchObject({
      __typename: 'AlreadyExistsError',
      field: 'name',
      message: 'Another personal access token of this user already has this name.',
    });
    expect((await create({ userId: eve.id, name: 'ci', scopes: ['users:read'] })).createPersonalAccessToken.__typename).toBe('CreatePersonalAccessTokenSuccess');
    await t.run(RevokePat, { input: { id: first.personalAccessToken.id } });
    expect((await create({ userId: dee.id, name: 'ci', scopes: ['users:read'] })).createPersonalAccessToken.__typename).toBe('CreatePersonalAccessTokenSuccess');
  });

  it('hold under concurrency: of eight requests for one name, one creates it', async () => {
    const fay = await seed(t).user();
    const results = await Promise.all(Array.from({ length: 8 }, () => create({ userId: fay.id, name: 'raced', scopes: ['users:read'] })));
    const kinds = results.map((r) => r.createPersonalAccessToken.__typename).sort();
    expect(kinds).toEqual(['AlreadyExistsError', 'AlreadyExistsError', 'AlreadyExistsError', 'AlreadyExistsError', 'AlreadyExistsError', 'AlreadyExistsError', 'AlreadyExistsError', 'CreatePersonalAccessTokenSuccess']);
    expect(await t.app.database.client.personalAccessToken.count({ where: { userId: fay.id } })).toBe(1);
    expect(await t.app.database.client.event.count({ where: { userId: fay.id, type: 'user.pat_created' } })).toBe(1);
  });
});

describe('a user making its own', () => {
  it('needs a recent re-authentication of its session', async () => {
    const gil = await seed(t).user({ password: PASSWORD }).signedIn();
    const token = gil.session!.accessToken;
    // Just signed in: the sign-in counts as the proof.
    const fresh = await created({ userId: gil.id, name: 'laptop', scopes: ['*'] }, token);
    expect((await t.run(Me, undefined, { token: fresh.token })).me?.id).toBe(gil.id);
    clock.advance(301_000);
    const stale = await create({ userId: gil.id, name: 'later', scopes: ['users:read'] }, token);
    expect(stale.createPersonalAccessToken).toMatchObject({ __typename: 'ReauthenticationRequiredError', maxAgeSeconds: 300 });
    expect((await t.run(Reauthenticate, { input: { password: PASSWORD } }, { token })).reauthenticate.__typename).toBe('ReauthenticateSuccess');
    expect((await create({ userId: gil.id, name: 'later', scopes: ['users:read'] }, token)).createPersonalAccessToken.__typename).toBe('CreatePersonalAccessTokenSuccess');
    // It lists and revokes its own (no re-authentication needed to take power away).
    clock.advance(301_000);
    expect((await t.run(Pats, { userId: gil.id }, { token })).personalAccessTokens.totalCount).toBe(2);
    const revoked = await t.run(RevokePat, { input: { id: fresh.personalAccessToken.id } }, { token });
    expect(revoked.revokePersonalAccessToken).toMatchObject({ __typename: 'RevokePersonalAccessTokenSuccess', personalAccessToken: { revokedAt: clock.now().toISOString() } });
  });

  it("cannot revoke another user's token (NotFoundError, so ids cannot be probed)", async () => {
    const hal = await seed(t).user().signedIn();
    const ida = await seed(t).user();
    const theirs = await created({ userId: ida.id, name: 'theirs', scopes: ['users:read'] });
    const probe = await t.run(RevokePat, { input: { id: theirs.personalAccessToken.id } }, { token: hal.session!.accessToken });
    expect(probe.revokePersonalAccessToken).toMatchObject({ __typename: 'NotFoundError' });
    expect((await t.run(Me, undefined, { token: theirs.token })).me?.id).toBe(ida.id);
  });
});

describe('using a token', () => {
  it('records when it was last used, at most once a minute', async () => {
    const jo = await seed(t).user();
    const made = await created({ userId: jo.id, name: 'stamped', scopes: ['users:read'] });
    const lastUsed = async () => (await t.app.database.client.personalAccessToken.findUniqueOrThrow({ where: { id: made.personalAccessToken.id } })).lastUsedAt?.toISOString();
    const first = clock.now().toISOString();
    await t.run(Me, undefined, { token: made.token });
    expect(await lastUsed()).toBe(first);
    clock.advance(59_000);
    await t.run(Me, undefined, { token: made.token });
    expect(await lastUsed()).toBe(first);
    clock.advance(2_000);
    await t.run(Me, undefined, { token: made.token });
    expect(await lastUsed()).toBe(clock.now().toISOString());
  });

  it('is refused once revoked or expired, with a 401 that says which', async () => {
    const kim = await seed(t).user();
    const revoked = await created({ userId: kim.id, name: 'revoked', scopes: ['users:read'] });
    await t.run(RevokePat, { input: { id: revoked.personalAccessToken.id } });
    expect((await t.exec(Me, undefined, { token: revoked.token })).errors?.[0]).toMatchObject({
      message: expect.stringContaining('This personal access token was revoked.'),
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect((await t.run(RevokePat, { input: { id: revoked.personalAccessToken.id } })).revokePersonalAccessToken).toMatchObject({ __typename: 'NotFoundError' });

    const expiresAt = new Date(clock.now().getTime() + 86_400_000);
    const expiring = await created({ userId: kim.id, name: 'a day', scopes: ['users:read'], expiresAt: expiresAt.toISOString() });
    clock.advance(86_399_000);
    expect((await t.exec(Me, undefined, { token: expiring.token })).errors).toBeUndefined();
    clock.advance(1_000);
    expect((await t.exec(Me, undefined, { token: expiring.token })).errors?.[0]).toMatchObject({
      message: expect.stringContaining(`This personal access token expired at ${expiresAt.toISOString()}.`),
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });
});

describe('live subscriptions', () => {
  type Item = { data?: unknown; errors?: Array<{ extensions?: Record<string, unknown> }> };

  /** A stream of the user's events after its newest one, with a replayed event first: it is open and authorized. */
  async function openStream(userId: string, token: string) {
    const cursor = (await t.app.database.client.event.findFirstOrThrow({ where: { userId }, orderBy: { seq: 'desc' } })).id;
    await t.app.services.users.updateUser(userId, { displayName: `n${Math.random()}` }, systemMeta);
    const result = (await t.exec(Stream, { userId, after: cursor }, { token })) as unknown as AsyncIterable<Item>;
    const stream = result[Symbol.asyncIterator]();
    expect((await stream.next()).value).toEqual({ data: { userEvents: { type: 'USER_UPDATED' } } });
    return stream;
  }

  const endsRevoked = async (stream: AsyncIterator<Item>) => {
    const next = await stream.next();
    expect(next.value?.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ACCESS_REVOKED' });
    expect((await stream.next()).done).toBe(true);
  };

  it('end when the token is revoked', async () => {
    const lee = await seed(t).user();
    const made = await created({ userId: lee.id, name: 'listener', scopes: ['events:read'] });
    const stream = await openStream(lee.id, made.token);
    await t.run(RevokePat, { input: { id: made.personalAccessToken.id } });
    await endsRevoked(stream);
  });

  it('end when the user is deactivated or deleted', async () => {
    const mo = await seed(t).user();
    const first = await created({ userId: mo.id, name: 'one', scopes: ['events:read'] });
    const stream = await openStream(mo.id, first.token);
    await t.app.services.users.deactivateUser(mo.id, systemMeta);
    await endsRevoked(stream);
    await t.app.services.users.reactivateUser(mo.id, systemMeta);
    const again = await openStream(mo.id, first.token);
    await t.app.services.users.deleteUser(mo.id, systemMeta);
    await endsRevoked(again);
  });
});
