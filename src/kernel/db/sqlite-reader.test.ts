/**
 * The SQLite reader (sqlite-reader.ts) on a real database file in WAL mode,
 * beside a connection of this thread standing in for the shared one. It is
 * a SQLite part, so it runs on its own file whatever TEST_DATABASE says.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteReader, type SqliteReader } from './sqlite-reader.js';

/** Counts to `n` in SQL: a read that keeps its thread busy for a while. */
const countTo = (n: number) => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT count(*) AS "n" FROM c`;

/** Resolves `work`, counting the turns of this thread's event loop meanwhile. */
async function turnsDuring<T>(work: Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    return { value: await work, turns };
  } finally {
    done = true;
  }
}

describe('SQLite reader thread', () => {
  let dir: string;
  let file: string;
  let shared: Database.Database;
  let reader: SqliteReader;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'portcullis-reader-'));
    file = path.join(dir, 'reader.db');
    shared = new Database(file);
    shared.pragma('journal_mode = WAL');
    shared.exec('CREATE TABLE "T" ("id" TEXT PRIMARY KEY, "at" TEXT, "flag" INTEGER, "doc" TEXT)');
    reader = createSqliteReader(file, { timeoutMs: 5_000, idleMs: 60_000 });
  });

  afterAll(async () => {
    await reader.close();
    shared.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a long read off this thread: the event loop keeps turning until its rows arrive', async () => {
    const { value, turns } = await turnsDuring(reader.all<{ n: number }>(countTo(3_000_000), []));
    expect(value).toEqual([{ n: 3_000_000 }]);
    expect(turns).toBeGreaterThan(1);
    // The same read on this thread's connection: no turn until it is done (what every search did before).
    const here = await turnsDuring(Promise.resolve(shared.prepare(countTo(3_000_000)).all()));
    expect(here.turns).toBe(0);
  });

  it('sees what the shared connection committed before the read, at once', async () => {
    shared.prepare('INSERT INTO "T" ("id", "at", "flag", "doc") VALUES (?, ?, ?, ?)').run('a', '2026-12-02T00:00:00.000+00:00', 1, '{"k":1}');
    expect(await reader.all('SELECT "id" FROM "T"', [])).toEqual([{ id: 'a' }]);
    shared.prepare('DELETE FROM "T" WHERE "id" = ?').run('a');
    expect(await reader.all('SELECT "id" FROM "T"', [])).toEqual([]);
  });

  it('binds dates and booleans as the shared connection does, and converts rows by their shape', async () => {
    const at = new Date('2026-12-02T01:02:03.004Z');
    shared.prepare('INSERT INTO "T" ("id", "at", "flag", "doc") VALUES (?, ?, ?, ?)').run('b', '2026-12-02T01:02:03.004+00:00', 1, '{"k":2}');
    const rows = await reader.all<{ id: string; at: Date; flag: boolean; doc: unknown }>('SELECT * FROM "T" WHERE "at" = ? AND "flag" = ?', [at, true], {
      dates: ['at'],
      booleans: ['flag'],
      json: ['doc'],
    });
    expect(rows).toEqual([{ id: 'b', at, flag: true, doc: { k: 2 } }]);
  });

  it('refuses writes and reports a bad statement as the driver does', async () => {
    await expect(reader.all('DELETE FROM "T" RETURNING "id"', [])).rejects.toThrow(/readonly|query_only|attempt to write/i);
    expect(shared.prepare('SELECT count(*) AS "n" FROM "T"').get()).toEqual({ n: 1 });
    await expect(reader.all('SELECT * FROM "Nowhere"', [])).rejects.toMatchObject({ code: 'SQLITE_ERROR', message: expect.stringMatching(/no such table/) });
  });

  it('fails a read in flight when closed, and starts anew for the next one', async () => {
    const inFlight = reader.all(countTo(20_000_000), []);
    await reader.close();
    await expect(inFlight).rejects.toThrow(/reader thread stopped/);
    expect(await reader.all<{ n: number }>('SELECT 1 AS "n"', [])).toEqual([{ n: 1 }]);
  });

  it('stops its thread once idle, never under a statement in flight, and starts again for the next', async () => {
    const brief = createSqliteReader(file, { timeoutMs: 5_000, idleMs: 50 });
    try {
      expect(brief.running()).toBe(false);
      // A read that outlasts the idle time many times over is not cut short.
      expect(await brief.all<{ n: number }>(countTo(5_000_000), [])).toEqual([{ n: 5_000_000 }]);
      expect(brief.running()).toBe(true);
      for (let waited = 0; brief.running() && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(brief.running()).toBe(false);
      expect(await brief.all<{ n: number }>('SELECT 2 AS "n"', [])).toEqual([{ n: 2 }]);
      expect(brief.running()).toBe(true);
    } finally {
      await brief.close();
    }
    expect(brief.running()).toBe(false);
  });
});
