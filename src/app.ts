/**
 * createApp(config) wires the database, the services, the schema and the
 * server; start() listens, stop() shuts down gracefully. The CLI and the
 * tests both use it, so they run the same gateway.
 */
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createDatabase, type Database } from './kernel/db/client.js';
import { migrate } from './kernel/db/migrator.js';
import { resolveEncryptionKey } from './kernel/encryption-key.js';
import { createLogger, type Logger } from './kernel/logger.js';
import type { Delivery } from './kernel/delivery/index.js';
import type { Clock } from './kernel/clock.js';
import { createPubSub, type EventPubSub } from './kernel/events/pubsub.js';
import { createRelay, type Relay } from './kernel/events/relay.js';
import type { WebhookDispatcher } from './modules/webhooks/dispatcher.js';
import type { WebhookSender } from './modules/webhooks/sender.js';
import type { Lookup } from './modules/webhooks/ssrf.js';
import { createServices, modules, type Services } from './modules/index.js';
import type { Worker } from './modules/manifest.js';
import { eventJsonSchemas } from './modules/catalog.js';
import { createHttpServer } from './server/http.js';
import { loadRedis } from './kernel/redis.js';
import { createRateLimiter } from './kernel/rate-limiter.js';
import { createYogaServer, type YogaServer } from './server/yoga.js';
import { createMetrics } from './kernel/metrics.js';
import { createMetricsServer, metricsHandler } from './server/metrics.js';
import { createRequestObserver } from './server/observe.js';
import { startTracing, stopTracing } from './kernel/tracing.js';

export interface AppOptions {
  logger?: Logger;
  clock?: Clock;
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
  /** Observe every SQL statement (tests count queries with it). */
  onQuery?: (sql: string) => void;
  /** Replaces the delivery of codes built from config (tests use a code sink). */
  delivery?: Delivery;
  /** Replaces the HTTP sender of webhook deliveries (tests fail on demand). */
  webhookSender?: WebhookSender;
  /** Replaces DNS resolution for webhook SSRF checks. */
  webhookLookup?: Lookup;
  /** Replaces fetch for requests to identity providers (tests answer named providers from 127.0.0.1). */
  idpFetch?: typeof fetch;
  /**
   * Wake the relay on other instances' commits (PostgreSQL LISTEN; default
   * true). Tests turn it off to show what reaches this instance through Redis alone.
   */
  listenForCommits?: boolean;
  /** Export traces when the config names an endpoint (default true); the management commands do not. */
  tracing?: boolean;
}

export interface App {
  config: Readonly<Config>;
  logger: Logger;
  database: Database;
  services: Services;
  yoga: YogaServer;
  /** The event relay, webhook dispatcher and pub/sub; running between start() and stop(). */
  events: { relay: Relay; dispatcher: WebhookDispatcher; pubsub: EventPubSub };
  /** metricsUrl: where GET /metrics answers (PORTCULLIS_METRICS_PORT, or the main port). */
  start(): Promise<{ url: string; port: number; metricsUrl: string }>;
  /** Listens for HTTP and WebSocket only, without the relay and workers (tests drive those themselves). */
  serveHttp(port: number, host: string): Promise<{ url: string }>;
  /** GraphQL answers the HTTP fast lane wrote (src/server/fast-lane.ts): for tests and debugging. */
  fastLaneAnswers(): number;
  stop(): Promise<void>;
}

export async function createApp(baseConfig: Readonly<Config>, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(baseConfig.logLevel);
  const config: Readonly<Config> = Object.freeze({
    ...baseConfig,
    encryptionKey: resolveEncryptionKey(baseConfig.encryptionKey, baseConfig.dataDir, logger),
  });
  const { provider, url } = config.database;
  // First, so that what follows can be traced; loads the OpenTelemetry SDK only when configured.
  const tracer = options.tracing === false ? undefined : await startTracing(config.tracing, logger);
  if (options.migrate !== false) {
    const result = await migrate(provider, url, { onApply: (name) => logger.info({ migration: name }, 'applying migration') });
    if (result.applied.length) logger.info({ applied: result.applied.length }, 'database migrated');
  }
  const metrics = createMetrics();
  const database = await createDatabase(provider, url, {
    log: options.onQuery,
    pool: config.database.pool,
    metrics,
    traced: tracer !== undefined,
    onIdleError: (error) => logger.warn({ err: error }, 'a database connection closed; the pool opens another when needed'),
  });
  const pubsub = await createPubSub({ redisUrl: config.redisUrl, prefix: config.redisPrefix, logger });
  // Rate-limit counters: one Redis connection for every limiter of this instance.
  const limiterRedis = config.redisUrl ? new (await loadRedis())(config.redisUrl, { maxRetriesPerRequest: 1 }) : undefined;
  limiterRedis?.on('error', (error) => logger.warn({ err: error }, 'rate limit counters: redis connection error; counting in memory meanwhile'));
  const limiter = (name: string, perMinute: number) => createRateLimiter({ name, perMinute, prefix: config.redisPrefix, redis: limiterRedis });
  // The relay and the modules' workers are built after the services they use; these closures reach them once they exist.
  let relay: Relay | undefined;
  let workers: Array<{ module: string; worker: Worker }> = [];
  const services = createServices({
    db: database.client,
    direct: database.direct,
    reader: database.reader,
    config,
    logger,
    clock: options.clock,
    delivery: options.delivery,
    pubsub,
    relay: { position: () => relay?.position(), reach: async (seq) => relay?.reach(seq) },
    onEventsCommitted: (committed) => relay?.committed(committed),
    eventNotice: () => relay?.notice() ?? null,
    onWebhookDeliveriesQueued: () => workers.forEach(({ module, worker }) => module === 'webhooks' && worker.wake?.()),
    webhookLookup: options.webhookLookup,
    idpFetch: options.idpFetch,
    loginIdentifierLimiter: limiter('login-identifier', config.loginIdentifierRateLimit),
    metrics,
  });
  relay = createRelay({
    db: database.client,
    direct: database.direct,
    provider,
    databaseUrl: url,
    clock: services.clock,
    logger,
    pubsub,
    fanOut: (events, restarted) => Promise.all(modules.map((m) => m.fanOut?.(services, events, restarted))),
    pollMs: config.events.relayPollMs,
    retentionDays: config.events.retentionDays,
    leaderChores: () => Promise.all(modules.map((m) => m.leaderChore?.(services))),
    listen: options.listenForCommits ?? true,
    metrics,
  });
  const hooks = { webhookSender: options.webhookSender, webhookLookup: options.webhookLookup };
  workers = modules.flatMap((m) => (m.workers?.({ services, db: database.client, config, logger, hooks, metrics }) ?? []).map((worker) => ({ module: m.name, worker })));
  const pages = modules.map((m) => m.pages?.({ config, services, logger })).filter((page) => page !== undefined);
  const { yoga, shutdown: endStreams } = await createYogaServer({ config, services, db: database.client, logger, rateLimiter: limiter('public', config.publicRateLimit), metrics });
  // /metrics on a port of its own when one is configured, and then not on the public one.
  const serveMetrics = metricsHandler(metrics, logger);
  const metricsServer = config.metricsPort === undefined ? undefined : createMetricsServer(serveMetrics);
  const http = createHttpServer({
    yoga,
    services,
    logger,
    maxSubscriptionsPerSocket: config.limits.maxSubscriptionsPerSocket,
    ping: () => database.ping(),
    pool: () => database.pool(),
    pages: pages.length ? (req, res, request) => pages.some((page) => page(req, res, request)) : undefined,
    reauthIntervalMs: config.tokens.subscriptionReauthSeconds * 1000,
    eventSchemas: eventJsonSchemas,
    endStreams,
    metrics: metricsServer ? undefined : serveMetrics,
    observe: createRequestObserver({ logger, accessLog: config.accessLog, trustProxy: config.trustProxy, tracer }),
    varyOnOrigin: config.corsOrigins.length > 0,
  });
  let started = false;
  let listening: AddressInfo | undefined;

  return {
    config,
    logger,
    database,
    services,
    yoga,
    events: { relay, pubsub, dispatcher: workers.find((w) => w.module === 'webhooks')!.worker as WebhookDispatcher },
    async start() {
      await relay.start();
      for (const { worker } of workers) await worker.start();
      // Already listening when a test served HTTP first (serveHttp): the same address.
      listening ??= await http.listen(config.port, config.host);
      const address = listening;
      started = true;
      const metricsAddress = metricsServer ? await metricsServer.listen(config.metricsPort!, config.host) : address;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `http://${host}:${address.port}/graphql`;
      const metricsUrl = `http://${host}:${metricsAddress.port}/metrics`;
      logger.info({ url, metrics: metricsUrl, database: provider }, 'portcullis is listening');
      return { url, port: address.port, metricsUrl };
    },
    fastLaneAnswers: http.fastLaneAnswers,
    async serveHttp(port, host) {
      const address = (listening = await http.listen(port, host));
      started = true;
      return { url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/graphql` };
    },
    /**
     * Stops within shutdownTimeoutMs whatever the database or Redis do:
     * in-flight requests get what is left of it, then the workers and
     * connections close; a step still waiting at the deadline is abandoned.
     */
    async stop() {
      const deadline = Date.now() + config.shutdownTimeoutMs;
      if (started) await Promise.all([http.close(config.shutdownTimeoutMs), metricsServer?.close()]);
      const rest = (async () => {
        await relay.stop();
        for (const { worker } of workers) await worker.stop();
        await pubsub.close();
        limiterRedis?.disconnect();
        await database.close();
        // Last, so the spans of everything above are sent.
        await stopTracing(tracer, Math.max(1_000, deadline - Date.now()));
      })();
      // At least a moment for the connections, even when the requests used up the time.
      const finished = await settlesWithin(rest, Math.max(1_000, deadline - Date.now()));
      if (!finished) logger.warn('shutdown: the database or Redis did not close in time; giving up on them');
      logger.info('portcullis stopped');
    },
  };
}

/** True when `work` settles (either way) within `ms`; false when the time ran out first. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const done = work.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
