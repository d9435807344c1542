/**
 * The only reader of the environment. Parses it once with zod into a frozen
 * object; everything else receives the slice it needs. Defaults serve one
 * machine with no setup: a SQLite file under ./data, in-process pub/sub,
 * console delivery, keys generated beside the database.
 */
import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) =>
  z.coerce.number({ message: 'expected a whole number' }).int('expected a whole number').min(min).max(max);

/** A 32-byte key written as 64 hex characters or base64. */
const key32 = z.string().transform((v, ctx) => {
  const buf = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'base64');
  if (buf.length !== 32) {
    ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, as 64 hex characters or base64 (openssl rand -base64 32)' });
    return z.NEVER;
  }
  return buf;
});

const databaseUrl = z.string().refine((v) => /^(file:|postgres(ql)?:\/\/)/.test(v), {
  message: 'must start with file: (SQLite) or postgresql:// (PostgreSQL)',
});

/** Every variable the gateway reads, with its default. The README's table mirrors this list. */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(4000),
  PORTCULLIS_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: databaseUrl.optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORTCULLIS_BOOTSTRAP_API_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  PORTCULLIS_ENCRYPTION_KEY: key32.optional(),
  PORTCULLIS_GRAPHIQL: bool.default(true),
  PORTCULLIS_MAX_DEPTH: int(2, 100).default(12),
  PORTCULLIS_MAX_COST: int(10, 1_000_000).default(10_000),
  PORTCULLIS_MAX_ALIASES: int(1, 1000).default(30),
  PORTCULLIS_SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
});

export type DatabaseProvider = 'sqlite' | 'postgresql';

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  dataDir: string;
  database: { provider: DatabaseProvider; url: string };
  redisUrl?: string;
  logLevel: string;
  bootstrapApiKey?: string;
  /** Absent until start-up resolves it (generated into the data folder on first start). */
  encryptionKey?: Buffer;
  graphiql: boolean;
  limits: { maxDepth: number; maxCost: number; maxAliases: number };
  shutdownTimeoutMs: number;
}

/** A configuration mistake: names the variable and what is wrong with it. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  // Empty strings mean "unset": shells and .env files often export VAR= .
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.PORTCULLIS_DATA_DIR);
  const url = e.DATABASE_URL ?? `file:${path.join(dataDir, 'portcullis.db')}`;
  const provider: DatabaseProvider = url.startsWith('file:') ? 'sqlite' : 'postgresql';
  if (provider === 'postgresql' && !e.PORTCULLIS_ENCRYPTION_KEY && e.NODE_ENV !== 'test') {
    // A key generated into one machine's data folder would differ between instances.
    throw new ConfigError('PORTCULLIS_ENCRYPTION_KEY', 'is required with PostgreSQL, so that every instance shares it');
  }
  return Object.freeze({
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    dataDir,
    database: Object.freeze({ provider, url }),
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    bootstrapApiKey: e.PORTCULLIS_BOOTSTRAP_API_KEY,
    encryptionKey: e.PORTCULLIS_ENCRYPTION_KEY,
    graphiql: e.PORTCULLIS_GRAPHIQL,
    limits: Object.freeze({ maxDepth: e.PORTCULLIS_MAX_DEPTH, maxCost: e.PORTCULLIS_MAX_COST, maxAliases: e.PORTCULLIS_MAX_ALIASES }),
    shutdownTimeoutMs: e.PORTCULLIS_SHUTDOWN_TIMEOUT_MS,
  });
}

/** The documented variables, for `portcullis start --help` and the README. */
export const configVariables: Array<[name: string, meaning: string]> = [
  ['HOST', 'address to listen on (default 127.0.0.1)'],
  ['PORT', 'port to listen on (default 4000; 0 picks a free one)'],
  ['PORTCULLIS_DATA_DIR', 'folder for the SQLite file and generated keys (default ./data)'],
  ['DATABASE_URL', 'file:… for SQLite (default file:<data dir>/portcullis.db) or postgresql://…'],
  ['REDIS_URL', 'redis://… to share pub/sub and counters between instances (optional)'],
  ['LOG_LEVEL', 'fatal|error|warn|info|debug|trace|silent (default info)'],
  ['PORTCULLIS_BOOTSTRAP_API_KEY', 'an API key accepted without being stored (at least 24 characters)'],
  ['PORTCULLIS_ENCRYPTION_KEY', '32-byte key for secrets at rest (hex or base64); generated into the data folder if unset with SQLite; required with PostgreSQL'],
  ['PORTCULLIS_GRAPHIQL', 'serve GraphiQL on GET /graphql (default true)'],
  ['PORTCULLIS_MAX_DEPTH', 'maximum query depth (default 12)'],
  ['PORTCULLIS_MAX_COST', 'maximum query cost (default 10000)'],
  ['PORTCULLIS_MAX_ALIASES', 'maximum aliases per operation (default 30)'],
  ['PORTCULLIS_SHUTDOWN_TIMEOUT_MS', 'how long shutdown waits for in-flight requests (default 10000)'],
  ['NODE_ENV', 'development|production|test; production disables anonymous introspection'],
];
