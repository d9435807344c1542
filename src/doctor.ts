/**
 * `portcullis doctor`: checks a configuration and the services it names,
 * and says what is wrong in one line each, before a start would fail (or,
 * worse, start and fail later): the database reachable and migrated, Redis
 * reachable, the delivery settings complete, the encryption key present, and
 * this machine's clock close to the database's (TOTP codes and token expiry
 * depend on it).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';
import { createSender } from './kernel/delivery/index.js';
import { migrationStatus } from './kernel/db/migrator.js';
import { describeDatabase } from './kernel/db/paths.js';
import { createLogger } from './kernel/logger.js';
import { loadRedis } from './kernel/redis.js';

export interface Finding {
  check: string;
  ok: boolean;
  detail: string;
}

/** Past this, TOTP codes and token expiry disagree between machines. */
const MAX_CLOCK_SKEW_MS = 5_000;
const TIMEOUT_MS = 3_000;

async function check(name: string, run: () => Promise<string>): Promise<Finding> {
  try {
    return { check: name, ok: true, detail: await run() };
  } catch (error) {
    return { check: name, ok: false, detail: (error as Error).message.split('\n')[0] };
  }
}

export async function runDoctor(config: Readonly<Config>, now: () => Date = () => new Date()): Promise<Finding[]> {
  const { provider, url } = config.database;
  const where = describeDatabase(provider, url);
  const findings: Finding[] = [];
  let serverTime: Date | undefined;

  findings.push(
    await check('database', async () => {
      const status = await migrationStatus(provider, url, { timeoutMs: TIMEOUT_MS });
      serverTime = status.serverTime;
      if (!status.exists) throw new Error(`${where} does not exist yet: portcullis start (or migrate) creates it`);
      if (status.drift) throw new Error(`${where}: ${status.drift}`);
      if (status.pending.length) throw new Error(`${where} lacks ${status.pending.length} migration(s) (${status.pending.join(', ')}): run portcullis migrate`);
      return `${where} reachable, ${status.applied} migrations applied`;
    }),
  );

  findings.push(
    await check('encryption key', async () => {
      if (config.encryptionKey) return 'PORTCULLIS_ENCRYPTION_KEY set';
      const file = path.join(config.dataDir, 'encryption.key');
      if (existsSync(file)) return `kept in ${file}`;
      return `none yet: the first start generates one into ${file} (back it up with the database)`;
    }),
  );

  if (config.redisUrl) {
    findings.push(
      await check('redis', async () => {
        const Redis = await loadRedis();
        const redis = new Redis(config.redisUrl!, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: TIMEOUT_MS, retryStrategy: () => null });
        redis.on('error', () => {});
        try {
          await redis.connect();
          await redis.ping();
          return `${new URL(config.redisUrl!).host} answers`;
        } finally {
          redis.disconnect();
        }
      }),
    );
  }

  for (const channel of ['email', 'sms'] as const) {
    findings.push(
      await check(`${channel} delivery`, async () => {
        // Building the sender checks that the chosen one has every setting it needs.
        createSender(channel, { config, logger: createLogger('silent') });
        const kind = channel === 'email' ? config.delivery.email : config.delivery.sms;
        return kind === 'console' ? 'console: codes go to the log (development only)' : `${kind}: settings complete`;
      }),
    );
  }

  findings.push(
    await check('clock', async () => {
      if (!serverTime) return provider === 'sqlite' ? 'SQLite runs on this machine: one clock' : 'not compared (the database did not answer)';
      const skew = Math.abs(now().getTime() - serverTime.getTime());
      if (skew > MAX_CLOCK_SKEW_MS) throw new Error(`this machine and the database disagree by ${(skew / 1000).toFixed(1)} s: synchronise the clocks (NTP)`);
      return `within ${skew} ms of the database`;
    }),
  );
  return findings;
}
