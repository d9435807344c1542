/**
 * Plain statements sent straight to the driver, for the few that run on
 * every verification and every relay pass.
 *
 * Why: Prisma 6's driver-adapter client spends about 0.3 ms of main-thread
 * time on every statement, raw SQL included (query planning in WebAssembly,
 * result mapping, and on SQLite a fresh prepare each time). On a small
 * machine hashing passwords on every core, each of those milliseconds is
 * taken from argon2. Here a statement is prepared once and costs the
 * driver's own time.
 *
 * Rules:
 * - Standalone statements, or a few in one short transaction that no
 *   application code interrupts (allAfter, runIfChanged, allThen). Work that
 *   reads, decides and writes across awaits stays with Prisma.
 * - SQL uses `?` placeholders and double-quoted identifiers (valid on both
 *   providers); PostgreSQL's `$n` are derived from it.
 * - Parameters are bound, never spliced. A Date is written the way Prisma
 *   writes it, so both kinds of writes read back alike.
 * - `RowShape` names the columns to turn into a Date, a boolean or parsed
 *   JSON, so rows match Prisma's (each row is built once, as one object
 *   literal, by code compiled per column list and shape: compileRow).
 *
 * SQLite has one connection, shared with Prisma. A Prisma interactive
 * transaction holds it across awaits; a statement issued meanwhile would
 * run inside that transaction (and vanish with its rollback). So on SQLite a
 * statement waits until no Prisma transaction is open, then runs
 * synchronously. Never await one of these inside a Prisma transaction's
 * callback: it would wait for itself.
 */
import type { Database as SqliteDatabase, Statement as SqliteStatement } from 'better-sqlite3';
import { inSpan } from '../tracing.js';

export type SqlParam = string | number | boolean | Date | null;

/** Which columns of a row need converting from the driver's form. */
export interface RowShape {
  dates?: readonly string[];
  booleans?: readonly string[];
  json?: readonly string[];
}

/** A statement and its parameters. */
export interface Statement {
  sql: string;
  params: SqlParam[];
}

export interface DirectSql {
  /** Runs a statement that returns rows (SELECT, or a write with RETURNING). */
  all<T>(sql: string, params: SqlParam[], shape?: RowShape): Promise<T[]>;
  /**
   * Runs `first` (writes without RETURNING, in order), then `sql`, as one
   * atomic unit with one commit: on PostgreSQL as one statement (each of
   * `first` becomes a data-modifying WITH clause), on SQLite in one
   * transaction. Each write must change rows no other one of them does: on
   * PostgreSQL they all see the same snapshot, and of two updates of one row
   * only one takes effect.
   */
  allAfter<T>(first: Statement | readonly Statement[], sql: string, params: SqlParam[], shape?: RowShape): Promise<T[]>;
  /**
   * Runs `first`, and when it changed a row, each of `then`, in one
   * transaction; resolves with whether `first` changed a row. For a
   * conditional write whose effects go with it (a replay-protected counter
   * and its event).
   */
  runIfChanged(first: Statement, then: Statement[]): Promise<boolean>;
  /**
   * Runs `sql` (a statement that returns rows), then the statements `then`
   * makes of those rows, in one transaction; resolves with the rows. For a
   * write whose event is made from the row as written. `then` runs
   * synchronously inside the transaction: it only builds statements.
   */
  allThen<T>(sql: string, params: SqlParam[], shape: RowShape | undefined, then: (rows: T[]) => readonly Statement[]): Promise<T[]>;
  /**
   * Like runIfChanged for a `first` with RETURNING, resolving with its rows
   * (none: nothing was written), in one round trip: on PostgreSQL as one
   * statement (postgres.ts), so the writes follow allAfter's rule (each
   * changes rows no other one of them does); on SQLite in one transaction.
   */
  allIfChanged<T>(first: Statement, then: Statement[], shape?: RowShape): Promise<T[]>;
  /** Runs a write; resolves with the number of rows it changed. */
  run(sql: string, params: SqlParam[]): Promise<number>;
}

/**
 * Standalone reads, for the long ones (a text search): on SQLite they run on
 * a thread of their own (sqlite-reader.ts), on PostgreSQL they are the pool's.
 */
export type DirectReads = Pick<DirectSql, 'all'>;

/** Parameters as better-sqlite3 binds them: a Date the way Prisma writes it, a boolean as 0 or 1. */
export const sqliteParams = (params: readonly SqlParam[]) => params.map((p) => (p instanceof Date ? sqliteDate(p) : typeof p === 'boolean' ? (p ? 1 : 0) : p));

/**
 * Marks a statement PostgreSQL must plan for each call's parameters (a LIKE
 * pattern: a common one is best read in table order, a rare one through an
 * index), so it is sent unnamed instead of prepared once per connection,
 * whose plan PostgreSQL may fix after a few calls. SQLite reads it as a comment.
 */
export const PLAN_EACH_CALL = '/* plan each call */ ';

/** `allAfter`'s first statements as a list. */
export const statementList = (first: Statement | readonly Statement[]): readonly Statement[] => (Array.isArray(first) ? first : [first as Statement]);

/** Most prepared statements kept per connection (SQL texts vary only with IN-list lengths). */
export const STATEMENT_CACHE = 200;

/**
 * Rows as objects, converted by their shape: one function per column list and
 * shape, compiled from the column names, builds each row as one object
 * literal. Objects built column by column and then converted in place cost
 * more under load (bench/README.md, hot-paths, seventh pass): every row walks
 * the property transitions again and changes a field's kind (text to Date),
 * and the conversions' property accesses see every model's rows. The
 * conversions are written here only, for both drivers and the reader thread.
 */
type RowMaker = (r: never) => unknown;

function compileRow(columns: readonly string[], shape: RowShape | undefined, at: (name: string, i: number) => string): RowMaker {
  const dates = new Set(shape?.dates);
  const booleans = new Set(shape?.booleans);
  const json = new Set(shape?.json);
  const value = (name: string, i: number) => {
    const v = at(name, i);
    // Text or a number (SQLite), a Date already (PostgreSQL's parser), or null.
    if (dates.has(name)) return `${v} === null || ${v} === undefined || ${v} instanceof Date ? ${v} : new Date(${v})`;
    // 0 or 1 (SQLite), a boolean already (PostgreSQL).
    if (booleans.has(name)) return `typeof ${v} === 'number' ? ${v} === 1 : ${v}`;
    // Text (SQLite), parsed already (PostgreSQL's jsonb).
    if (json.has(name)) return `typeof ${v} === 'string' ? JSON.parse(${v}) : ${v}`;
    return v;
  };
  // Column names are this code's own SQL's (quoted as JSON strings all the same); values are never code.
  const fields = columns.map((name, i) => {
    // In an object literal this key would set the prototype instead of a field.
    if (name === '__proto__') throw new Error('a column named __proto__');
    return `${JSON.stringify(name)}: ${value(name, i)}`;
  });
  return new Function('r', `return { ${fields.join(', ')} };`) as RowMaker;
}

const rowMakers = new WeakMap<SqliteStatement, Map<RowShape | undefined, RowMaker>>();

/** Rows of a SQLite statement read raw, as arrays of its columns. */
function rowMaker<T>(stmt: SqliteStatement, shape: RowShape | undefined): (raw: unknown[]) => T {
  let byShape = rowMakers.get(stmt);
  if (!byShape) rowMakers.set(stmt, (byShape = new Map()));
  let make = byShape.get(shape);
  if (!make) {
    make = compileRow(
      stmt.columns().map((c) => c.name),
      shape,
      (_name, i) => `r[${i}]`,
    );
    byShape.set(shape, make);
  }
  return make as (raw: unknown[]) => T;
}

const objectRowMakers = new WeakMap<RowShape, Map<string, RowMaker>>();

/** Rows the driver gave as objects (pg, the SQLite reader thread), converted by their shape; as they are without one. */
export function convertRows<T>(rows: Record<string, unknown>[], shape: RowShape | undefined): T[] {
  if (!shape || rows.length === 0) return rows as T[];
  const columns = Object.keys(rows[0]);
  const key = columns.join('\u0000');
  let byColumns = objectRowMakers.get(shape);
  if (!byColumns) objectRowMakers.set(shape, (byColumns = new Map()));
  let make = byColumns.get(key);
  if (!make) {
    make = compileRow(columns, shape, (name) => `r[${JSON.stringify(name)}]`);
    byColumns.set(key, make);
  }
  return rows.map(make as (r: Record<string, unknown>) => T);
}

/**
 * Runs direct statements on the shared SQLite connection only while it is
 * outside a transaction (the connection itself says so: Prisma's BEGIN and
 * our statements both run synchronously), queueing them until the open
 * Prisma transaction ends.
 */
export class SqliteGate {
  #db: SqliteDatabase | undefined;
  /** Opens Prisma's connection (which hands it to attach()); set by the client's owner. */
  connect: () => Promise<unknown> = async () => {};
  #waiting: Array<() => void> = [];
  #statements = new Map<string, SqliteStatement>();

  attach(db: SqliteDatabase) {
    this.#db = db;
    this.#statements.clear();
  }

  #idle(): boolean {
    return !this.#db!.inTransaction;
  }

  /** A Prisma transaction ended: queued statements run now, before another one can begin. */
  closed() {
    while (this.#waiting.length && this.#idle()) this.#waiting.shift()!();
  }

  #statement(sql: string): SqliteStatement {
    if (!this.#db) throw new Error('the SQLite connection is not open yet');
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      if (this.#statements.size >= STATEMENT_CACHE) this.#statements.delete(this.#statements.keys().next().value as string);
      // Prisma's connection reads integers as BigInt; ours are all 32-bit Int columns.
      stmt = this.#db.prepare(sql);
      if (stmt.reader) stmt.safeIntegers(false).raw(true);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  #when<T>(work: () => T): Promise<T> {
    // Prisma connects on its first query; a direct statement may come first.
    if (!this.#db) {
      return this.connect().then(() => {
        if (!this.#db) throw new Error('the SQLite connection did not open');
        return this.#when(work);
      });
    }
    const settle = (resolve: (value: T) => void, reject: (error: unknown) => void) => {
      try {
        resolve(work());
      } catch (error) {
        reject(error);
      }
    };
    return new Promise<T>((resolve, reject) => {
      if (this.#idle()) settle(resolve, reject);
      else this.#waiting.push(() => settle(resolve, reject));
    });
  }

  direct(): DirectSql {
    const rows = <T>(sql: string, params: SqlParam[], shape?: RowShape) => {
      const stmt = this.#statement(sql);
      return (stmt.all(...sqliteParams(params)) as unknown[][]).map(rowMaker<T>(stmt, shape));
    };
    // better-sqlite3 refuses run() for a statement that returns rows (RETURNING).
    const execute = (s: Statement) => {
      const stmt = this.#statement(s.sql);
      return stmt.reader ? stmt.all(...sqliteParams(s.params)).length : stmt.run(...sqliteParams(s.params)).changes;
    };
    return {
      all: <T>(sql: string, params: SqlParam[], shape?: RowShape) => this.#when(() => rows<T>(sql, params, shape)),
      allAfter: <T>(first: Statement | readonly Statement[], sql: string, params: SqlParam[], shape?: RowShape) =>
        this.#when(() =>
          // Synchronous from BEGIN to COMMIT: nothing else can run in between.
          this.#db!.transaction(() => {
            for (const s of statementList(first)) this.#statement(s.sql).run(...sqliteParams(s.params));
            return rows<T>(sql, params, shape);
          })(),
        ),
      runIfChanged: (first, then) =>
        this.#when(() =>
          this.#db!.transaction(() => {
            const changed = execute(first) > 0;
            if (changed) for (const s of then) execute(s);
            return changed;
          })(),
        ),
      allThen: <T>(sql: string, params: SqlParam[], shape: RowShape | undefined, then: (rows: T[]) => readonly Statement[]) =>
        this.#when(() =>
          this.#db!.transaction(() => {
            const found = rows<T>(sql, params, shape);
            for (const s of then(found)) execute(s);
            return found;
          })(),
        ),
      allIfChanged: <T>(first: Statement, then: Statement[], shape?: RowShape) =>
        this.#when(() =>
          this.#db!.transaction(() => {
            const changed = rows<T>(first.sql, first.params, shape);
            if (changed.length) for (const s of then) execute(s);
            return changed;
          })(),
        ),
      run: (sql, params) => this.#when(() => this.#statement(sql).run(...sqliteParams(params)).changes),
    };
  }
}

/** Prisma's SQLite adapter stores DateTime as ISO-8601 text with an explicit +00:00 offset. */
function sqliteDate(date: Date): string {
  return date.toISOString().replace('Z', '+00:00');
}

/** `SELECT "User"`-like span names: the statement's verb and first table, from SQL text we wrote. */
function querySummary(sql: string): { operation: string; table?: string } {
  const operation = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? 'SQL';
  const table = /\b(?:FROM|INTO|UPDATE)\s+"(\w+)"/i.exec(sql)?.[1];
  return { operation, table };
}

/**
 * Each direct statement in a span (tracing on): its SQL text with the `?`
 * placeholders, never the parameters, which hold codes, hashes and tokens.
 */
export function tracedDirect(direct: DirectSql, system: 'sqlite' | 'postgresql'): DirectSql {
  const span = <T>(sqls: string[], run: () => Promise<T>) => statementSpan(system, sqls, run);
  return {
    ...tracedReads(direct, system),
    allAfter: (first, sql, params, shape) => span([...statementList(first).map((s) => s.sql), sql], () => direct.allAfter(first, sql, params, shape)),
    runIfChanged: (first, then) => span([first.sql, ...then.map((s) => s.sql)], () => direct.runIfChanged(first, then)),
    allThen: (sql, params, shape, then) => span([sql], () => direct.allThen(sql, params, shape, then)),
    allIfChanged: (first, then, shape) => span([first.sql, ...then.map((s) => s.sql)], () => direct.allIfChanged(first, then, shape)),
    run: (sql, params) => span([sql], () => direct.run(sql, params)),
  };
}

/** tracedDirect for standalone reads. */
export function tracedReads(reads: DirectReads, system: 'sqlite' | 'postgresql'): DirectReads {
  return { all: (sql, params, shape) => statementSpan(system, [sql], () => reads.all(sql, params, shape)) };
}

function statementSpan<T>(system: 'sqlite' | 'postgresql', sqls: string[], run: () => Promise<T>): Promise<T> {
  const { operation, table } = querySummary(sqls[sqls.length - 1]);
  const name = sqls.length > 1 ? `BATCH ${operation}${table ? ` ${table}` : ''}` : `${operation}${table ? ` ${table}` : ''}`;
  return inSpan(name, { 'db.system.name': system, 'db.query.text': sqls.join(';\n'), 'db.operation.name': operation, 'db.collection.name': table }, run, 'client');
}
