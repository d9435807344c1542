import { builder } from '../../graphql/builder.js';
import type { Viewer } from '../../graphql/context.js';
import { errorTypes as E } from '../../graphql/errors.js';
import type { SchemaTypes } from '../../graphql/helpers.js';
import { parseStoredScopes } from './scopes.js';

/** The scopes the caller holds, which bound what it may give: an API key's own, everything for the bootstrap key. */
export const grantorScopes = (viewer: Viewer): readonly string[] => (viewer.kind === 'api_key' ? viewer.scopes : ['*']);

export const ApiKeyRef = builder.prismaNode('ApiKey', {
  description: 'A key for management callers (Authorization: Bearer pck_…), narrowed to its scopes. The key itself is shown once, by createApiKey.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    start: t.exposeString('start', {
      nullable: true,
      description: 'The first characters of the key (pck_ and 6 more), to recognise it; null for keys made before the gateway kept them.',
    }),
    scopes: t.stringList({ description: 'What the key may do (see docs/tokens-and-keys.md); * is everything.', resolve: (k) => parseStoredScopes(k.scopes) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true, description: 'From then on the key is refused (401); null: until revoked.' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'The last request made with it (to the minute).' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryFields((t) => ({
  apiKeys: t.prismaConnection({
    type: 'ApiKey',
    cursor: 'id',
    authScopes: { admin: 'api_keys:manage' },
    description: 'Every API key, revoked and expired ones too, oldest first (never their secrets).',
    totalCount: (_conn, _args, ctx) => ctx.db.apiKey.count(),
    resolve: (query, _root, _args, ctx) => ctx.db.apiKey.findMany({ ...query, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
  }),
}));

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Who uses the key, for people (1 to 100 characters).' }),
    scopes: t.stringList({
      required: true,
      description: 'What the key may do: users:read, users:write, credentials:write, credentials:verify, sessions:write, signing_keys:manage, webhooks:manage, organizations:read, organizations:manage, events:read, api_keys:manage, personal_access_tokens:manage, or * for everything. An API key gives only scopes it holds.',
    }),
    expiresAt: t.field({ type: 'DateTime', description: 'When the key stops working (in the future); absent: until revoked.' }),
  }),
});
const RevokeApiKeyInput = builder.inputType('RevokeApiKeyInput', { fields: (t) => ({ id: t.id({ required: true, description: 'The key (key_…).' }) }) });

const affectedApiKey = <Parent extends { apiKeyId: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>) =>
  t.prismaField({ type: 'ApiKey', resolve: (query, parent, _args, ctx) => ctx.db.apiKey.findUniqueOrThrow({ ...query, where: { id: parent.apiKeyId } }) });

const CreateApiKeySuccess = builder.objectRef<{ apiKeyId: string; key: string }>('CreateApiKeySuccess').implement({
  description: 'The key was created; the key itself is shown once.',
  fields: (t) => ({
    apiKey: affectedApiKey(t),
    key: t.exposeString('key', { description: 'The key (pck_…), for Authorization: Bearer. Shown only now and stored only as a hash: keep it.' }),
  }),
});
const RevokeApiKeySuccess = builder.objectRef<{ apiKeyId: string }>('RevokeApiKeySuccess').implement({
  description: 'The key is revoked: requests with it are refused (401) and its live subscriptions end.',
  fields: (t) => ({ apiKey: affectedApiKey(t) }),
});

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreateApiKeySuccess,
    authScopes: { admin: 'api_keys:manage' },
    description: 'Creates an API key with the scopes given, shown once. An API key gives only scopes it holds (ScopeNotHeldError). Records api_key.created.',
    errors: { types: [E.InvalidInputError, E.ScopeNotHeldError] },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const created = await ctx.services.apiKeys.createApiKey({ name: input.name, scopes: input.scopes, expiresAt: input.expiresAt }, ctx.meta, grantorScopes(ctx.viewer));
      return { apiKeyId: created.id, key: created.key };
    },
  }),
  revokeApiKey: t.field({
    type: RevokeApiKeySuccess,
    authScopes: { admin: 'api_keys:manage' },
    description: 'Revokes an API key at once; NotFoundError unless it is active. An API key revokes only keys no stronger than itself (ScopeNotHeldError). Records api_key.revoked.',
    errors: { types: [E.NotFoundError, E.ScopeNotHeldError] },
    args: { input: t.arg({ type: RevokeApiKeyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const revoked = await ctx.services.apiKeys.revokeApiKey(String(input.id), ctx.meta, grantorScopes(ctx.viewer));
      return { apiKeyId: revoked.id };
    },
  }),
}));
