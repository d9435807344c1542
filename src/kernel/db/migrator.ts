/**
 * Applies the committed migration SQL (prisma/migrations/<provider>/) at
 * start-up and on `portcullis migrate`. Prisma's own `migrate deploy` cannot
 * run offline against PostgreSQL here, so the gateway does what ZITADEL,
 * Logto and Keycloak do: it migrates itself. The bookkeeping table is
 * Prisma's `_prisma_migrations`, so `prisma migrate deploy` stays usable.
 *
 * Concurrency: on PostgreSQL a session advisory lock serialises instances that
 * start together; on SQLite an IMMEDIATE transaction takes the write lock.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../paths.js';
import type { DatabaseProvider } from '../../config.js';
import { sqlitePath } from './paths.js';

// Each driver is loaded only for its own provider (an instance carries one, not both).
const loadSqlite = async () => (await import('better-sqlite3')).default;
const loadPg = async () => (await import('pg')).default;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

const defaultDir = path.join(packageRoot, 'prisma', 'migrations');
/** An arbitrary constant shared by every instance: the advisory lock's key. */
const ADVISORY_LOCK_KEY = 72_706_157;

export function readMigrations(provider: DatabaseProvider, dir = defaultDir): Migration[] {
  const root = path.join(dir, provider);
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(root, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

const bookkeepingSql = {
  sqlite: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL, "finished_at" DATETIME,
    "migration_name" TEXT NOT NULL, "logs" TEXT, "rolled_back_at" DATETIME,
    "started_at" DATETIME NOT NULL DEFAULT current_timestamp, "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0)`,
  postgresql: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`,
};

/** A migration recorded as applied whose file has since changed: refuse to go on. */
export class MigrationDriftError extends Error {}

function pending(all: Migration[], applied: Map<string, string>): Migration[] {
  for (const m of all) {
    const sum = applied.get(m.name);
    if (sum && sum !== m.checksum) {
      throw new MigrationDriftError(`migration ${m.name} was changed after it was applied`);
    }
  }
  return all.filter((m) => !applied.has(m.name));
}

/** What a database holds, read without changing it (portcullis doctor). */
export interface MigrationStatus {
  /** False when there is no database yet (a SQLite file not created). */
  exists: boolean;
  applied: number;
  pending: string[];
  /** A migration changed after it was applied. */
  drift?: string;
  /** The database server's clock, to compare with this machine's. */
  serverTime?: Date;
}

export async function migrationStatus(provider: DatabaseProvider, url: string, options: { dir?: string; timeoutMs?: number } = {}): Promise<MigrationStatus> {
  const all = readMigrations(provider, options.dir);
  const judge = (rows: Array<{ migration_name: string; checksum: string }>, serverTime?: Date): MigrationStatus => {
    const applied = new Map(rows.map((r) => [r.migration_name, r.checksum]));
    try {
      return { exists: true, applied: applied.size, pending: pending(all, applied).map((m) => m.name), serverTime };
    } catch (error) {
      return { exists: true, applied: applied.size, pending: [], drift: (error as Error).message, serverTime };
    }
  };
  if (provider === 'sqlite') {
    const file = sqlitePath(url);
    if (!existsSync(file)) return { exists: false, applied: 0, pending: all.map((m) => m.name) };
    const Sqlite = await loadSqlite();
    const db = new Sqlite(file, { readonly: true, fileMustExist: true });
    try {
      const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'").get();
      const rows = table
        ? (db.prepare('SELECT migration_name, checksum FROM _prisma_migrations WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL').all() as Array<{ migration_name: string; checksum: string }>)
        : [];
      return judge(rows);
    } finally {
      db.close();
    }
  }
  const pg = await loadPg();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: options.timeoutMs ?? 5_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows: now } = await client.query<{ now: Date }>('SELECT now() AS now');
    const { rows: exists } = await client.query<{ table: string | null }>("SELECT to_regclass('_prisma_migrations')::text AS table");
    const rows = exists[0]?.table
      ? (await client.query<{ migration_name: string; checksum: string }>('SELECT migration_name, checksum FROM _prisma_migrations WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL')).rows
      : [];
    return judge(rows, now[0]?.now);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function migrate(
  provider: DatabaseProvider,
  url: string,
  options: { dir?: string; onApply?: (name: string) => void } = {},
): Promise<MigrateResult> {
  const all = readMigrations(provider, options.dir);
  return provider === 'sqlite' ? migrateSqlite(url, all, options.onApply) : migratePostgres(url, all, options.onApply);
}

async function migrateSqlite(url: string, all: Migration[], onApply?: (name: string) => void): Promise<MigrateResult> {
  const Sqlite = await loadSqlite();
  const file = sqlitePath(url);
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Sqlite(file, { timeout: 30_000 });
  try {
    db.pragma('journal_mode = WAL');
    db.exec(bookkeepingSql.sqlite);
    const run = db.transaction(() => {
      const rows = db.prepare('SELECT migration_name, checksum FROM _prisma_migrations WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL').all() as Array<{ migration_name: string; checksum: string }>;
      const todo = pending(all, new Map(rows.map((r) => [r.migration_name, r.checksum])));
      for (const m of todo) {
        onApply?.(m.name);
        db.exec(m.sql);
        db.prepare(
          'INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count) VALUES (?, ?, ?, ?, ?, 1)',
        ).run(randomUUID(), m.checksum, m.name, Date.now(), Date.now());
      }
      return { applied: todo.map((m) => m.name), alreadyApplied: all.length - todo.length };
    });
    return run.immediate();
  } finally {
    db.close();
  }
}

async function migratePostgres(url: string, all: Migration[], onApply?: (name: string) => void): Promise<MigrateResult> {
  const pg = await loadPg();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Held for the whole run: a second instance waits here, then finds nothing to do.
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
    await client.query(bookkeepingSql.postgresql);
    const { rows } = await client.query<{ migration_name: string; checksum: string }>(
      'SELECT migration_name, checksum FROM _prisma_migrations WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL',
    );
    const todo = pending(all, new Map(rows.map((r) => [r.migration_name, r.checksum])));
    for (const m of todo) {
      onApply?.(m.name);
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(
          'INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count) VALUES ($1, $2, $3, now(), now(), 1)',
          [randomUUID(), m.checksum, m.name],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
    return { applied: todo.map((m) => m.name), alreadyApplied: all.length - todo.length };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}
