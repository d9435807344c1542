/**
 * The Prisma client for the configured provider. Two clients are generated
 * from one model file with identical types; the SQLite one names the type.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient as SqliteClient, Prisma } from './generated/sqlite/client.js';
import { PrismaClient as PostgresClient } from './generated/postgresql/client.js';
import type { DatabaseProvider } from '../config.js';

export type Db = SqliteClient;
export type Tx = Prisma.TransactionClient;
export { Prisma };

export interface Database {
  provider: DatabaseProvider;
  client: Db;
  close(): Promise<void>;
}

/** A `file:` URL's path, resolved against the working directory. */
export function sqlitePath(url: string): string {
  return path.resolve(url.replace(/^file:(\/\/)?/, '').replace(/\?.*$/, ''));
}

export function createDatabase(provider: DatabaseProvider, url: string, options: { log?: (query: string) => void } = {}): Database {
  const log = options.log ? [{ emit: 'event' as const, level: 'query' as const }] : undefined;
  let client: Db;
  if (provider === 'sqlite') {
    const file = sqlitePath(url);
    mkdirSync(path.dirname(file), { recursive: true });
    // timeout: wait for a competing writer (another process) instead of failing at once.
    client = new SqliteClient({ adapter: new PrismaBetterSQLite3({ url: file, timeout: 10_000 }), log });
  } else {
    const adapter = new PrismaPg({ connectionString: url, max: 10 });
    client = new PostgresClient({ adapter, log }) as unknown as Db;
  }
  if (options.log) {
    const sink = options.log;
    (client as unknown as { $on(e: 'query', cb: (ev: { query: string }) => void): void }).$on('query', (e) => sink(e.query));
  }
  return { provider, client, close: () => client.$disconnect() };
}

/** True when an error is a unique-constraint violation (Prisma P2002), on either provider. */
export function isUniqueViolation(error: unknown): error is { code: 'P2002'; meta?: { target?: unknown } } {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'P2002';
}

/** The columns named by a unique violation, across adapters' differing metadata shapes. */
export function uniqueViolationFields(error: unknown): string[] {
  const meta = (error as { meta?: Record<string, unknown> }).meta ?? {};
  const target = meta.target ?? (meta.driverAdapterError as { cause?: { constraint?: { fields?: string[] } } })?.cause?.constraint?.fields;
  if (Array.isArray(target)) return target.map(String);
  if (typeof target === 'string') return [target];
  return [JSON.stringify(meta)];
}
