/**
 * Authentication of callers: `Authorization: Bearer <api key>` for management
 * callers, `Authorization: Bearer <access token>` (a JWT from login) for end
 * users acting on themselves.
 * Anonymous callers may only introspect, and only outside production.
 */
import { GraphQLError, Kind, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Services } from '../modules/services.js';
import type { Context, Viewer } from '../graphql/context.js';
import { authenticate, stillAuthorized as stillAuthorizedBy } from '../kernel/auth.js';

/**
 * The root fields anyone may call without a key: those a module marks public
 * at the field (`publicOperation` in graphql/helpers.ts), read from the schema.
 */
export function publicOperations(schema: GraphQLSchema): Set<string> {
  const names = new Set<string>();
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.values(root?.getFields() ?? {})) if (field.extensions?.public === true) names.add(field.name);
  }
  return names;
}

const INTROSPECTION = new Set(['__schema', '__type', '__typename']);

export function bearerToken(header: string | null | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** The caller's token: a WebSocket's connection params win over the request's Authorization header. */
export function callerToken(connectionParams: Record<string, unknown> | undefined, header: string | null | undefined): string | undefined {
  const fromParams = connectionParams?.authorization ?? connectionParams?.Authorization;
  return bearerToken(typeof fromParams === 'string' ? fromParams : header);
}

/** The caller a token names, through the strategies the modules contribute (kernel/auth.ts). */
export function resolveViewer(services: Services, token: string | undefined): Promise<Viewer> {
  return authenticate(services.authStrategies, token);
}

/**
 * True while a caller still has access: its key is not revoked, or its
 * session is live and its user may act. Long-lived subscriptions ask this
 * again and again, since they outlive the check made when they started.
 */
export function stillAuthorized(services: Services, viewer: Viewer): Promise<boolean> {
  return stillAuthorizedBy(services.authStrategies, viewer);
}

/** The root fields an operation selects ('#fragment' for a fragment spread); empty when no operation matches. */
export function rootFieldNames(document: DocumentNode, operationName?: string | null): string[] {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops[0];
  if (!op) return [];
  // Fragments at the root are rare in anonymous calls; treat them as non-public.
  return op.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : '#fragment'));
}

/** 401; `reason` says why a presented token was refused (an expired or revoked key or personal access token). */
export function unauthenticated(reason?: string): GraphQLError {
  return new GraphQLError(reason ? `${reason} A valid API key or access token is required (Authorization: Bearer …).` : 'A valid API key or access token is required (Authorization: Bearer …).', {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });
}

/** Refuses anonymous operations unless every root field is public. */
export function useRequireCaller(options: { allowIntrospection: boolean; publicFields: ReadonlySet<string> }): Plugin<Context> {
  const allowed = (name: string) =>
    options.publicFields.has(name) || name === '__typename' || (options.allowIntrospection && INTROSPECTION.has(name));
  const check = (ctx: Context, document: DocumentNode, operationName?: string | null) => {
    if (ctx.viewer.kind !== 'anonymous') return;
    const fields = rootFieldNames(document, operationName);
    if (fields.length === 0 || !fields.every(allowed)) throw unauthenticated(ctx.viewer.refused);
  };
  return {
    onExecute: ({ args }) => check(args.contextValue, args.document, args.operationName),
    onSubscribe: ({ args }) => check(args.contextValue, args.document, args.operationName),
  };
}
