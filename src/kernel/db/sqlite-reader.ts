/**
 * Long reads on SQLite, run on a worker thread with a connection of its own.
 *
 * Why: better-sqlite3 runs a statement synchronously on the calling thread.
 * A text search at a million users reads for milliseconds to tens of them,
 * and every other request of the instance (a health probe, a sign-in) waited
 * behind it. On the worker, the main thread only sends the statement and
 * takes the rows.
 *
 * What it may run: reads (the connection is `query_only`), each standalone.
 * In WAL mode (the migrator sets it) a read sees every transaction committed
 * before it starts, as the shared connection does outside a transaction; so
 * a reader statement sees what a direct statement issued at the same moment
 * would (direct.ts waits for an open Prisma transaction to end, a reader
 * statement does not need to).
 *
 * The worker (about 9 MB) starts with the first statement, so an instance
 * that never searches never pays for it, and stops after `idleMs` without
 * one. It never keeps the process alive, is stopped by close(), and is
 * started anew after a crash; a statement in flight when it crashed fails
 * with its error.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { convertRows, sqliteParams, STATEMENT_CACHE, type DirectReads, type RowShape, type SqlParam } from './direct.js';

/**
 * The worker's code: plain JavaScript run by `eval`, so the same text serves
 * the bundle and the sources under test (no file to locate at run time).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true, timeout: workerData.timeoutMs });
db.pragma('query_only = 1');
const statements = new Map();
function statement(sql) {
  let stmt = statements.get(sql);
  if (!stmt) {
    if (statements.size >= workerData.cacheSize) statements.delete(statements.keys().next().value);
    stmt = db.prepare(sql);
    statements.set(sql, stmt);
  }
  return stmt;
}
parentPort.on('message', ({ id, sql, params }) => {
  let reply;
  try {
    reply = { id, rows: statement(sql).all(...params) };
  } catch (error) {
    reply = { id, error: { message: error.message, code: error.code, name: error.name } };
  }
  parentPort.postMessage(reply);
});
`;

type Reply = { id: number; rows: Record<string, unknown>[] } | { id: number; error: { message: string; code?: string; name?: string } };

export interface SqliteReader extends DirectReads {
  /** Whether its worker is running now. */
  running(): boolean;
  /** Stops the worker (statements in flight fail); a later statement starts a new one. */
  close(): Promise<void>;
}

type Waiting = { resolve: (rows: Record<string, unknown>[]) => void; reject: (error: Error) => void };
interface Thread {
  worker: Worker;
  /** Stops the worker once no statement came for idleMs; pushed back by each statement. */
  idle: NodeJS.Timeout;
  /** Statements sent to it and not yet answered, by id. */
  pending: Map<number, Waiting>;
}

/**
 * One worker: a second one measured slower (on two cores, two readers and
 * the main thread took turns, and each connection warmed its own page cache).
 */
export function createSqliteReader(file: string, options: { timeoutMs: number; idleMs: number }): SqliteReader {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  let current: Thread | undefined;
  let nextId = 0;

  function start(): Thread {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, timeoutMs: options.timeoutMs, cacheSize: STATEMENT_CACHE } });
    const idle = setTimeout(() => {
      if (thread.pending.size > 0) return idle.refresh();
      if (current === thread) current = undefined;
      void worker.terminate();
    }, options.idleMs).unref();
    const thread: Thread = { worker, idle, pending: new Map() };
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiting = thread.pending.get(reply.id);
      if (!waiting) return;
      thread.pending.delete(reply.id);
      if ('rows' in reply) return waiting.resolve(reply.rows);
      // As the driver reports it on the main thread: its message and code (unique violations, busy).
      waiting.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code, name: reply.error.name ?? 'SqliteError' }));
    });
    // Only this thread's statements fail with it; the next statement starts another.
    const lost = (error: Error) => {
      clearTimeout(idle);
      if (current === thread) current = undefined;
      for (const { reject } of thread.pending.values()) reject(error);
      thread.pending.clear();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the SQLite reader thread stopped (exit code ${code})`)));
    return thread;
  }

  return {
    all<T>(sql: string, params: SqlParam[], shape?: RowShape): Promise<T[]> {
      const thread = (current ??= start());
      thread.idle.refresh();
      const id = nextId++;
      return new Promise<Record<string, unknown>[]>((resolve, reject) => {
        thread.pending.set(id, { resolve, reject });
        thread.worker.postMessage({ id, sql, params: sqliteParams(params) });
      }).then((rows) => convertRows<T>(rows, shape));
    },
    running: () => current !== undefined,
    async close() {
      const stopping = current;
      current = undefined;
      if (stopping) clearTimeout(stopping.idle);
      await stopping?.worker.terminate();
    },
  };
}
