/**
 * The gateway migrates itself: idempotently, refusing edited migrations, and
 * safely when several instances start at once against one database.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, MigrationDriftError, readMigrations } from '../src/kernel/db/migrator.js';
import { sqlitePath } from '../src/kernel/db/client.js';
import { ENCRYPTION_KEY, BOOTSTRAP_KEY } from './helpers/app.js';
import { emptyDatabase, testProvider, type TestDatabase } from './helpers/db.js';
import { postGraphql, startGateway } from './helpers/process.js';

const dropped: TestDatabase[] = [];
afterEach(async () => {
  for (const db of dropped.splice(0)) await db.drop();
});

async function empty() {
  const db = await emptyDatabase();
  dropped.push(db);
  return db;
}

async function appliedRows(db: TestDatabase): Promise<Array<{ migration_name: string; checksum: string }>> {
  const sql = 'SELECT migration_name, checksum FROM _prisma_migrations ORDER BY migration_name';
  if (db.provider === 'sqlite') {
    const conn = new Sqlite(sqlitePath(db.url));
    try {
      return conn.prepare(sql).all() as never;
    } finally {
      conn.close();
    }
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe(`migrator on ${testProvider}`, () => {
  it('applies every migration once and records it in _prisma_migrations', async () => {
    const db = await empty();
    const all = readMigrations(db.provider);
    expect(all.length).toBeGreaterThan(0);
    const first = await migrate(db.provider, db.url);
    expect(first.applied).toEqual(all.map((m) => m.name));
    const second = await migrate(db.provider, db.url);
    expect(second).toEqual({ applied: [], alreadyApplied: all.length });
    expect(await appliedRows(db)).toEqual(all.map((m) => ({ migration_name: m.name, checksum: m.checksum })));
  });

  it('lets concurrent migrators apply each migration exactly once', async () => {
    const db = await empty();
    const results = await Promise.all([migrate(db.provider, db.url), migrate(db.provider, db.url), migrate(db.provider, db.url)]);
    const applied = results.flatMap((r) => r.applied);
    expect(applied).toEqual(readMigrations(db.provider).map((m) => m.name));
    expect((await appliedRows(db)).length).toBe(applied.length);
  });

  it('refuses to go on when an applied migration was edited', async () => {
    const db = await empty();
    const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-migrations-'));
    cpSync(path.resolve(import.meta.dirname, '..', 'prisma', 'migrations'), dir, { recursive: true });
    await migrate(db.provider, db.url, { dir });
    const first = readMigrations(db.provider, dir)[0];
    writeFileSync(path.join(dir, db.provider, first.name, 'migration.sql'), `${first.sql}\n-- edited\n`);
    await expect(migrate(db.provider, db.url, { dir })).rejects.toBeInstanceOf(MigrationDriftError);
  });
});

describe.runIf(testProvider === 'postgresql')('two gateway instances starting at once on one PostgreSQL database', () => {
  // Only PostgreSQL is shared by several machines; SQLite is covered by the in-process case above.
  it('both come up, and the migrations are applied once', async () => {
    const db = await empty();
    const env = { DATABASE_URL: db.url, PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY, PORTCULLIS_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY, PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-two-')) };
    const [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
    try {
      const applyLines = [a, b].map((g) => (g.stdout().match(/"applying migration"/g) ?? []).length);
      expect(applyLines.reduce((x, y) => x + y, 0)).toBe(readMigrations('postgresql').length);
      expect((await appliedRows(db)).length).toBe(readMigrations('postgresql').length);
      for (const g of [a, b]) {
        const res = await postGraphql(g.url, '{ users(first: 1) { totalCount } }', {}, BOOTSTRAP_KEY);
        expect(res.body.data.users.totalCount).toBe(0);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
