/**
 * One yoga instance and one context factory, shared by HTTP, SSE and
 * WebSocket, so every transport gets the same authentication, limits and
 * error masking.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import type { Config } from '../config.js';
import type { Db } from '../kernel/db/client.js';
import type { Logger } from '../kernel/logger.js';
import { PortcullisError } from '../kernel/errors.js';
import type { Services } from '../modules/services.js';
import type { Context } from '../graphql/context.js';
import { loadSchema } from '../graphql/index.js';
import { schemaChecks } from '../graphql/builder.js';
import { callerToken, publicOperations, resolveViewer, stillAuthorized, useRequireCaller } from './auth.js';
import { clientAddress, requestIdOf, useRequestRecord, type RequestRecord } from './observe.js';
import { currentTraceId } from '../kernel/tracing.js';
import { createShutdownSignal, useSubscriptionGuard } from './subscription-guard.js';
import { createFanout, useSubscriptionFanout } from './subscription-fanout.js';
import { useClearLimitErrors } from './limits.js';
import type { RateLimiter } from '../kernel/rate-limiter.js';
import { useRateLimitPublicOperations } from './rate-limit.js';
import type { Metrics } from '../kernel/metrics.js';
import { useMetrics } from './metrics.js';

export interface YogaDeps {
  config: Readonly<Config>;
  services: Services;
  db: Db;
  logger: Logger;
  rateLimiter?: RateLimiter | null;
  /** Counts and times operations here (portcullis_graphql_*), and live subscriptions. */
  metrics?: Metrics;
}

type Initial = YogaInitialContext & { connectionParams?: Record<string, unknown>; remoteAddress?: string; transport?: 'ws'; record?: RequestRecord };


/** Logs errors that are not expected outcomes, with the request id, before yoga masks them for the client. */
function useErrorLogging(logger: Logger): Plugin<Context> {
  return {
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result }) => {
        if (!('errors' in result) || !result.errors) return;
        for (const error of result.errors) {
          const original = (error as GraphQLError).originalError;
          if (!original || original instanceof GraphQLError || original instanceof PortcullisError) continue;
          logger.error({ err: original, requestId: args.contextValue.requestId, path: error.path }, 'unexpected error in an operation');
        }
      },
    }),
  };
}

/**
 * A request yoga cannot parse is answered 400 without echoing it: yoga puts
 * the JSON parser's message, which quotes the body (a password, a token), into
 * the response, and a malformed `variables` query parameter became an
 * unexpected error whose logged message quoted it.
 */
function useOpaqueParseErrors(): Plugin<Context> {
  return {
    onRequestParse: ({ requestParser, setRequestParser }) => {
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          // Yoga answers 200 to application/json clients when no error carries an
          // originalError; a request it cannot read stays a 400 without one.
          if (error instanceof GraphQLError) {
            const { originalError: _echo, http, ...extensions } = error.extensions as { originalError?: unknown; http?: { status?: number } };
            throw new GraphQLError(error.message, { extensions: { ...extensions, http: { status: http?.status ?? 400 } } });
          }
          if (error instanceof SyntaxError) {
            throw new GraphQLError('The request sent invalid JSON.', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
          }
          throw error;
        }
      });
    },
  };
}

/**
 * CORS as an allowlist (PORTCULLIS_CORS_ORIGINS): a listed origin is echoed
 * back exactly, any other origin gets no CORS headers, so browsers keep other
 * sites' scripts from reading answers. No credentials: callers send
 * Authorization themselves and the gateway sets no cookies.
 */
function corsAllowlist(allowed: readonly string[]) {
  const listed = new Set(allowed);
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (!origin || !listed.has(origin)) return false as const;
    return {
      origin,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'accept', 'x-request-id'],
      exposedHeaders: ['x-request-id'],
      credentials: false,
      maxAge: 600,
    };
  };
}

/** Answers differ by Origin once some origins are allowed: caches must keep them apart. */
function useVaryOnOrigin(): Plugin<Context> {
  return {
    onResponse: ({ response }) => {
      response.headers.append('vary', 'Origin');
    },
  };
}

export async function createYogaServer(deps: YogaDeps) {
  const { config, services, db, logger } = deps;
  const production = config.env === 'production';

  async function context(initial: Initial): Promise<Context> {
    const requestId = initial.record?.id ?? requestIdOf(initial.request?.headers.get('x-request-id'), config.trustProxy);
    const token = callerToken(initial.connectionParams, initial.request?.headers.get('authorization'));
    const viewer = await resolveViewer(services, token);
    const actor =
      viewer.kind === 'api_key' ? { type: 'api_key' as const, id: viewer.keyId }
      : viewer.kind === 'bootstrap_key' ? { type: 'bootstrap_key' as const }
      : viewer.kind === 'user' ? { type: 'user' as const, id: viewer.userId, sessionId: viewer.sessionId, personalAccessTokenId: viewer.personalAccessToken?.id }
      : { type: 'system' as const };
    return {
      services,
      db,
      viewer,
      requestId,
      transport: initial.transport === 'ws' ? 'ws' : 'http',
      meta: {
        actor,
        // X-Forwarded-For is anyone's to write: only a trusted proxy's value names the client.
        ip: clientAddress(initial.request?.headers.get('x-forwarded-for'), initial.remoteAddress, config.trustProxy),
        userAgent: initial.request?.headers.get('user-agent') ?? undefined,
        traceId: currentTraceId(),
      },
    };
  }

  schemaChecks.unusedPrismaQueryIsError = !production;
  const schema = await loadSchema();
  // Fired when the server starts to shut down: open SSE streams end at once instead of holding it.
  const shutdown = createShutdownSignal();
  const publicFields = publicOperations(schema);
  const yoga = createYoga<Initial, Context>({
    schema,
    context,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: logger,
    graphiql: config.graphiql
      ? { title: 'Portcullis', subscriptionsProtocol: 'SSE', defaultQuery: '# Portcullis. Open "Headers" below and add\n#   {"Authorization": "Bearer <your API key>"}\n# then run:\n{\n  users(first: 10) {\n    totalCount\n    edges { node { id email state } }\n  }\n}\n' }
      : false,
    // GraphiQL's page is a 9 MB script held in memory once loaded: load it only where it is served.
    renderGraphiQL: config.graphiql ? (await import('@graphql-yoga/render-graphiql')).renderGraphiQL : undefined,
    maskedErrors: { isDev: false },
    cors: corsAllowlist(config.corsOrigins),
    plugins: [
      // First: it must see each operation before a later plugin can refuse it.
      ...(deps.metrics ? [useMetrics(deps.metrics, schema)] : []),
      useRequestRecord(config.trustProxy),
      useOpaqueParseErrors(),
      ...(config.corsOrigins.length ? [useVaryOnOrigin()] : []),
      useErrorLogging(logger),
      useRequireCaller({ allowIntrospection: !production, publicFields }),
      useRateLimitPublicOperations(deps.rateLimiter ?? null, publicFields),
      useSubscriptionGuard({
        intervalMs: config.tokens.subscriptionReauthSeconds * 1000,
        stillAuthorized: (viewer) => stillAuthorized(services, viewer),
        shutdown: shutdown.signalled,
      }),
      // One execution per event for subscribers with the same operation and caller.
      useSubscriptionFanout(createFanout()),
      EnvelopArmorPlugin({
        maxDepth: { n: config.limits.maxDepth },
        costLimit: { maxCost: config.limits.maxCost },
        maxAliases: { n: config.limits.maxAliases },
        maxDirectives: { n: 50 },
        maxTokens: { n: 5000 },
        // "Did you mean …?" helps a developer, and tells an attacker the schema: outside production only.
        blockFieldSuggestion: { enabled: production },
      }),
      useClearLimitErrors(),
    ],
  });
  return { yoga, shutdown: shutdown.fire };
}

export type YogaServer = Awaited<ReturnType<typeof createYogaServer>>['yoga'];
