/**
 * A fresh, migrated database per test file, on the provider under test:
 * TEST_DATABASE=sqlite (default) copies a migrated template file;
 * TEST_DATABASE=postgresql clones a migrated template database.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { DatabaseProvider } from '../../src/config.js';

export const testProvider: DatabaseProvider = process.env.TEST_DATABASE === 'postgresql' ? 'postgresql' : 'sqlite';
/** The server to create test databases on (a maintenance database URL). */
export const postgresAdminUrl = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const runDir = path.join(tmpdir(), 'portcullis-tests', process.env.PORTCULLIS_TEST_RUN ?? 'local');
export const sqliteTemplate = path.join(runDir, 'template.db');
export const postgresTemplate = `portcullis_tpl_${process.env.PORTCULLIS_TEST_RUN ?? 'local'}`;

export function postgresUrl(database: string): string {
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresAdminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  provider: DatabaseProvider;
  url: string;
  drop(): Promise<void>;
}

/** An empty database (no migrations applied): for migrator tests. */
export async function emptyDatabase(): Promise<TestDatabase> {
  const name = `portcullis_t_${randomBytes(6).toString('hex')}`;
  if (testProvider === 'sqlite') {
    mkdirSync(runDir, { recursive: true });
    const file = path.join(runDir, `${name}.db`);
    return { provider: 'sqlite', url: `file:${file}`, drop: async () => rmSync(file, { force: true }) };
  }
  await adminQuery(`CREATE DATABASE ${name}`);
  return { provider: 'postgresql', url: postgresUrl(name), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** A migrated database of its own. */
export async function freshDatabase(): Promise<TestDatabase> {
  const name = `portcullis_t_${randomBytes(6).toString('hex')}`;
  if (testProvider === 'sqlite') {
    const file = path.join(runDir, `${name}.db`);
    copyFileSync(sqliteTemplate, file);
    return {
      provider: 'sqlite',
      url: `file:${file}`,
      drop: async () => {
        for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
      },
    };
  }
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${postgresTemplate}`);
  return { provider: 'postgresql', url: postgresUrl(name), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
