/**
 * Reliability: PostgreSQL connections terminated under load
 * (pg_terminate_backend, as a failover or an operator would) must not leave
 * the gateway hanging. The real command runs under load while every backend
 * of its database is killed again and again; afterwards it answers again
 * within seconds, every webhook delivery drains, and SIGTERM stops it within
 * PORTCULLIS_SHUTDOWN_TIMEOUT_MS, also while the connections are still being
 * killed.
 */
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BOOTSTRAP_KEY, ENCRYPTION_KEY } from '../helpers/app.js';
import { freshDatabase, postgresAdminUrl, testProvider, type TestDatabase } from '../helpers/db.js';
import { postGraphql, startGateway, type Gateway } from '../helpers/process.js';

const SHUTDOWN_TIMEOUT_MS = 3_000;
/** What a stop may take beyond the configured timeout: process exit and a loaded 2-core machine. */
const STOP_MARGIN_MS = 5_000;
/** A request unanswered this long counts as hung: far above the 2 s acquire timeout set below. */
const HUNG_MS = 15_000;

// The outage is PostgreSQL's (connections killed by the server); SQLite has no connections to lose.
describe.skipIf(testProvider !== 'postgresql')('PostgreSQL connections killed under load', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  let receiver: http.Server;
  let hookUrl: string;
  const received = new Set<string>();

  beforeAll(async () => {
    db = await freshDatabase();
    admin = new pg.Client({ connectionString: postgresAdminUrl });
    await admin.connect();
    receiver = http.createServer((req, res) => {
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') received.add(id);
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    await admin?.end();
    await new Promise((resolve) => receiver?.close(resolve));
    await db?.drop();
  });

  const env = () => ({
    DATABASE_URL: db.url,
    PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-outage-')),
    PORTCULLIS_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY,
    PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY,
    PORTCULLIS_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    PORTCULLIS_DB_ACQUIRE_TIMEOUT_MS: '2000',
    PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true',
    PORTCULLIS_WEBHOOK_RETRY_SCHEDULE: '0,1,1,1,1,1,1,1,1,1',
    PORTCULLIS_PUBLIC_RATE_LIMIT: '0',
    HOST: '127.0.0.1',
  });

  /** Terminates every backend of the test database, every `everyMs`, until stopped. */
  function killBackends(everyMs: number) {
    const name = new URL(db.url).pathname.slice(1);
    let kills = 0;
    const timer = setInterval(() => {
      admin
        .query('SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name])
        .then((r) => (kills += r.rows[0].n as number), () => {});
    }, everyMs);
    return { stop: () => clearInterval(timer), kills: () => kills };
  }

  /**
   * Requests in a loop from `workers` clients while `going()`; counts what
   * answered, what failed, and what got no answer within HUNG_MS (the hang
   * this test is about).
   */
  async function load(url: string, workers: number, going: () => boolean) {
    let answered = 0;
    let failed = 0;
    let hung = 0;
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (let i = 0; going(); i++) {
          try {
            const res = await fetch(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${BOOTSTRAP_KEY}` },
              body: JSON.stringify({
                query: 'mutation($e: String) { createUser(input: { email: $e }) { __typename } }',
                variables: { e: `load-${w}-${i}-${Date.now()}@example.com` },
              }),
              signal: AbortSignal.timeout(HUNG_MS),
            });
            const body = (await res.json()) as { data?: { createUser?: { __typename: string } } };
            if (body.data?.createUser?.__typename === 'CreateUserSuccess') answered++;
            else failed++;
          } catch (error) {
            if ((error as Error).name === 'TimeoutError') hung++;
            else failed++;
          }
        }
      }),
    );
    return { answered, failed, hung };
  }

  async function healthy(gateway: Gateway) {
    const ready = await fetch(`${gateway.origin}/readyz`);
    const body = (await ready.json()) as { status: string; pool?: Record<string, number> };
    expect(ready.status, JSON.stringify(body)).toBe(200);
    const r = await postGraphql(gateway.url, 'mutation($e: String) { createUser(input: { email: $e }) { __typename } }', { e: `after-${Date.now()}@example.com` }, BOOTSTRAP_KEY);
    expect(r.body.data?.createUser?.__typename).toBe('CreateUserSuccess');
    return body;
  }

  it('answers again within seconds, drains its webhooks, and stops on SIGTERM in time', async () => {
    const gateway = await startGateway(env());
    try {
      const app = await postGraphql(gateway.url, 'mutation($url: String!) { createWebhookApp(input: { name: "outage", url: $url }) { __typename } }', { url: hookUrl }, BOOTSTRAP_KEY);
      expect(app.body.data?.createWebhookApp?.__typename).toBe('CreateWebhookAppSuccess');

      const killer = killBackends(250);
      const until = Date.now() + 8_000;
      const during = await load(gateway.url, 6, () => Date.now() < until);
      killer.stop();
      expect(killer.kills()).toBeGreaterThan(10);
      // Some requests fail while their connection dies; many go through between kills.
      expect(during.answered).toBeGreaterThan(0);
      expect(during.hung).toBe(0);

      await vi.waitFor(() => healthy(gateway), { timeout: 15_000, interval: 250 });
      const pool = (await healthy(gateway)).pool;
      expect(pool).toMatchObject({ waiting: 0 });

      // Every event of a created user reaches the receiver: nothing stays pending after the outage.
      await vi.waitFor(
        async () => {
          const pending = await new pg.Client({ connectionString: db.url });
          await pending.connect();
          try {
            const r = await pending.query(`SELECT status, count(*)::int AS n FROM "WebhookDelivery" GROUP BY status`);
            const byStatus = Object.fromEntries(r.rows.map((row) => [row.status, row.n]));
            expect(Object.keys(byStatus), JSON.stringify(byStatus)).toEqual(['SUCCEEDED']);
            expect(received.size).toBeGreaterThanOrEqual(byStatus.SUCCEEDED);
          } finally {
            await pending.end();
          }
        },
        { timeout: 30_000, interval: 500 },
      );

      const started = Date.now();
      expect(await gateway.stop('SIGTERM')).toBe(0);
      expect(Date.now() - started).toBeLessThan(SHUTDOWN_TIMEOUT_MS + STOP_MARGIN_MS);
    } finally {
      await gateway.stop('SIGKILL');
    }
  }, 120_000);

  it('stops on SIGTERM in time while its connections are still being killed', async () => {
    const gateway = await startGateway(env());
    const killer = killBackends(100);
    let going = true;
    const loading = load(gateway.url, 4, () => going);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const started = Date.now();
      const code = await gateway.stop('SIGTERM');
      const took = Date.now() - started;
      expect(code).not.toBeNull();
      expect(took).toBeLessThan(SHUTDOWN_TIMEOUT_MS + STOP_MARGIN_MS);
    } finally {
      going = false;
      await loading;
      killer.stop();
      await gateway.stop('SIGKILL');
    }
  }, 120_000);
});
