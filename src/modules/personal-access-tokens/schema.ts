import { builder } from '../../graphql/builder.js';
import { errorTypes as E } from '../../graphql/errors.js';
import { adminOrSelf, adminOrViewer, type SchemaTypes } from '../../graphql/helpers.js';
import { grantorScopes } from '../access-tokens/schema.js';
import { parseStoredScopes } from '../access-tokens/scopes.js';

export const PersonalAccessTokenRef = builder.prismaNode('PersonalAccessToken', {
  description: "A user's personal access token (Authorization: Bearer pat_…): acts as the user, narrowed to its scopes. The token itself is shown once, by createPersonalAccessToken.",
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique among the live tokens of the user.' }),
    start: t.exposeString('start', { description: 'The first characters of the token (pat_ and 6 more), to recognise it.' }),
    scopes: t.stringList({ description: 'What the token may do as its user (see docs/tokens-and-keys.md); * is all a token may do.', resolve: (p) => parseStoredScopes(p.scopes) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true, description: 'From then on the token is refused (401); null: until revoked.' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'The last request made with it (to the minute).' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    user: t.relation('user'),
  }),
});

builder.queryFields((t) => ({
  personalAccessTokens: t.prismaConnection({
    type: 'PersonalAccessToken',
    cursor: 'id',
    authScopes: (_root, args) => ({ admin: 'personal_access_tokens:manage', self: { userId: String(args.userId), scope: null } }),
    description:
      "A user's personal access tokens, revoked and expired ones too, oldest first (never their secrets). API keys holding personal_access_tokens:manage, or the user with an access token (not with a personal access token).",
    args: { userId: t.arg.id({ required: true }) },
    totalCount: (_conn, args, ctx) => ctx.db.personalAccessToken.count({ where: { userId: String(args.userId) } }),
    resolve: (query, _root, args, ctx) =>
      ctx.db.personalAccessToken.findMany({ ...query, where: { userId: String(args.userId) }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
  }),
}));

const CreatePersonalAccessTokenInput = builder.inputType('CreatePersonalAccessTokenInput', {
  fields: (t) => ({
    userId: t.id({ required: true, description: 'The user the token acts as.' }),
    name: t.string({ required: true, description: 'What the token is for (1 to 100 characters), unique among the live tokens of the user.' }),
    scopes: t.stringList({
      required: true,
      description: 'What the token may do as its user: users:read, users:write, credentials:verify, sessions:write, organizations:read, events:read, or * for all of these.',
    }),
    expiresAt: t.field({ type: 'DateTime', description: 'When the token stops working (in the future); absent: until revoked.' }),
  }),
});
const RevokePersonalAccessTokenInput = builder.inputType('RevokePersonalAccessTokenInput', {
  fields: (t) => ({ id: t.id({ required: true, description: 'The token (pt_…).' }) }),
});

const affectedToken = <Parent extends { tokenId: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>) =>
  t.prismaField({
    type: 'PersonalAccessToken',
    resolve: (query, parent, _args, ctx) => ctx.db.personalAccessToken.findUniqueOrThrow({ ...query, where: { id: parent.tokenId } }),
  });

const CreatePersonalAccessTokenSuccess = builder.objectRef<{ tokenId: string; token: string }>('CreatePersonalAccessTokenSuccess').implement({
  description: 'The token was created; the token itself is shown once.',
  fields: (t) => ({
    personalAccessToken: affectedToken(t),
    token: t.exposeString('token', { description: 'The token (pat_…), for Authorization: Bearer. Shown only now and stored only as a hash: keep it.' }),
  }),
});
const RevokePersonalAccessTokenSuccess = builder.objectRef<{ tokenId: string }>('RevokePersonalAccessTokenSuccess').implement({
  description: 'The token is revoked: requests with it are refused (401) and its live subscriptions end; its name is free again.',
  fields: (t) => ({ personalAccessToken: affectedToken(t) }),
});

builder.mutationFields((t) => ({
  createPersonalAccessToken: t.field({
    type: CreatePersonalAccessTokenSuccess,
    authScopes: adminOrSelf('personal_access_tokens:manage', { session: true }),
    description:
      'Creates a personal access token for a user, shown once. API keys holding personal_access_tokens:manage, for any user (giving only scopes they hold); the user itself with an access token after a recent re-authentication; never a personal access token. Records user.pat_created.',
    errors: { types: [E.UserNotFoundError, E.InvalidInputError, E.AlreadyExistsError, E.ScopeNotHeldError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: CreatePersonalAccessTokenInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { personalAccessToken, token } = await ctx.services.personalAccessTokens.createPersonalAccessToken(
        { userId: String(input.userId), name: input.name, scopes: input.scopes, expiresAt: input.expiresAt },
        ctx.meta,
        grantorScopes(ctx.viewer),
      );
      return { tokenId: personalAccessToken.id, token };
    },
  }),
  revokePersonalAccessToken: t.field({
    type: RevokePersonalAccessTokenSuccess,
    authScopes: adminOrViewer('personal_access_tokens:manage', { session: true }),
    description:
      "Revokes a personal access token at once: API keys holding personal_access_tokens:manage any, a user its own with an access token (another user's is NotFoundError). Records user.pat_revoked.",
    errors: { types: [E.NotFoundError] },
    args: { input: t.arg({ type: RevokePersonalAccessTokenInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const ownerId = ctx.viewer.kind === 'user' ? ctx.viewer.userId : undefined;
      const revoked = await ctx.services.personalAccessTokens.revokePersonalAccessToken(String(input.id), ctx.meta, { ownerId });
      return { tokenId: revoked.id };
    },
  }),
}));
