/**
 * PostgreSQL: one pg pool shared by Prisma's adapter and the direct
 * statements. Imported by client.ts only when the database is PostgreSQL, so
 * an instance on SQLite never loads pg or the PostgreSQL client.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient as PostgresClient } from './generated/postgresql/client.js';
import type { Db, PoolSettings } from './client.js';
import { convertRows, PLAN_EACH_CALL, STATEMENT_CACHE, statementList, type DirectSql, type SqlParam, type RowShape, type Statement } from './direct.js';

export function openPostgres(
  url: string,
  settings: PoolSettings,
  log: Array<{ emit: 'event'; level: 'query' }> | undefined,
  onIdleError?: (error: Error) => void,
): { client: Db; direct: DirectSql; close(): Promise<void>; stats(): { total: number; idle: number; waiting: number } } {
  const pool = new pg.Pool({
    connectionString: url,
    max: settings.size,
    connectionTimeoutMillis: settings.acquireTimeoutMs,
    keepAlive: true,
    ...(settings.statementTimeoutMs ? { statement_timeout: settings.statementTimeoutMs } : {}),
    ...(settings.idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs } : {}),
  });
  pool.on('error', (error) => onIdleError?.(error));
  discardBrokenConnections(pool, (error) => onIdleError?.(error));
  return {
    client: new PostgresClient({ adapter: new PrismaPg(pool), log }) as unknown as Db,
    direct: postgresDirect(pool),
    close: () => pool.end(),
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  };
}

/**
 * A connection the server closes (restart, failover, pg_terminate_backend)
 * emits 'error'. The pool listens only while a connection is idle: one
 * checked out (say, inside an interactive transaction between statements)
 * has no listener, and its error would end the process. And Prisma's pg
 * adapter may never release a transaction's connection whose server side
 * died, so the pool slowly fills with dead connections until every request
 * waits for one that never comes. So every connection gets a listener for its
 * whole life, and one that breaks while checked out is handed back to the
 * pool as broken at once (the pool closes and forgets it); its holder's own
 * release, if it ever comes, is then a no-op.
 */
function discardBrokenConnections(pool: pg.Pool, onError: (error: Error) => void) {
  const checkedOut = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => checkedOut.add(client));
  pool.on('release', (_error, client) => checkedOut.delete(client));
  pool.on('connect', (client) => {
    client.on('error', (error) => {
      onError(error);
      const held = client as pg.PoolClient;
      if (!checkedOut.has(held)) return;
      checkedOut.delete(held);
      const release = held.release;
      held.release = () => {};
      release.call(held, error);
    });
  });
}

// PostgreSQL's timestamp(3) columns carry no zone and hold UTC (as Prisma
// writes them). node-pg would read them as local time: parse them as UTC.
const TIMESTAMP_OID = 1114;
const pgTypes = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === TIMESTAMP_OID
      ? (value: string) => new Date(`${value.replace(' ', 'T')}Z`)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** SQLSTATE of a division by zero: allIfChanged's guard, when `first` changed nothing. */
const DIVISION_BY_ZERO = '22012';

function postgresDirect(pool: pg.Pool): DirectSql {
  const texts = new Map<string, { text: string; name: string }>();
  const prepare = (sql: string) => {
    let entry = texts.get(sql);
    if (!entry) {
      let n = 0;
      const text = sql.replace(/\?/g, () => `$${++n}`);
      // Named statements are parsed once per connection; rare texts, and those planned for each call, stay unnamed.
      const named = texts.size < STATEMENT_CACHE && !sql.startsWith(PLAN_EACH_CALL);
      entry = { text, name: named ? `portcullis_${texts.size}` : '' };
      if (texts.size < STATEMENT_CACHE) texts.set(sql, entry);
    }
    return entry;
  };
  // A Date is sent as UTC text: the zone-less column keeps exactly that.
  const bind = (params: SqlParam[]) => params.map((p) => (p instanceof Date ? p.toISOString() : p));
  const query = (sql: string, params: SqlParam[], on: pg.Pool | pg.PoolClient = pool) => {
    const { text, name } = prepare(sql);
    return on.query({ text, values: bind(params), types: pgTypes, ...(name ? { name } : {}) });
  };
  /** Runs `work` on one connection between BEGIN and COMMIT (ROLLBACK when it throws). */
  const transaction = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      // A connection that could not even roll back is closed, not reused.
      client.release(broken);
    }
  };
  const all = async <T>(sql: string, params: SqlParam[], shape?: RowShape) =>
    convertRows<T>((await query(sql, params)).rows, shape);
  /**
   * One statement instead of BEGIN, each write, COMMIT (a round trip each):
   * `first` and `then` become data-modifying WITH clauses, and the query
   * divides by the number of rows `first` returned. When that is none, the
   * division fails and the statement's implicit transaction undoes every
   * write (an event seq drawn meanwhile is lost, as in any rollback: the
   * event tail gives up gaps whose transaction ended); that one error means
   * "not changed". The division is an aggregate over `first`, so it is
   * evaluated even when `first` is empty.
   */
  const allIfChanged = async <T>(first: Statement, then: Statement[], shape?: RowShape): Promise<T[]> => {
    const clauses = [`"first" AS (${first.sql})`, ...then.map((s, i) => `"then${i || ''}" AS (${s.sql})`)].join(', ');
    try {
      return await all<T>(
        `WITH ${clauses} SELECT "first".* FROM (SELECT 1 / COUNT(*) AS "changed" FROM "first") AS "guard" LEFT JOIN "first" ON "guard"."changed" = 1`,
        [...first.params, ...then.flatMap((s) => s.params)],
        shape,
      );
    } catch (error) {
      if ((error as { code?: string }).code === DIVISION_BY_ZERO) return [];
      throw error;
    }
  };
  return {
    all,
    // PostgreSQL runs a data-modifying WITH clause exactly once, whether or not the rest reads it.
    allAfter: (first, sql, params, shape) => {
      const firsts = statementList(first);
      const clauses = firsts.map((s, i) => `"first${i || ''}" AS (${s.sql})`).join(', ');
      return all(`WITH ${clauses} ${sql}`, [...firsts.flatMap((s) => s.params), ...params], shape);
    },
    runIfChanged: (first, then) =>
      transaction(async (client) => {
        const changed = ((await query(first.sql, first.params, client)).rowCount ?? 0) > 0;
        if (changed) for (const s of then) await query(s.sql, s.params, client);
        return changed;
      }),
    allThen: <T>(sql: string, params: SqlParam[], shape: RowShape | undefined, then: (rows: T[]) => readonly Statement[]) =>
      transaction(async (client) => {
        const rows = convertRows<T>((await query(sql, params, client)).rows, shape);
        for (const s of then(rows)) await query(s.sql, s.params, client);
        return rows;
      }),
    allIfChanged,
    run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
  };
}
