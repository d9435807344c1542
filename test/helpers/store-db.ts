/**
 * A migrated database of its own for a store's contract tests (a file's
 * `beforeAll` opens it, `afterAll` drops it), opened with the kernel client
 * and nothing else: no gateway, no relay. The suite runs once per provider,
 * so every contract is checked on SQLite and on PostgreSQL.
 */
import { afterAll, beforeAll } from 'vitest';
import { createDatabase, type Database, type Db, type Tx } from '../../src/kernel/db/client.js';
import type { DirectSql } from '../../src/kernel/db/direct.js';
import { freshDatabase, type TestDatabase } from './db.js';

export interface StoreDatabase {
  /** The client, once the file's beforeAll opened it. */
  readonly db: Db;
  /** Prepared statements on the same database, for the stores' direct statements (hot paths). */
  readonly direct: DirectSql;
  /** Runs `fn` in a transaction of its own, as a service would around a store call. */
  inTx<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

/** Call at the top of a test file; stores that need the client are created in a later beforeAll. */
export function useStoreDatabase(): StoreDatabase {
  let testDb: TestDatabase | undefined;
  let database: Database | undefined;
  beforeAll(async () => {
    testDb = await freshDatabase();
    database = await createDatabase(testDb.provider, testDb.url);
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });
  const opened = (): Database => {
    if (!database) throw new Error('the store database is opened in beforeAll');
    return database;
  };
  const client = (): Db => opened().client;
  return {
    get db() {
      return client();
    },
    get direct() {
      return opened().direct;
    },
    inTx: (fn) => client().$transaction(fn),
  };
}
