/**
 * The listening part: node:http for GraphQL over HTTP and SSE, graphql-ws on
 * the same path for WebSocket, health probes, and graceful shutdown.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { listen } from './listen.js';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Logger } from '../kernel/logger.js';
import type { PageHandler } from '../modules/manifest.js';
import type { Services } from '../modules/services.js';
import { callerToken, resolveViewer, stillAuthorized } from './auth.js';
import type { createRequestObserver, RequestRecord } from './observe.js';
import type { Viewer } from '../graphql/context.js';
import type { YogaServer } from './yoga.js';
import { createFastLane, flatHeaders } from './fast-lane.js';
import { createTurnCorker, writeResults } from './subscription-fanout.js';

export interface HttpDeps {
  yoga: YogaServer;
  services: Services;
  logger: Logger;
  /** Operations one WebSocket connection may run at once (PORTCULLIS_MAX_SUBSCRIPTIONS_PER_SOCKET). */
  maxSubscriptionsPerSocket: number;
  /** Resolves when the database answers; rejects otherwise. */
  ping: () => Promise<void>;
  /** The PostgreSQL pool's connections in use / idle and requests waiting (absent on SQLite). */
  pool?: () => { total: number; idle: number; waiting: number } | undefined;
  /** Extra pages (the passkey demo, the webhook portal): answers and returns true for the paths it serves. */
  pages?: PageHandler;
  /** How often an open WebSocket re-checks that its caller still has access. */
  reauthIntervalMs: number;
  /** The JSON Schemas of the event payloads (GET /events/schema.json). */
  eventSchemas: () => unknown;
  /** Ends the open SSE streams (their guard sends SHUTTING_DOWN and completes). */
  endStreams?: () => void;
  /** Answers GET /metrics here (absent: served on a port of its own, or not at all). */
  metrics?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Gives each request its id and span, and writes its access-log line (observe.ts). */
  observe: ReturnType<typeof createRequestObserver>;
  /** Answers carry `Vary: Origin` (some origins are allowed CORS). */
  varyOnOrigin: boolean;
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function createHttpServer(deps: HttpDeps) {
  const { yoga, services, logger } = deps;
  let draining = false;
  let eventSchemaBody: string | undefined;
  const lane = createFastLane({ yoga, graphqlEndpoint: yoga.graphqlEndpoint, varyOnOrigin: deps.varyOnOrigin });

  const server: Server = createServer((req, res) => deps.observe(req, res, (record) => route(req, res, record)));

  function route(req: IncomingMessage, res: ServerResponse, record: RequestRecord) {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') return json(res, draining ? 503 : 200, { status: draining ? 'draining' : 'ok' });
    if (path === '/.well-known/jwks.json') {
      // Cacheable briefly: verifiers such as jose's remote JWK set refetch on an unknown kid, so a new key is found at once.
      services.signingKeys.publicJwks().then(
        (jwks) => {
          res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
          res.end(JSON.stringify(jwks));
        },
        (error) => {
          logger.error({ err: error }, 'could not read the signing keys');
          json(res, 503, { status: 'signing keys unavailable' });
        },
      );
      return;
    }
    if (path === '/events/schema.json') {
      // The catalog of payloads, for webhook receivers: public, like the JWKS; it holds no data.
      eventSchemaBody ??= JSON.stringify(deps.eventSchemas());
      res.writeHead(200, { 'content-type': 'application/schema+json', 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
      res.end(eventSchemaBody);
      return;
    }
    if (path === '/metrics' && deps.metrics) return deps.metrics(req, res);
    if (path === '/readyz') {
      if (draining) return json(res, 503, { status: 'draining' });
      deps.ping().then(
        () => json(res, 200, { status: 'ready', pool: deps.pool?.() }),
        (error) => {
          logger.warn({ err: error }, 'readiness check failed: database unreachable');
          json(res, 503, { status: 'database unreachable', pool: deps.pool?.() });
        },
      );
      return;
    }
    if (deps.pages?.(req, res, record)) return;
    // Shows a request arriving before its body has (for operators, and the shutdown test's signal).
    logger.debug({ requestId: record.id, method: req.method, path }, 'request received');
    if (draining) res.setHeader('connection', 'close');
    if (lane.accepts(req, path)) return lane.handle(req, res, record, (error) => logger.error({ err: error, requestId: record.id }, 'could not answer a GraphQL request'));
    yoga(req, res, { remoteAddress: req.socket.remoteAddress, record });
  }

  // Upgrades are handed over by hand (noServer) rather than by attaching the WebSocket server to
  // the HTTP one, which would also forward the HTTP server's errors (a port in use) to graphql-ws.
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (req.url?.split('?')[0] !== yoga.graphqlEndpoint) return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  /** graphql-ws messages are text frames; nextFrame gives their bytes. */
  const TEXT_FRAME = { binary: false } as const;
  /** What a socket may hold unwritten before a stream waits for it: one turn's frames to a keeping-up client fit. */
  const HELD_BYTES = 64 * 1024;
  type Extra = { request: IncomingMessage; socket: WebSocket; guard?: NodeJS.Timeout };
  /** What onSubscribe hands to execute/subscribe (as the root value): yoga's functions, and where a stream's messages go. */
  type Root = { execute: (a: ExecutionArgs) => unknown; subscribe: (a: ExecutionArgs) => unknown; id: string; socket: WebSocket };
  // Frames for one socket within one turn leave in one write (see createTurnCorker).
  const holdForTurn = createTurnCorker();
  /**
   * Writes a frame. When the socket holds no more than this turn's frames for
   * a client that keeps up (HELD_BYTES; the usual case): undefined, so a
   * stream goes on without a promise and a turn per frame. Otherwise, as
   * graphql-ws's own adapter does: a promise settled once it is written, so a
   * slow client's backlog stays in its stream's bounded buffer, not in the
   * socket's. Nothing when the socket is no longer open.
   */
  const sendFrame = (socket: WebSocket, frame: Buffer): Promise<void> | undefined => {
    if (socket.readyState !== socket.OPEN) return undefined;
    holdForTurn((socket as unknown as { _socket?: Socket })._socket);
    let settle: ((err?: Error) => void) | undefined;
    let outcome: { err?: Error } | undefined;
    socket.send(frame, TEXT_FRAME, (err) => (settle ? settle(err) : (outcome = { err })));
    if (socket.bufferedAmount <= HELD_BYTES && !outcome?.err) return undefined;
    return new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve());
      if (outcome) settle(outcome.err);
    });
  };
  /**
   * A socket lives as long as its client wants, long after the access check
   * made when it opened: it re-checks every reauthIntervalMs and is closed
   * with 4403 once its key or session is revoked or its user may not act.
   */
  function guardSocket(extra: Extra, viewer: Viewer) {
    extra.guard = setInterval(() => {
      stillAuthorized(services, viewer).then(
        (ok) => {
          if (ok) return;
          clearInterval(extra.guard);
          extra.socket.close(4403, 'Forbidden: access ended');
        },
        // A failed check (database down) is not a revocation; the next one decides.
        (error) => logger.warn({ err: error }, 'could not re-check a WebSocket caller'),
      );
    }, deps.reauthIntervalMs);
    extra.guard.unref();
  }
  useServer<Record<string, unknown>, Extra>(
    {
      execute: (args) => (args.rootValue as Root).execute(args) as never,
      // A stream's `next` messages are written here, each payload serialized once for every socket it goes to.
      subscribe: async (args) => {
        const { subscribe, id, socket } = args.rootValue as Root;
        const result = (await subscribe(args)) as ExecutionResult | AsyncIterable<ExecutionResult>;
        if (!(Symbol.asyncIterator in result)) return result as never;
        return writeResults(result, id, (frame) => sendFrame(socket, frame)) as never;
      },
      // An anonymous socket is refused: graphql-ws closes it with 4403 Forbidden.
      onConnect: async (ctx) => {
        const token = callerToken(ctx.connectionParams, ctx.extra.request.headers.authorization);
        const viewer = await resolveViewer(services, token);
        if (viewer.kind === 'anonymous') return false;
        guardSocket(ctx.extra, viewer);
        return true;
      },
      onClose: (ctx) => clearInterval(ctx.extra.guard),
      onSubscribe: async (ctx, id, payload) => {
        // One socket must not hold unbounded listeners and buffers. graphql-ws lists the
        // socket's running operations, this one included, and drops each when it ends.
        if (Object.keys(ctx.subscriptions).length > deps.maxSubscriptionsPerSocket) {
          return [
            new GraphQLError(`At most ${deps.maxSubscriptionsPerSocket} operations may run at once on one connection; complete one first.`, {
              extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: deps.maxSubscriptionsPerSocket },
            }),
          ];
        }
        const request = new Request('http://localhost/graphql', { headers: flatHeaders(ctx.extra.request) });
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          request,
          connectionParams: ctx.connectionParams,
          remoteAddress: ctx.extra.request.socket.remoteAddress,
          transport: 'ws',
          params: payload,
        } as never);
        const args = {
          schema,
          operationName: payload.operationName,
          document: parse(payload.query),
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe, id, socket: ctx.extra.socket } satisfies Root,
        };
        const errors = validate(args.schema, args.document);
        return errors.length ? errors : (args as never);
      },
    },
    wss,
  );

  return {
    server,
    listen: (port: number, host: string): Promise<AddressInfo> => listen(server, port, host),
    /** GraphQL answers written by the fast lane (src/server/fast-lane.ts). */
    fastLaneAnswers: lane.answered,
    /** Stops accepting, lets in-flight requests finish (up to timeoutMs), then closes what is left. */
    async close(timeoutMs: number) {
      draining = true;
      // Open streams end at once, with a reason a client can act on; requests in flight get the timeout.
      deps.endStreams?.();
      for (const client of wss.clients) client.close(1001, 'server shutting down: subscribe again to resume');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      await closed;
      clearTimeout(timer);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
