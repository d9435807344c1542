/**
 * Threats against scoped API keys and personal access tokens:
 * - a key reaching an operation its scopes do not name: every management
 *   field of the schema declares its scope, and the sweep below walks the
 *   schema itself, so a field added without one fails here (classify it);
 * - a personal access token (a script's token, easily leaked) minting API
 *   keys or more tokens that would outlive its revocation, acting on another
 *   user, reaching beyond its scopes, or doing what needs a session (a
 *   credential change, which needs a recent re-authentication);
 * - a key giving (or taking away) more than it holds;
 * - expired or revoked keys and tokens still working;
 * - keys and tokens in the log or in the event log.
 */
import { getNamedType, GraphQLInputObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { loadSchema } from '../src/graphql/index.js';
import { publicOperations } from '../src/server/auth.js';
import { graphql } from './gql/index.js';
import { accessLines, post } from './helpers/access-log.js';
import { capturedLogger, createTestApp, type TestApp } from './helpers/app.js';
import { callField, rootFields, rootType, type Answer, type RootKind } from './helpers/schema-sweep.js';
import { seed } from './helpers/seed.js';

const schema = await loadSchema();

/** Every field an API key may call, with the one scope it declares. */
const MANAGEMENT: Record<string, string> = {
  apiKeys: 'api_keys:manage',
  identityProviders: 'identity_providers:manage',
  createIdentityProvider: 'identity_providers:manage',
  updateIdentityProvider: 'identity_providers:manage',
  deleteIdentityProvider: 'identity_providers:manage',
  retrieveIdpIntent: 'users:read',
  linkIdpIntent: 'users:write',
  addIdpLink: 'users:write',
  removeIdpLink: 'users:write',
  can: 'organizations:read',
  effectivePermissions: 'organizations:read',
  events: 'events:read',
  me: 'users:read',
  // Named with a user's id here; other kinds need their own scope (tested below).
  node: 'users:read',
  nodes: 'users:read',
  organization: 'organizations:read',
  organizationBySlug: 'organizations:read',
  organizations: 'organizations:read',
  permissions: 'organizations:read',
  personalAccessTokens: 'personal_access_tokens:manage',
  role: 'organizations:read',
  roles: 'organizations:read',
  user: 'users:read',
  users: 'users:read',
  userStats: 'users:read',
  webhookApp: 'webhooks:manage',
  webhookApps: 'webhooks:manage',
  addOrganizationDomain: 'organizations:manage',
  addOrganizationMember: 'organizations:manage',
  addOtpEmail: 'credentials:write',
  addOtpSms: 'credentials:write',
  assignUserRoles: 'organizations:manage',
  changePassword: 'credentials:write',
  createApiKey: 'api_keys:manage',
  createOrganization: 'organizations:manage',
  createOrganizationInvitation: 'organizations:manage',
  createPasskeyRegistrationLink: 'credentials:write',
  createPermission: 'organizations:manage',
  createPersonalAccessToken: 'personal_access_tokens:manage',
  createRole: 'organizations:manage',
  createUser: 'users:write',
  createWebhookApp: 'webhooks:manage',
  deactivateUser: 'users:write',
  deleteOrganization: 'organizations:manage',
  deletePermission: 'organizations:manage',
  deleteRole: 'organizations:manage',
  deleteUser: 'users:write',
  deleteWebhookApp: 'webhooks:manage',
  generateBackupCodes: 'credentials:write',
  lockUser: 'users:write',
  reactivateUser: 'users:write',
  removeAuthMethod: 'credentials:write',
  removeOrganizationDomain: 'organizations:manage',
  removeOrganizationMember: 'organizations:manage',
  removeOtpEmail: 'credentials:write',
  removeOtpSms: 'credentials:write',
  removeUserRoles: 'organizations:manage',
  requestPasswordReset: 'credentials:write',
  resendEmailCode: 'users:write',
  resendPhoneCode: 'users:write',
  retryWebhookDelivery: 'webhooks:manage',
  revokeAllSessions: 'sessions:write',
  revokeApiKey: 'api_keys:manage',
  revokeOrganizationInvitation: 'organizations:manage',
  revokePersonalAccessToken: 'personal_access_tokens:manage',
  revokeSession: 'sessions:write',
  rotateSigningKey: 'signing_keys:manage',
  rotateWebhookAppSecret: 'webhooks:manage',
  sendOtp: 'credentials:verify',
  setEmail: 'users:write',
  setPassword: 'credentials:write',
  setPhone: 'users:write',
  setRolePermissions: 'organizations:manage',
  startPasskeyRegistration: 'credentials:write',
  startTotpRegistration: 'credentials:write',
  testWebhookApp: 'webhooks:manage',
  unlockUser: 'users:write',
  updateOrganization: 'organizations:manage',
  updateOrganizationDomain: 'organizations:manage',
  updateOrganizationMemberRoles: 'organizations:manage',
  updateRole: 'organizations:manage',
  updateUser: 'users:write',
  updateUserMetadata: 'users:write',
  updateOrganizationMetadata: 'organizations:manage',
  createWebhookPortalLink: 'webhooks:manage',
  updateWebhookApp: 'webhooks:manage',
  verifyEmail: 'users:write',
  verifyOrganizationDomain: 'organizations:manage',
  verifyOtp: 'credentials:verify',
  verifyPasskeyRegistration: 'credentials:write',
  verifyPassword: 'credentials:verify',
  verifyPhone: 'users:write',
  verifyTotp: 'credentials:verify',
  verifyTotpRegistration: 'credentials:write',
  organizationEvents: 'events:read',
  userEvents: 'events:read',
  userStateChanged: 'users:read',
};

/** Operations on the caller's own session or membership: no key may call them. */
const USERS_ONLY = new Set(['acceptOrganizationInvitation', 'logout', 'reauthenticate']);

/** What a personal access token may call on its own user: with this scope, or never ('session': it needs a session). */
const PERSONAL: Record<string, string> = {
  me: 'users:read',
  userStateChanged: 'users:read',
  can: 'organizations:read',
  effectivePermissions: 'organizations:read',
  userEvents: 'events:read',
  acceptOrganizationInvitation: 'users:write',
  // Its unsafe part only (public and private need an API key).
  updateUserMetadata: 'users:write',
  verifyEmail: 'users:write',
  verifyPhone: 'users:write',
  resendEmailCode: 'users:write',
  resendPhoneCode: 'users:write',
  sendOtp: 'credentials:verify',
  verifyOtp: 'credentials:verify',
  revokeSession: 'sessions:write',
  revokeAllSessions: 'sessions:write',
  personalAccessTokens: 'session',
  createPersonalAccessToken: 'session',
  revokePersonalAccessToken: 'session',
  logout: 'session',
  reauthenticate: 'session',
  changePassword: 'session',
  setEmail: 'session',
  setPhone: 'session',
  startTotpRegistration: 'session',
  verifyTotpRegistration: 'session',
  generateBackupCodes: 'session',
  addOtpSms: 'session',
  removeOtpSms: 'session',
  addOtpEmail: 'session',
  removeOtpEmail: 'session',
  startPasskeyRegistration: 'session',
  verifyPasskeyRegistration: 'session',
  removeAuthMethod: 'session',
  linkIdpIntent: 'session',
};

const CreateApiKey = graphql(`
  mutation SecCreateApiKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) { __typename ... on CreateApiKeySuccess { key apiKey { id scopes } } ... on ScopeNotHeldError { scope } ... on Error { code } }
  }
`);
const RevokeApiKey = graphql(`
  mutation SecRevokeApiKey($input: RevokeApiKeyInput!) {
    revokeApiKey(input: $input) { __typename ... on ScopeNotHeldError { scope } ... on Error { code } }
  }
`);
const CreatePat = graphql(`
  mutation SecCreatePat($input: CreatePersonalAccessTokenInput!) {
    createPersonalAccessToken(input: $input) { __typename ... on CreatePersonalAccessTokenSuccess { token personalAccessToken { id } } ... on ScopeNotHeldError { scope } ... on Error { code } }
  }
`);
const RevokePat = graphql(`
  mutation SecRevokePat($input: RevokePersonalAccessTokenInput!) {
    revokePersonalAccessToken(input: $input) { __typename ... on Error { code } }
  }
`);
const Pats = graphql(`
  query SecPats($userId: ID!) { personalAccessTokens(userId: $userId) { totalCount } }
`);
const Me = graphql(`
  query SecMe { me { id } }
`);
const Users = graphql(`
  query SecUsers { users(first: 1) { totalCount } }
`);
const UserNested = graphql(`
  query SecUserNested($id: ID!) { user(id: $id) { id events(first: 1) { edges { node { id } } } } }
`);
const UserRoles = graphql(`
  query SecUserRoles($id: ID!) { user(id: $id) { id roles { key } } }
`);
const UserMemberships = graphql(`
  query SecUserMemberships($id: ID!) { user(id: $id) { id memberships { id } } }
`);
const MeEvents = graphql(`
  query SecMeEvents { me { id events(first: 1) { edges { node { id } } } } }
`);
const Node = graphql(`
  query SecNode($id: ID!) { node(id: $id) { __typename id } }
`);
const Nodes = graphql(`
  query SecNodes($ids: [ID!]!) { nodes(ids: $ids) { __typename } }
`);
const RevokeAll = graphql(`
  mutation SecRevokeAll($input: RevokeAllSessionsInput!) { revokeAllSessions(input: $input) { __typename } }
`);

const { lines, logger } = capturedLogger('debug');
let t: TestApp;
let url: string;
let me: { id: string };
let other: { id: string };
/** Keys by the scopes they hold ('' for none). */
const keys = new Map<string, string>();
const publicFields = publicOperations(schema);

async function keyWith(...scopes: string[]): Promise<string> {
  const name = scopes.join(' ');
  if (!keys.has(name)) keys.set(name, (await t.app.services.apiKeys.createApiKey({ name: `holds ${name || 'nothing'}`, scopes }, systemMeta)).key);
  return keys.get(name)!;
}

async function patWith(userId: string, ...scopes: string[]): Promise<{ id: string; token: string }> {
  const created = await t.app.services.personalAccessTokens.createPersonalAccessToken({ userId, name: `pat ${Math.random()}`, scopes }, systemMeta);
  return { id: created.personalAccessToken.id, token: created.token };
}

const forbiddenOf = (answer: Answer) => answer.errors.find((e) => e.extensions?.code === 'FORBIDDEN')?.extensions;
const refusal = (answer: Answer) => answer.errors.find((e) => e.extensions?.code === 'FORBIDDEN' || e.extensions?.code === 'UNAUTHENTICATED');

beforeAll(async () => {
  t = await createTestApp({ logger, env: { HOST: '127.0.0.1', PORTCULLIS_ACCESS_LOG: 'true' } });
  url = (await t.app.start()).url;
  me = await t.app.services.users.createUser({ email: 'me@example.com' }, systemMeta);
  other = await t.app.services.users.createUser({ email: 'other@example.com' }, systemMeta);
});
afterAll(() => t?.close());

describe('every management field declares its scope', () => {
  it('classifies every root field: management (with its scope), users only, or public', () => {
    const fields = rootFields(schema).map(([, name]) => name);
    const unclassified = fields.filter((n) => [n in MANAGEMENT, USERS_ONLY.has(n), publicFields.has(n)].filter(Boolean).length !== 1);
    expect(unclassified).toEqual([]);
    expect(Object.keys(MANAGEMENT).filter((n) => !fields.includes(n))).toEqual([]);
  });

  it('refuses a key without scopes everywhere, naming the scope each field needs (MISSING_SCOPE)', async () => {
    const key = await keyWith();
    const wrong: string[] = [];
    for (const [kind, name] of rootFields(schema)) {
      if (!(name in MANAGEMENT)) continue;
      const refused = forbiddenOf(await callField(t, schema, kind, name, me.id, key));
      if (refused?.reason !== 'MISSING_SCOPE' || refused.scope !== MANAGEMENT[name]) wrong.push(`${name}: ${JSON.stringify(refused ?? null)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('lets a key holding exactly that scope through (queries and mutations), and refuses users-only fields to every key', async () => {
    const wrong: string[] = [];
    for (const [kind, name] of rootFields(schema)) {
      if (kind === 'subscription' || publicFields.has(name)) continue;
      const target = await t.app.services.users.createUser({}, systemMeta);
      const answer = await callField(t, schema, kind, name, target.id, await keyWith(MANAGEMENT[name] ?? '*'));
      const refused = refusal(answer);
      if (USERS_ONLY.has(name) ? refused?.extensions?.reason !== 'ACCESS_TOKEN_REQUIRED' : refused) wrong.push(`${name}: ${JSON.stringify(answer.errors)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('asks node and nodes for the scope of the kind of each id', async () => {
    const { id: keyId } = await t.app.services.apiKeys.createApiKey({ name: 'a node', scopes: [] }, systemMeta);
    const onlyUsers = await keyWith('users:read');
    expect(forbiddenOf(await callNode(keyId, onlyUsers))).toMatchObject({ reason: 'MISSING_SCOPE', scope: 'api_keys:manage' });
    expect((await t.run(Node, { id: keyId }, { token: await keyWith('api_keys:manage') })).node).toEqual({ __typename: 'ApiKey', id: keyId });
    expect((await t.run(Node, { id: me.id }, { token: onlyUsers })).node).toEqual({ __typename: 'User', id: me.id });
    const mixed = await t.exec(Nodes, { ids: [me.id, keyId] }, { token: onlyUsers });
    expect(mixed.errors?.[0].extensions).toMatchObject({ reason: 'MISSING_SCOPE', scope: 'api_keys:manage' });
    expect((await t.run(Nodes, { ids: [me.id, keyId] }, { token: await keyWith('users:read', 'api_keys:manage') })).nodes).toHaveLength(2);
  });

  it('asks nested fields for their own scope: a user\'s events, roles and memberships', async () => {
    const onlyUsers = await keyWith('users:read');
    expect((await t.exec(UserNested, { id: me.id }, { token: onlyUsers })).errors?.[0].extensions).toMatchObject({ reason: 'MISSING_SCOPE', scope: 'events:read' });
    expect((await t.exec(UserRoles, { id: me.id }, { token: onlyUsers })).errors?.[0].extensions).toMatchObject({ reason: 'MISSING_SCOPE', scope: 'organizations:read' });
    expect((await t.exec(UserMemberships, { id: me.id }, { token: onlyUsers })).errors?.[0].extensions).toMatchObject({ reason: 'MISSING_SCOPE', scope: 'organizations:read' });
    const both = await keyWith('users:read', 'events:read', 'organizations:read');
    expect((await t.exec(UserNested, { id: me.id }, { token: both })).errors).toBeUndefined();
    expect((await t.exec(UserRoles, { id: me.id }, { token: both })).errors).toBeUndefined();
  });
});

/** Whether a root field names a user: a userId argument, or one in its input. */
function namesAUser(kind: RootKind, name: string): boolean {
  const field = rootType(schema, kind).getFields()[name];
  const input = field.args.find((a) => a.name === 'input');
  const inputType = input && getNamedType(input.type);
  return field.args.some((a) => a.name === 'userId') || (inputType instanceof GraphQLInputObjectType && 'userId' in inputType.getFields());
}

async function callNode(id: string, token: string): Promise<Answer> {
  const result = await t.exec(Node, { id }, { token });
  return { errors: [...(result.errors ?? [])] as unknown as Answer['errors'] };
}

describe('personal access tokens act as their user only, within their scopes', () => {
  it('refuses a token without scopes everywhere: MISSING_SCOPE on self-service fields, ACCESS_TOKEN_REQUIRED where a session is needed, API_KEY_REQUIRED elsewhere', async () => {
    const { token } = await patWith(me.id);
    const wrong: string[] = [];
    for (const [kind, name] of rootFields(schema)) {
      if (publicFields.has(name)) continue;
      const refused = forbiddenOf(await callField(t, schema, kind, name, me.id, token));
      const expected =
        PERSONAL[name] === 'session' ? { reason: 'ACCESS_TOKEN_REQUIRED' } : PERSONAL[name] ? { reason: 'MISSING_SCOPE', scope: PERSONAL[name] } : { reason: 'API_KEY_REQUIRED' };
      if (!refused || Object.entries(expected).some(([k, v]) => refused[k] !== v)) wrong.push(`${name}: ${JSON.stringify(refused ?? null)} (expected ${JSON.stringify(expected)})`);
    }
    expect(wrong).toEqual([]);
  });

  it('lets a token holding * through on its own user where no session is needed, and nowhere else', async () => {
    const wrong: string[] = [];
    for (const [kind, name] of rootFields(schema)) {
      if (kind === 'subscription' || publicFields.has(name)) continue;
      // A fresh token each time: some operations end what they act on.
      const { token } = await patWith(me.id, '*');
      const answer = await callField(t, schema, kind, name, me.id, token);
      const refused = refusal(answer);
      const mayCall = PERSONAL[name] !== undefined && PERSONAL[name] !== 'session';
      if (mayCall === Boolean(refused)) wrong.push(`${name}: ${JSON.stringify(answer.errors)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('never acts on another user, whatever its scopes', async () => {
    const { token } = await patWith(me.id, '*');
    const wrong: string[] = [];
    for (const [kind, name] of rootFields(schema)) {
      if (publicFields.has(name)) continue;
      if (!namesAUser(kind, name)) continue;
      const answer = await callField(t, schema, kind, name, other.id, token);
      if (!forbiddenOf(answer)) wrong.push(`${name}: ${JSON.stringify(answer.errors)}`);
    }
    expect(wrong).toEqual([]);
    const probe = await t.exec(RevokeAll, { input: { userId: other.id } }, { token });
    expect(probe.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_SELF' });
    expect((await t.run(Me, undefined, { token })).me).toEqual({ id: me.id });
  });

  it('cannot create API keys or personal access tokens, for itself or anyone, nor list or revoke them', async () => {
    const { id, token } = await patWith(me.id, '*');
    const key = await t.exec(CreateApiKey, { input: { name: 'escalate', scopes: ['*'] } }, { token });
    expect(key.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'API_KEY_REQUIRED' });
    const own = await t.exec(CreatePat, { input: { userId: me.id, name: 'more', scopes: ['*'] } }, { token });
    expect(own.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ACCESS_TOKEN_REQUIRED' });
    const theirs = await t.exec(CreatePat, { input: { userId: other.id, name: 'more', scopes: ['*'] } }, { token });
    expect(theirs.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_SELF' });
    expect((await t.exec(Pats, { userId: me.id }, { token })).errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ACCESS_TOKEN_REQUIRED' });
    expect((await t.exec(RevokePat, { input: { id } }, { token })).errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN' });
    // Below the schema too: the service refuses a caller acting with a token.
    const asToken = { actor: { type: 'user' as const, id: me.id, personalAccessTokenId: id } };
    await expect(t.app.services.personalAccessTokens.createPersonalAccessToken({ userId: me.id, name: 'below', scopes: ['*'] }, asToken)).rejects.toThrow(/cannot create/);
    expect(await t.app.database.client.personalAccessToken.count({ where: { userId: { in: [me.id, other.id] }, name: { in: ['more', 'below'] } } })).toBe(0);
    expect(await t.app.database.client.apiKey.count({ where: { name: 'escalate' } })).toBe(0);
  });

  it('narrows to its scopes: reading the user is not reading its events or revoking its sessions', async () => {
    const { token } = await patWith(me.id, 'users:read');
    expect((await t.run(Me, undefined, { token })).me).toEqual({ id: me.id });
    expect((await t.exec(MeEvents, undefined, { token })).errors?.[0].extensions).toMatchObject({ reason: 'MISSING_SCOPE', scope: 'events:read' });
    expect((await t.exec(RevokeAll, { input: { userId: me.id } }, { token })).errors?.[0].extensions).toMatchObject({ reason: 'MISSING_SCOPE', scope: 'sessions:write' });
    const wider = await patWith(me.id, 'users:read', 'events:read');
    expect((await t.exec(MeEvents, undefined, { token: wider.token })).errors).toBeUndefined();
  });
});

describe('a key gives and takes away only what it holds', () => {
  it('creates keys and personal access tokens with its own scopes only (ScopeNotHeldError), and revokes only keys no stronger than itself', async () => {
    const manager = await keyWith('api_keys:manage', 'users:read');
    const wider = await t.run(CreateApiKey, { input: { name: 'wider', scopes: ['users:read', 'webhooks:manage'] } }, { token: manager });
    expect(wider.createApiKey).toEqual({ __typename: 'ScopeNotHeldError', scope: 'webhooks:manage', code: 'SCOPE_NOT_HELD' });
    const everything = await t.run(CreateApiKey, { input: { name: 'everything', scopes: ['*'] } }, { token: manager });
    expect(everything.createApiKey).toMatchObject({ __typename: 'ScopeNotHeldError', scope: '*' });
    const narrower = await t.run(CreateApiKey, { input: { name: 'narrower', scopes: ['users:read'] } }, { token: manager });
    expect(narrower.createApiKey).toMatchObject({ __typename: 'CreateApiKeySuccess', apiKey: { scopes: ['users:read'] } });

    const { id: strongId } = await t.app.services.apiKeys.createApiKey({ name: 'strong', scopes: ['*'] }, systemMeta);
    expect((await t.run(RevokeApiKey, { input: { id: strongId } }, { token: manager })).revokeApiKey).toMatchObject({ __typename: 'ScopeNotHeldError', scope: '*' });
    expect(await t.app.services.apiKeys.isActive(strongId)).toBe(true);
    const narrowerId = narrower.createApiKey.__typename === 'CreateApiKeySuccess' ? narrower.createApiKey.apiKey.id : '';
    expect((await t.run(RevokeApiKey, { input: { id: narrowerId } }, { token: manager })).revokeApiKey.__typename).toBe('RevokeApiKeySuccess');

    const minter = await keyWith('personal_access_tokens:manage', 'users:read');
    const beyond = await t.run(CreatePat, { input: { userId: me.id, name: 'beyond', scopes: ['users:read', 'sessions:write'] } }, { token: minter });
    expect(beyond.createPersonalAccessToken).toMatchObject({ __typename: 'ScopeNotHeldError', scope: 'sessions:write' });
    const within = await t.run(CreatePat, { input: { userId: me.id, name: 'within', scopes: ['users:read'] } }, { token: minter });
    expect(within.createPersonalAccessToken.__typename).toBe('CreatePersonalAccessTokenSuccess');
  });
});

describe('expired and revoked keys and tokens', () => {
  it('answers 401 with a message saying why, for keys and personal access tokens alike', async () => {
    const key = await t.app.services.apiKeys.createApiKey({ name: 'soon revoked', scopes: ['*'] }, systemMeta);
    await t.app.services.apiKeys.revokeApiKey(key.id, systemMeta);
    const pat = await patWith(me.id, '*');
    await t.app.services.personalAccessTokens.revokePersonalAccessToken(pat.id, systemMeta);
    // Expired rows, as the clock will make them: an expiry in the past is refused at creation.
    const past = new Date(Date.now() - 1000);
    const expiredKey = await t.app.services.apiKeys.createApiKey({ name: 'expiring', scopes: ['*'], expiresAt: new Date(Date.now() + 60_000) }, systemMeta);
    await t.app.database.client.apiKey.update({ where: { id: expiredKey.id }, data: { expiresAt: past } });
    const expiredPat = await t.app.services.personalAccessTokens.createPersonalAccessToken({ userId: me.id, name: 'expiring', scopes: ['*'], expiresAt: new Date(Date.now() + 60_000) }, systemMeta);
    await t.app.database.client.personalAccessToken.update({ where: { id: expiredPat.personalAccessToken.id }, data: { expiresAt: past } });

    const cases: Array<[string, RegExp]> = [
      [key.key, /API key was revoked/],
      [pat.token, /personal access token was revoked/],
      [expiredKey.key, /API key expired at/],
      [expiredPat.token, /personal access token expired at/],
      ['pck_unknownunknownunknownunknownunknownunknown1', /^A valid API key/],
      ['pat_unknownunknownunknownunknownunknownunknown1', /^A valid API key/],
    ];
    for (const [token, message] of cases) {
      const res = await post(url, '{ users(first: 1) { totalCount } }', {}, { token });
      expect(res.status).toBe(401);
      expect(res.body.errors?.[0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code: 'UNAUTHENTICATED' } });
    }
    expect(await t.app.services.apiKeys.isActive(expiredKey.id)).toBe(false);
    expect(await t.app.services.personalAccessTokens.isActive(expiredPat.personalAccessToken.id, me.id)).toBe(false);
  });

  it("refuses a personal access token while its user is deactivated, and once the user is deleted", async () => {
    const user = await seed(t).user();
    const { token } = await patWith(user.id, '*');
    expect((await post(url, '{ me { id } }', {}, { token })).status).toBe(200);
    await t.app.services.users.deactivateUser(user.id, systemMeta);
    const refused = await post(url, '{ me { id } }', {}, { token });
    expect(refused.status).toBe(401);
    expect(refused.body.errors?.[0].message).toMatch(/locked or deactivated/);
    await t.app.services.users.deleteUser(user.id, systemMeta);
    expect((await post(url, '{ me { id } }', {}, { token })).status).toBe(401);
  });
});

describe('secrets in the log and the event log', () => {
  it('holds no key or token, nor their hashes, in the log or in any event', async () => {
    const created = await post(url, 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { ... on CreateApiKeySuccess { key apiKey { id } } } }', { input: { name: 'logged?', scopes: ['users:read'] } }, { token: await keyWith('*') });
    const key: string = created.body.data.createApiKey.key;
    expect((await post(url, '{ users(first: 1) { totalCount } }', {}, { token: key })).status).toBe(200);
    const session = await t.app.services.sessions.createSession(me.id, {}, systemMeta);
    const made = await post(url, 'mutation ($input: CreatePersonalAccessTokenInput!) { createPersonalAccessToken(input: $input) { ... on CreatePersonalAccessTokenSuccess { token personalAccessToken { id } } } }', { input: { userId: me.id, name: 'logged?', scopes: ['users:read'] } }, { token: session.accessToken });
    const pat: string = made.body.data.createPersonalAccessToken.token;
    expect((await post(url, '{ me { id } }', {}, { token: pat })).status).toBe(200);
    await post(url, 'mutation ($input: RevokePersonalAccessTokenInput!) { revokePersonalAccessToken(input: $input) { __typename } }', { input: { id: made.body.data.createPersonalAccessToken.personalAccessToken.id } }, { token: session.accessToken });
    await post(url, 'mutation ($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { __typename } }', { input: { id: created.body.data.createApiKey.apiKey.id } }, { token: await keyWith('*') });
    await post(url, '{ me { id } }', {}, { token: pat });

    const hashes = await Promise.all([
      t.app.database.client.apiKey.findUniqueOrThrow({ where: { id: created.body.data.createApiKey.apiKey.id } }),
      t.app.database.client.personalAccessToken.findUniqueOrThrow({ where: { id: made.body.data.createPersonalAccessToken.personalAccessToken.id } }),
    ]);
    const secrets = [key, pat, key.slice(4), pat.slice(4), ...hashes.map((h) => h.secretHash)];
    const events = JSON.stringify(await t.app.database.client.event.findMany({ where: { type: { in: ['api_key.created', 'api_key.revoked', 'user.pat_created', 'user.pat_revoked'] } } }));
    expect(events).toContain('logged?');
    const log = lines.join('\n');
    expect(accessLines(lines).some((l) => l.personalAccessTokenId)).toBe(true);
    for (const secret of secrets) {
      expect(log.includes(secret), 'in the log').toBe(false);
      expect(events.includes(secret), 'in an event').toBe(false);
    }
  });
});
