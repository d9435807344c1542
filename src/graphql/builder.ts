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
import { kindOfId } from '../kernel/ids.js';
import { authMethodTypeForId } from '../modules/auth-methods/kinds.js';
import { isAdmin, permissionLoader, type Context, type PermissionNeed } from './context.js';
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

/** The scopes a refused field would have accepted. */
function scopesIn(failure: Failure): Set<string> {
  const scopes = new Set<string>();
  if (failure.scope) scopes.add(failure.scope);
  for (const inner of failure.failures ?? []) for (const scope of scopesIn(inner)) scopes.add(scope);
  return scopes;
}

/** The permission a refused field would have accepted from a signed-in user, if any. */
function permissionIn(failure: Failure): PermissionNeed | undefined {
  if (failure.scope === 'permission') return failure.parameter as PermissionNeed;
  for (const inner of failure.failures ?? []) {
    const found = permissionIn(inner);
    if (found) return found;
  }
  return undefined;
}

/**
 * FORBIDDEN that says why and what would be allowed (extensions.reason):
 * NOT_SELF (a user naming another user), MISSING_PERMISSION (a user without
 * the permission the field asks, named in extensions.permission),
 * API_KEY_REQUIRED (management only), ACCESS_TOKEN_REQUIRED (an operation on
 * the caller's own session).
 */
function forbidden(viewer: Context['viewer'], scopes: Set<string>, permission?: PermissionNeed): GraphQLError {
  if (viewer.kind === 'user' && permission) {
    const where = permission.organizationId ? ' in this organization' : '';
    return new GraphQLError(`You are not allowed to do this. It needs the permission ${permission.key}${where}.`, {
      extensions: {
        code: 'FORBIDDEN',
        reason: 'MISSING_PERMISSION',
        permission: permission.key,
        allowed: `API keys, or users holding ${permission.key}${where}${scopes.has('self') ? ', or this user with their own access token' : ''}`,
        http: { status: 403 },
      },
    });
  }
  const [reason, message, allowed] =
    viewer.kind === 'user' && scopes.has('self')
      ? ['NOT_SELF', 'An access token acts on its own user only.', 'API keys, or this user with their own access token']
      : viewer.kind === 'user'
        ? ['API_KEY_REQUIRED', 'Only management callers (API keys) may do this.', 'API keys']
        : ['ACCESS_TOKEN_REQUIRED', "This acts on the caller's own session: call it with the user's access token.", "the user's own access token"];
  return new GraphQLError(`You are not allowed to do this. ${message}`, { extensions: { code: 'FORBIDDEN', reason, allowed, http: { status: 403 } } });
}

/** Development checks of the schema's resolvers; the server turns them off in production (server/yoga.ts). */
export const schemaChecks = { unusedPrismaQueryIsError: true };

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { admin: boolean; self: string; permission: PermissionNeed };
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
    authScopes: (ctx) => ({
      admin: isAdmin(ctx.viewer),
      self: (userId: string) => ctx.viewer.kind === 'user' && ctx.viewer.userId === userId,
      // A signed-in user holding the permission (in the organization, or globally): the same check as `can`.
      permission: (need: PermissionNeed) =>
        ctx.viewer.kind === 'user' &&
        ctx.services.access.can({ userId: ctx.viewer.userId, permission: need.key, organizationId: need.organizationId }, permissionLoader(ctx)),
    }),
    unauthorizedError: (_parent, ctx, _info, result) => forbidden(ctx.viewer, scopesIn(result.failure), permissionIn(result.failure)),
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
    nodeQueryOptions: { description: 'Any object by its id (usr_…, am_…, wha_…, evt_…, ses_…); API keys only.', authScopes: { admin: true } },
    nodesQueryOptions: { description: 'Several objects by their ids; API keys only.', authScopes: { admin: true } },
  },
});

builder.addScalarType('DateTime', DateTimeResolver, {});
builder.addScalarType('Date', DateResolver, {});
builder.addScalarType('JSON', JSONResolver, {});

builder.queryType({});
builder.mutationType({});

