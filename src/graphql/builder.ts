/**
 * The Pothos builder: plugins and scalars only; types live in ./types.
 *
 * Plugin order matters: scope-auth first, so authorization runs before any
 * other plugin's wrapping; errors before prisma, so `errors` works on
 * `t.prismaField`; relay next; wellFormedInput last, so it runs inside the
 * errors plugin and its InvalidInputError becomes the union member of fields
 * that declare it.
 */
import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import { DateResolver, DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type PrismaTypes from '../kernel/db/generated/pothos-types.js';
import { getDatamodel } from '../kernel/db/generated/pothos-types.js';
import { kindOfId, type IdKind } from '../kernel/ids.js';
import { holdsScope, type NeededScope } from '../modules/access-tokens/scopes.js';
import { authMethodTypeForId } from '../modules/auth-methods/kinds.js';
import { permissionLoader, type Context, type PermissionNeed, type SelfNeed, type Viewer } from './context.js';
import WellFormedInputPlugin, { MAX_PAGE_SIZE } from './well-formed-input.js';

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The GraphQL type an id names, from its prefix (ids are the global ids). */
function typenameForId(id: string): string {
  const kind = kindOfId(id);
  if (kind === 'AuthMethod') return authMethodTypeForId(id);
  if (!kind) throw new GraphQLError('Not a valid id.', { extensions: { code: 'BAD_USER_INPUT' } });
  return kind;
}

type Failure = { kind: string; scope?: string; parameter?: unknown; failures?: Failure[] };
type Need = { scope: string; parameter: unknown };

/** The auth scopes a refused field would have accepted, with their parameters. */
function needsIn(failure: Failure, into: Need[] = []): Need[] {
  if (failure.scope) into.push({ scope: failure.scope, parameter: failure.parameter });
  for (const inner of failure.failures ?? []) needsIn(inner, into);
  return into;
}

/** What the `admin` scope of a field needs: one scope, or several that must all be held (nodes). */
type AdminNeed = NeededScope | readonly NeededScope[];
const scopeList = (need: AdminNeed): readonly NeededScope[] => (typeof need === 'string' ? [need] : need);

/** The scopes a key or personal access token holds; undefined for callers that are not narrowed (the bootstrap key, sessions). */
function heldScopes(viewer: Viewer): readonly string[] | undefined {
  if (viewer.kind === 'api_key') return viewer.scopes;
  if (viewer.kind === 'user') return viewer.personalAccessToken?.scopes;
  return undefined;
}

function missingScope(viewer: Viewer, scope: string): GraphQLError {
  const holder = viewer.kind === 'api_key' ? 'This API key' : 'This personal access token';
  return new GraphQLError(`You are not allowed to do this. ${holder} lacks the scope ${scope}.`, {
    extensions: { code: 'FORBIDDEN', reason: 'MISSING_SCOPE', scope, allowed: `API keys or personal access tokens holding ${scope}`, http: { status: 403 } },
  });
}

/**
 * FORBIDDEN that says why and what would be allowed (extensions.reason):
 * MISSING_SCOPE (a key or personal access token without the scope the field
 * declares, named in extensions.scope), NOT_SELF (a user naming another user),
 * MISSING_PERMISSION (a user without the permission the field asks, named in
 * extensions.permission), API_KEY_REQUIRED (management only),
 * ACCESS_TOKEN_REQUIRED (an operation on the caller's own session, or one that
 * needs a session, which personal access tokens do not have).
 */
function forbidden(viewer: Viewer, needs: Need[]): GraphQLError {
  const admin = needs.find((n) => n.scope === 'admin')?.parameter as AdminNeed | undefined;
  const self = needs.find((n) => n.scope === 'self')?.parameter as SelfNeed | undefined;
  const permission = needs.find((n) => n.scope === 'permission')?.parameter as PermissionNeed | undefined;
  const held = heldScopes(viewer);
  if (viewer.kind === 'api_key' && admin) return missingScope(viewer, scopeList(admin).find((s) => !holdsScope(viewer.scopes, s)) ?? scopeList(admin)[0]);
  if (viewer.kind === 'user' && held) {
    if (self && self.userId === viewer.userId) {
      if (self.scope === null) {
        return new GraphQLError('You are not allowed to do this. It needs a session: call it with an access token from login (a personal access token has none).', {
          extensions: { code: 'FORBIDDEN', reason: 'ACCESS_TOKEN_REQUIRED', allowed: "the user's own access token", http: { status: 403 } },
        });
      }
      if (!holdsScope(held, self.scope)) return missingScope(viewer, self.scope);
    }
    if (permission && !holdsScope(held, permission.scope)) return missingScope(viewer, permission.scope);
  }
  if (viewer.kind === 'user' && permission) {
    const where = permission.organizationId ? ' in this organization' : '';
    return new GraphQLError(`You are not allowed to do this. It needs the permission ${permission.key}${where}.`, {
      extensions: {
        code: 'FORBIDDEN',
        reason: 'MISSING_PERMISSION',
        permission: permission.key,
        allowed: `API keys, or users holding ${permission.key}${where}${self ? ', or this user with their own access token' : ''}`,
        http: { status: 403 },
      },
    });
  }
  const [reason, message, allowed] =
    viewer.kind === 'user' && self
      ? ['NOT_SELF', "A user's access token or personal access token acts on its own user only.", 'API keys, or this user with their own access token']
      : viewer.kind === 'user'
        ? ['API_KEY_REQUIRED', 'Only management callers (API keys) may do this.', 'API keys']
        : ['ACCESS_TOKEN_REQUIRED', "This acts on the caller's own session: call it with the user's access token.", "the user's own access token"];
  return new GraphQLError(`You are not allowed to do this. ${message}`, { extensions: { code: 'FORBIDDEN', reason, allowed, http: { status: 403 } } });
}

/**
 * The scope node(id) needs, by the kind of object the id names (node reaches
 * every type, so it asks what the type's own queries ask).
 */
const nodeScopes: Record<IdKind, NeededScope> = {
  User: 'users:read',
  AuthMethod: 'users:read',
  Session: 'users:read',
  BackupCode: 'users:read',
  OneTimeCode: 'users:read',
  Challenge: 'users:read',
  RefreshToken: 'users:read',
  MfaChallenge: 'users:read',
  UserEvent: 'events:read',
  WebhookApp: 'webhooks:manage',
  WebhookDelivery: 'webhooks:manage',
  WebhookAttempt: 'webhooks:manage',
  WebhookPortalLink: 'webhooks:manage',
  SigningKey: 'signing_keys:manage',
  Organization: 'organizations:read',
  Membership: 'organizations:read',
  Role: 'organizations:read',
  Permission: 'organizations:read',
  OrganizationInvitation: 'organizations:read',
  OrganizationDomain: 'organizations:read',
  ApiKey: 'api_keys:manage',
  IdentityProvider: 'identity_providers:manage',
  IdpLink: 'users:read',
  IdpIntent: 'users:read',
  PersonalAccessToken: 'personal_access_tokens:manage',
};

/** The scope a global id (decoded or not) needs; users:read for ids of no known kind (node answers them with an error). */
function scopeOfId(id: unknown): NeededScope {
  const raw = typeof id === 'string' ? id : String((id as { id?: unknown } | null)?.id ?? '');
  const kind = kindOfId(raw);
  return kind ? nodeScopes[kind] : 'users:read';
}

/** Development checks of the schema's resolvers; the server turns them off in production (server/yoga.ts). */
export const schemaChecks = { unusedPrismaQueryIsError: true };

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  /**
   * admin: an API key holding the scope (or each of them), or the bootstrap key;
   * self: the user named, with an access token, or with a personal access token holding the scope;
   * permission: a signed-in user holding the permission (a personal access token must also hold its scope).
   */
  AuthScopes: { admin: AdminNeed; self: SelfNeed; permission: PermissionNeed };
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    /** A UTC day, YYYY-MM-DD; read as its midnight UTC. */
    Date: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    ID: { Input: string; Output: string };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, ErrorsPlugin, PrismaPlugin, RelayPlugin, WellFormedInputPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => {
      const { viewer } = ctx;
      const held = heldScopes(viewer);
      return {
        admin: (need: AdminNeed) => viewer.kind === 'bootstrap_key' || (viewer.kind === 'api_key' && scopeList(need).every((s) => holdsScope(viewer.scopes, s))),
        // A personal access token acts as its user only within its scopes, and never where a session is needed (scope null).
        self: (need: SelfNeed) => viewer.kind === 'user' && viewer.userId === need.userId && (!held || (need.scope !== null && holdsScope(held, need.scope))),
        // A signed-in user holding the permission (in the organization, or globally): the same check as `can`.
        permission: (need: PermissionNeed) =>
          viewer.kind === 'user' &&
          (!held || holdsScope(held, need.scope)) &&
          ctx.services.access.can({ userId: viewer.userId, permission: need.key, organizationId: need.organizationId }, permissionLoader(ctx)),
      };
    },
    unauthorizedError: (_parent, ctx, _info, result) => forbidden(ctx.viewer, needsIn(result.failure)),
  },
  errors: {
    directResult: true,
    defaultUnionOptions: { name: ({ fieldName }) => `${pascal(fieldName)}Result` },
    defaultResultOptions: { name: ({ fieldName }) => `${pascal(fieldName)}Success` },
  },
  prisma: {
    client: (ctx) => ctx.db,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    maxConnectionSize: MAX_PAGE_SIZE,
    // Outside production, a resolver that forgets to spread `query` fails loudly
    // (the builder exists before the configuration: the schema's user sets it).
    onUnusedQuery: (info) => {
      if (schemaChecks.unusedPrismaQueryIsError) throw new GraphQLError(`Prisma query was unused in resolver for ${info.parentType.name}.${info.fieldName}`);
    },
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    encodeGlobalID: (_typename, id) => String(id),
    decodeGlobalID: (globalID) => ({ typename: typenameForId(globalID), id: globalID }),
    // Management callers only: node(id) reaches every type, so an end user's access token must not (they read `me`).
    nodeQueryOptions: {
      description: "Any object by its id (usr_…, am_…, wha_…, evt_…, ses_…); API keys holding the scope of the object's kind (users:read for a user).",
      authScopes: (_root, args) => ({ admin: scopeOfId(args.id) }),
    },
    nodesQueryOptions: {
      description: 'Several objects by their ids; API keys holding the scope of each kind named.',
      authScopes: (_root, args) => ({ admin: [...new Set((args.ids as unknown[]).map(scopeOfId))] }),
    },
  },
});

builder.addScalarType('DateTime', DateTimeResolver, {});
builder.addScalarType('Date', DateResolver, {});
builder.addScalarType('JSON', JSONResolver, {});

builder.queryType({});
builder.mutationType({});

