/**
 * `portcullis doctor` against a good configuration and against bad ones,
 * each wrong thing said in one line, and a .env in the working directory
 * read at start (the environment winning over it).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTION_KEY } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { runCliAsync } from '../helpers/process.js';

let db: TestDatabase;
let good: Record<string, string>;
beforeAll(async () => {
  db = await freshDatabase();
  good = {
    DATABASE_URL: db.url,
    PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-doctor-')),
    PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY,
    REDIS_URL: 'redis://127.0.0.1:6379',
  };
});
afterAll(() => db?.drop());

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const lines = (stderr: string) => stderr.trim().split('\n');

describe('portcullis doctor', () => {
  it('says ok for each check of a good configuration, and exits 0', async () => {
    const r = await runCliAsync(['doctor'], good);
    expect(r.status, r.stderr).toBe(0);
    const out = lines(r.stderr);
    for (const check of ['configuration', 'database', 'encryption key', 'redis', 'email delivery', 'sms delivery', 'clock']) {
      expect(out.some((l) => l.startsWith(`ok    ${check}`)), `${check} in\n${r.stderr}`).toBe(true);
    }
    expect(out.every((l) => !l.startsWith('FAIL'))).toBe(true);
  });

  it('names an unreachable Redis and incomplete SMTP settings, one line each, and exits 1', async () => {
    const r = await runCliAsync(['doctor'], { ...good, REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, PORTCULLIS_EMAIL_DELIVERY: 'smtp' });
    expect(r.status).toBe(1);
    const failed = lines(r.stderr).filter((l) => l.startsWith('FAIL'));
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatch(/^FAIL  redis: /);
    expect(failed[1]).toBe('FAIL  email delivery: SMTP_HOST: is required when PORTCULLIS_EMAIL_DELIVERY=smtp');
  });

  it('names a database that does not exist yet, and a configuration that does not parse', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'portcullis-doctor-empty-'));
    const missing = await runCliAsync(['doctor'], { PORTCULLIS_DATA_DIR: empty });
    expect(missing.status).toBe(1);
    expect(lines(missing.stderr).find((l) => l.startsWith('FAIL'))).toBe(
      `FAIL  database: SQLite at ${path.join(empty, 'portcullis.db')} does not exist yet: portcullis start (or migrate) creates it`,
    );
    const bad = await runCliAsync(['doctor'], { ...good, PORT: 'eighty' });
    expect(bad.status).toBe(1);
    expect(lines(bad.stderr)).toEqual(['FAIL  configuration: PORT: expected a whole number']);
  });
});

describe('.env', () => {
  it('is read from the working directory at start, and the environment wins over it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-dotenv-'));
    writeFileSync(path.join(dir, '.env'), `DATABASE_URL=${db.url}\nPORTCULLIS_ENCRYPTION_KEY=${ENCRYPTION_KEY}\nPORTCULLIS_DATA_DIR=${dir}\nREDIS_URL=redis://127.0.0.1:1\n`);
    // From the file only: Redis at port 1 answers nothing.
    const fromFile = await runCliAsync(['doctor'], {}, { cwd: dir });
    expect(lines(fromFile.stderr).filter((l) => l.startsWith('FAIL')).map((l) => l.split(':')[0])).toEqual(['FAIL  redis']);
    expect(fromFile.stderr).toMatch(/ok    database: /);
    // The environment's REDIS_URL wins over the file's.
    const overridden = await runCliAsync(['doctor'], { REDIS_URL: 'redis://127.0.0.1:6379' }, { cwd: dir });
    expect(overridden.status, overridden.stderr).toBe(0);
  });
});
