/**
 * The gateway migrates itself: idempotently, refusing edited migrations, and
 * safely when several instances start at once against one database.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, MigrationDriftError, readMigrations } from '../src/kernel/db/migrator.js';
import { sqlitePath } from '../src/kernel/db/client.js';
import { newId } from '../src/kernel/ids.js';
import { newAuthMethodId } from '../src/modules/auth-methods/kinds.js';
import { graphql } from './gql/index.js';
import { createTestApp, ENCRYPTION_KEY, BOOTSTRAP_KEY } from './helpers/app.js';
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

/** Runs statements written with `?` placeholders straight on the database, as rows written before a migration. */
async function execute(db: TestDatabase, statements: Array<[sql: string, params: Array<string | boolean | null>]>): Promise<void> {
  if (db.provider === 'sqlite') {
    const conn = new Sqlite(sqlitePath(db.url));
    try {
      for (const [sql, params] of statements) conn.prepare(sql).run(...params.map((p) => (typeof p === 'boolean' ? Number(p) : p)));
    } finally {
      conn.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    for (const [sql, params] of statements) {
      let i = 0;
      await client.query(sql.replace(/\?/g, () => `$${++i}`), params);
    }
  } finally {
    await client.end();
  }
}

const TotpVerifiedAt = graphql(`
  query MigratedTotpVerifiedAt($id: ID!) { node(id: $id) { ... on TotpMethod { verified verifiedAt } } }
`);

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

  it('gives TOTP authenticators confirmed before verifiedAt existed the time of their user.totp_added, else their start', async () => {
    const db = await empty();
    const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-migrations-'));
    cpSync(path.resolve(import.meta.dirname, '..', 'prisma', 'migrations'), dir, { recursive: true });
    const added = readMigrations(db.provider, dir).find((m) => m.name.endsWith('_totp_verified_at'));
    if (!added) throw new Error('no totp_verified_at migration');
    // The database as it was before that migration (and any after it).
    for (const m of readMigrations(db.provider, dir)) if (m.name >= added.name) rmSync(path.join(dir, db.provider, m.name), { recursive: true });
    await migrate(db.provider, db.url, { dir });

    // Written the way Prisma writes a DateTime on each provider.
    const at = (iso: string) => (db.provider === 'sqlite' ? iso.replace('Z', '+00:00') : iso);
    const userId = newId('User');
    const withEvent = newAuthMethodId('TOTP');
    const eventPruned = newAuthMethodId('TOTP');
    const pending = newAuthMethodId('TOTP');
    const method = `INSERT INTO "AuthMethod" ("id", "userId", "kind", "verified", "createdAt", "updatedAt") VALUES (?, ?, 'TOTP', ?, ?, ?)`;
    const event = `INSERT INTO "Event" ("id", "type", "userId", "data", "occurredAt") VALUES (?, ?, ?, ?, ?)`;
    await execute(db, [
      [`INSERT INTO "User" ("id", "updatedAt") VALUES (?, ?)`, [userId, at('2026-01-01T00:00:00.000Z')]],
      [method, [withEvent, userId, true, at('2026-01-02T10:00:00.000Z'), at('2026-01-09T00:00:00.000Z')]],
      [method, [eventPruned, userId, true, at('2026-01-03T10:00:00.000Z'), at('2026-01-09T00:00:00.000Z')]],
      [method, [pending, userId, false, at('2026-01-04T10:00:00.000Z'), at('2026-01-04T10:00:00.000Z')]],
      // Another method's event and another type must not be taken for this one's.
      [event, [newId('UserEvent'), 'user.totp_verified', userId, JSON.stringify({ authMethodId: withEvent }), at('2026-01-08T00:00:00.000Z')]],
      [event, [newId('UserEvent'), 'user.totp_added', userId, JSON.stringify({ authMethodId: 'am_totp_other' }), at('2026-01-07T00:00:00.000Z')]],
      [event, [newId('UserEvent'), 'user.totp_added', userId, JSON.stringify({ authMethodId: withEvent }), at('2026-01-02T10:04:00.000Z')]],
    ]);

    expect((await migrate(db.provider, db.url)).applied).toContain(added.name);
    const t = await createTestApp({ database: db });
    try {
      const verifiedAt = async (id: string) => (await t.run(TotpVerifiedAt, { id })).node;
      expect(await verifiedAt(withEvent)).toEqual({ verified: true, verifiedAt: '2026-01-02T10:04:00.000Z' });
      expect(await verifiedAt(eventPruned)).toEqual({ verified: true, verifiedAt: '2026-01-03T10:00:00.000Z' });
      expect(await verifiedAt(pending)).toEqual({ verified: false, verifiedAt: null });
    } finally {
      await t.close();
    }
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
