/**
 * The Prisma client for the configured provider. Two clients are generated
 * from one model file with identical types; the SQLite one names the type.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PrismaClient as SqliteClient, Prisma } from './generated/sqlite/client.js';
import type { DatabaseProvider } from '../../config.js';
import type { Metrics } from '../metrics.js';
import { SqliteGate, statementList, tracedDirect, tracedReads, type DirectReads, type DirectSql } from './direct.js';
import { createSqliteReader } from './sqlite-reader.js';
import { sqlitePath } from './paths.js';

export type Db = SqliteClient;
export type Tx = Prisma.TransactionClient;
export { Prisma };

export interface Database {
  provider: DatabaseProvider;
  client: Db;
  /** Prepared plain statements for the hottest paths (direct.ts). */
  direct: DirectSql;
  /** Long standalone reads (a text search): on SQLite on a thread of their own (sqlite-reader.ts), else `direct`. */
  reader: DirectReads;
  /** PostgreSQL: connections in use, idle, and requests waiting for one (readiness, metrics). */
  pool(): { total: number; idle: number; waiting: number } | undefined;
  /** A round trip to the database (readiness): resolves when it answered, throws when it cannot. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Bounds on waiting for PostgreSQL (Config['database']['pool']). */
export interface PoolSettings {
  size: number;
  /** Longest wait for a free connection; the request fails instead of hanging. */
  acquireTimeoutMs: number;
  /** Server-side statement_timeout (0: none). */
  statementTimeoutMs: number;
  /** Server-side idle_in_transaction_session_timeout (0: none): a transaction left open by a lost client ends. */
  idleInTransactionTimeoutMs: number;
}

const DEFAULT_POOL: PoolSettings = { size: 10, acquireTimeoutMs: 5_000, statementTimeoutMs: 30_000, idleInTransactionTimeoutMs: 60_000 };

export { sqlitePath };

export async function createDatabase(
  provider: DatabaseProvider,
  url: string,
  options: {
    log?: (query: string) => void;
    onIdleError?: (error: Error) => void;
    pool?: PoolSettings;
    metrics?: Metrics;
    /** A span per direct statement (Prisma traces its own). */
    traced?: boolean;
  } = {},
): Promise<Database> {
  const log = options.log ? [{ emit: 'event' as const, level: 'query' as const }] : undefined;
  let client: Db;
  let direct: DirectSql;
  let reader: DirectReads;
  let closeReader = async () => {};
  let closePool = async () => {};
  let poolStats: Database['pool'] = () => undefined;
  if (provider === 'sqlite') {
    const file = sqlitePath(url);
    mkdirSync(path.dirname(file), { recursive: true });
    const { PrismaBetterSQLite3 } = await import('@prisma/adapter-better-sqlite3');
    const gate = new SqliteGate();
    // timeout: wait for a competing writer (another process) instead of failing at once.
    const adapter = gatedSqlite(new PrismaBetterSQLite3({ url: file, timeout: 10_000 }), gate);
    client = new SqliteClient({ adapter, log });
    gate.connect = () => client.$connect();
    direct = gate.direct();
    const sqliteReader = createSqliteReader(file, { timeoutMs: 10_000, idleMs: 60_000 });
    reader = sqliteReader;
    closeReader = () => sqliteReader.close();
    // No pool metrics on SQLite: one connection, in the process, that never waits on a network.
  } else {
    // Loaded only here: an instance on SQLite never pays for pg and the PostgreSQL client.
    const { openPostgres } = await import('./postgres.js');
    const settings = options.pool ?? DEFAULT_POOL;
    const opened = openPostgres(url, settings, log, options.onIdleError);
    client = opened.client;
    direct = reader = opened.direct;
    closePool = opened.close;
    poolStats = opened.stats;
    options.metrics?.gaugeFrom('portcullis_db_pool_connections', "PostgreSQL connections of this instance's pool, by state: in_use, idle.", ['state'], () => {
      const { total, idle } = opened.stats();
      return [
        { labels: { state: 'in_use' }, value: total - idle },
        { labels: { state: 'idle' }, value: idle },
      ];
    });
    options.metrics?.gaugeFrom('portcullis_db_pool_max_connections', 'The most connections the pool opens (PORTCULLIS_DB_POOL_SIZE).', [], () => [{ labels: {}, value: settings.size }]);
    options.metrics?.gaugeFrom('portcullis_db_pool_waiting', 'Queries waiting for a free PostgreSQL connection (each fails after PORTCULLIS_DB_ACQUIRE_TIMEOUT_MS).', [], () => [
      { labels: {}, value: opened.stats().waiting },
    ]);
  }
  if (options.log) {
    const sink = options.log;
    (client as unknown as { $on(e: 'query', cb: (ev: { query: string }) => void): void }).$on('query', (e) => sink(e.query));
    direct = logged(direct, sink);
    reader = loggedReads(reader, sink);
  }
  if (options.traced) {
    direct = tracedDirect(direct, provider);
    reader = tracedReads(reader, provider);
  }
  return {
    provider,
    client,
    direct,
    reader,
    pool: () => poolStats(),
    async ping() {
      await client.$queryRawUnsafe('SELECT 1');
    },
    async close() {
      await closeReader();
      await client.$disconnect();
      await closePool();
    },
  };
}

/** Reports direct statements to the same observer as Prisma's (tests count queries). */
function logged(direct: DirectSql, log: (query: string) => void): DirectSql {
  return {
    ...loggedReads(direct, log),
    allAfter: (first, sql, params, shape) => (statementList(first).forEach((s) => log(s.sql)), log(sql), direct.allAfter(first, sql, params, shape)),
    runIfChanged: (first, then) => (log(first.sql), then.forEach((s) => log(s.sql)), direct.runIfChanged(first, then)),
    allThen: (sql, params, shape, then) => (log(sql), direct.allThen(sql, params, shape, (rows) => then(rows).map((s) => (log(s.sql), s)))),
    allIfChanged: (first, then, shape) => (log(first.sql), then.forEach((s) => log(s.sql)), direct.allIfChanged(first, then, shape)),
    run: (sql, params) => (log(sql), direct.run(sql, params)),
  };
}

function loggedReads(reads: DirectReads, log: (query: string) => void): DirectReads {
  return { all: (sql, params, shape) => (log(sql), reads.all(sql, params, shape)) };
}

type AdapterFactory = NonNullable<ConstructorParameters<typeof SqliteClient>[0]>['adapter'] & object;
type Adapter = Awaited<ReturnType<AdapterFactory['connect']>>;

/**
 * The most parameters one statement binds on the bundled SQLite
 * (SQLITE_MAX_VARIABLE_NUMBER since 3.32). Prisma assumes the old 999 when the
 * adapter does not say, and refuses a count over a longer `in` list (P2029),
 * such as a text search narrowed to 1,000 users.
 */
const SQLITE_MAX_BIND_VALUES = 32_766;

/**
 * Prisma's SQLite adapter with the end of each transaction reported to the
 * gate, its connection handed to it once open (direct.ts explains why), and
 * the real bound on parameters.
 */
function gatedSqlite(factory: AdapterFactory, gate: SqliteGate): AdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect() {
      const adapter = await factory.connect();
      gate.attach((adapter as unknown as { client: import('better-sqlite3').Database }).client);
      return new Proxy(adapter, {
        get(target, property) {
          if (property === 'startTransaction') {
            return async (...args: Parameters<Adapter['startTransaction']>) => {
              const tx = await target.startTransaction(...args);
              const { commit, rollback } = tx;
              tx.commit = () => commit.call(tx).finally(() => gate.closed());
              tx.rollback = () => rollback.call(tx).finally(() => gate.closed());
              return tx;
            };
          }
          if (property === 'getConnectionInfo') return () => ({ ...target.getConnectionInfo?.(), supportsRelationJoins: false, maxBindValues: SQLITE_MAX_BIND_VALUES });
          const value = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
}

/** A unique violation as the drivers report it to direct statements (direct.ts): better-sqlite3's and PostgreSQL's codes. */
const DRIVER_UNIQUE = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', '23505']);

/** True when an error is a unique-constraint violation (Prisma P2002, or a direct statement's driver error), on either provider. */
export function isUniqueViolation(error: unknown): error is { code: string; meta?: { target?: unknown } } {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === 'P2002' || (typeof code === 'string' && DRIVER_UNIQUE.has(code));
}

/** The columns named by a unique violation, across adapters' differing metadata shapes and the drivers' messages. */
export function uniqueViolationFields(error: unknown): string[] {
  const { code, message, detail } = error as { code?: string; message?: string; detail?: string };
  // better-sqlite3: "UNIQUE constraint failed: User.usernameNormalized[, …]".
  if (code?.startsWith('SQLITE_CONSTRAINT')) return (message?.split(': ')[1] ?? '').split(', ').map((c) => c.slice(c.indexOf('.') + 1));
  // PostgreSQL: detail 'Key ("usernameNormalized")=(…) already exists.'.
  if (code === '23505') return (/^Key \((.*?)\)=/.exec(detail ?? '')?.[1] ?? '').split(', ').map((c) => c.replace(/^"|"$/g, ''));
  const meta = (error as { meta?: Record<string, unknown> }).meta ?? {};
  const target = meta.target ?? (meta.driverAdapterError as { cause?: { constraint?: { fields?: string[] } } })?.cause?.constraint?.fields;
  if (Array.isArray(target)) return target.map(String);
  if (typeof target === 'string') return [target];
  return [JSON.stringify(meta)];
}
