/**
 * The `portcullis` command: start | migrate | api-key create|list|revoke | doctor | print-schema.
 * Human messages go to stderr; logs are JSON lines on stdout.
 */
import { existsSync } from 'node:fs';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Command, InvalidArgumentError } from 'commander';
import type { ApiKeyService } from './modules/access-tokens/api-keys.js';
import { ConfigError, configVariables, loadConfig, type Config } from './config.js';
import { stdoutLog } from './kernel/logger.js';
import { PortcullisError } from './kernel/errors.js';
import { adapterCause } from './kernel/db/adapter-errors.js';
import { describeDatabase, sqlitePath } from './kernel/db/paths.js';

// The gateway (Prisma, the schema, the server) loads only for the commands that need it, so --help answers at once.
const loadApp = () => import('./app.js');

const say = (line: string) => process.stderr.write(`${line}\n`);
// A .env in the working directory fills in what the environment does not set (the environment wins).
if (existsSync('.env')) process.loadEnvFile('.env');
// Output whose reader went away (EPIPE) is lost, never fatal: logging must not stop the gateway or its shutdown.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

/** Exits once the log is flushed, or after a short wait: a dead log reader must not hold the exit. */
async function exitAfterFlush(code: number): Promise<never> {
  await stdoutLog.flush(500);
  process.exit(code);
}

function portOption(value: string): string {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return value;
}

function config(overrides: Record<string, string | undefined> = {}): Readonly<Config> {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return loadConfig({ ...process.env, ...defined });
}

/** Who the audit trail names for changes made from the command line. */
const cliMeta = { actor: { type: 'cli' as const } };

function dateOption(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) throw new InvalidArgumentError('expected an ISO 8601 date, e.g. 2027-01-31 or 2027-01-31T12:00:00Z');
  return date;
}

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(/[\s,]+/).filter(Boolean)];

/** A mistake in how the command was called or configured: one line, exit code 2. */
class UsageError extends Error {}

/**
 * Runs fn with the API-key service on an existing database (the management
 * commands): a management command never creates a database, so a mistyped
 * DATABASE_URL or data folder is said, not silently made anew. It loads that
 * service alone, not the app: the schema and server would triple its time.
 */
/** Why a management command could not read its database, in one line that says what to do. */
function unreadable(error: unknown, where: string): UsageError {
  const cause = adapterCause(error);
  if ((error as { code?: string }).code === 'P2021') return new UsageError(`${where} has no Portcullis tables; run portcullis migrate first`);
  if (cause?.kind === 'DatabaseNotReachable') return new UsageError(`${where} does not answer: is the server running, and is DATABASE_URL right?`);
  if (cause?.kind === 'DatabaseDoesNotExist') return new UsageError(`${where} does not exist: create it and run portcullis migrate, or correct DATABASE_URL`);
  return new UsageError(`cannot read ${where}: ${cause?.originalMessage ?? cause?.kind ?? (error as Error).message.split('\n')[0]}`);
}

async function withApiKeys<T>(fn: (apiKeys: ApiKeyService) => Promise<T>): Promise<T> {
  const cfg = config();
  const { provider, url } = cfg.database;
  if (provider === 'sqlite' && !existsSync(sqlitePath(url))) {
    throw new UsageError(
      `no database at ${sqlitePath(url)} (from ${process.env.DATABASE_URL ? 'DATABASE_URL' : `PORTCULLIS_DATA_DIR=${cfg.dataDir}`}); start the gateway there first, or point DATABASE_URL or PORTCULLIS_DATA_DIR at its data`,
    );
  }
  const { openApiKeyService } = await import('./modules/access-tokens/standalone.js');
  const { apiKeys, close } = await openApiKeyService(cfg);
  try {
    await apiKeys.listApiKeys().catch((error: unknown) => {
      throw unreadable(error, describeDatabase(provider, url));
    });
    return await fn(apiKeys);
  } finally {
    await close();
  }
}

async function start(options: { port?: string; host?: string }) {
  const cfg = config({ PORT: options.port, HOST: options.host });
  const { createApp } = await loadApp();
  const app = await createApp(cfg);
  // Before listening, so the key is on screen by the time the gateway answers.
  let keyNote: string;
  if (cfg.bootstrapApiKey) {
    keyNote = 'API key: PORTCULLIS_BOOTSTRAP_API_KEY from the environment is accepted.';
  } else if ((await app.services.apiKeys.listApiKeys()).length === 0) {
    // First start: make a key so the gateway is usable at once; it is shown only now.
    const created = await app.services.apiKeys.createApiKey({ name: 'bootstrap', scopes: ['*'] }, cliMeta);
    keyNote = `Bootstrap API key (shown once; keep it, it is stored only as a hash):\n  ${created.key}\nSend it as the header  Authorization: Bearer <key>`;
  } else {
    keyNote = 'API keys exist already; create another with: portcullis api-key create --name NAME';
  }
  say(`Portcullis on ${cfg.database.provider === 'sqlite' ? `SQLite (${cfg.database.url})` : 'PostgreSQL'}.`);
  say(keyNote);
  let listening: { url: string; port: number };
  try {
    listening = await app.start();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    await app.stop().catch(() => undefined);
    if (code === 'EADDRINUSE') throw new UsageError(`cannot listen on ${cfg.host}:${cfg.port}: the port is in use (choose another with PORT or --port)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new UsageError(`cannot listen on ${cfg.host}: no such address on this machine (check HOST or --host)`);
    if (code === 'EACCES') throw new UsageError(`cannot listen on ${cfg.host}:${cfg.port}: not permitted (ports below 1024 need privileges)`);
    throw error;
  }
  const { url, port } = listening;
  say(`GraphQL endpoint: ${url}${cfg.graphiql ? '  (open it in a browser for GraphiQL)' : ''}`);
  // WebAuthn binds passkeys to the relying party id (localhost by default): the demo must be opened by that name.
  if (cfg.webauthn.demoPage) say(`Passkey demo: http://${cfg.webauthn.rpId}:${port}/passkeys`);
  compactAfterStartup();
  let stopping = false;
  const shutdown = (signal: string) => {
    // A second signal ends the process at once.
    if (stopping) process.exit(1);
    stopping = true;
    // Whatever the database, the network or the log reader does, the process ends in time.
    setTimeout(() => process.exit(1), cfg.shutdownTimeoutMs + 2_000).unref();
    app.logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => exitAfterFlush(0),
      (error) => {
        app.logger.error({ err: error }, 'shutdown failed');
        return exitAfterFlush(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/**
 * Start-up (migrations, the schema, Prisma's query engine) leaves tens of MB
 * of garbage and a young generation grown to its largest; V8 returns them
 * only after a minute or so of idling. One full collection once listening
 * returns them before traffic comes. `gc` is not exposed to the main context:
 * a context made while the flag is set gets it.
 */
function compactAfterStartup() {
  v8.setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  v8.setFlagsFromString('--no-expose-gc');
}

const program = new Command('portcullis')
  .description('Portcullis: a GraphQL identity gateway.')
  .showHelpAfterError()
  .addHelpText('after', `\nConfiguration comes from the environment:\n${configVariables.map(([n, d]) => `  ${n.padEnd(31)} ${d}`).join('\n')}`);

program
  .command('start')
  .description('apply pending migrations and serve GraphQL (and GraphiQL) on /graphql')
  .option('-p, --port <port>', 'port to listen on (overrides PORT)', portOption)
  .option('-H, --host <host>', 'address to listen on (overrides HOST)')
  .action(start);

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    const cfg = config();
    const { migrate } = await import('./kernel/db/migrator.js');
    const result = await migrate(cfg.database.provider, cfg.database.url, { onApply: (name) => say(`applying ${name}`) });
    say(result.applied.length ? `migrated: ${result.applied.length} applied, ${result.alreadyApplied} already applied` : `up to date: ${result.alreadyApplied} migrations applied`);
  });

const apiKey = program.command('api-key').description('manage API keys for management callers');
apiKey
  .command('create')
  .description('create an API key; it is printed once and stored only as a hash')
  .requiredOption('-n, --name <name>', 'a name saying who uses the key')
  .option('-s, --scope <scope>', 'a scope the key holds (repeat, or separate with commas); default * (everything); see docs/tokens-and-keys.md', collect)
  .option('-e, --expires-at <date>', 'when the key stops working (ISO 8601, in the future); default: until revoked', dateOption)
  .action((options: { name: string; scope?: string[]; expiresAt?: Date }) =>
    withApiKeys(async (apiKeys) => {
      const created = await apiKeys.createApiKey({ name: options.name, scopes: options.scope ?? ['*'], expiresAt: options.expiresAt }, cliMeta);
      say(`created ${created.id} (${created.name}) with scopes ${created.scopes.join(' ') || '(none)'}${created.expiresAt ? `, expiring ${created.expiresAt.toISOString()}` : ''}; the key is shown once:`);
      process.stdout.write(`${created.key}\n`);
    }),
  );
apiKey
  .command('list')
  .description('list API keys (never their secrets)')
  .action(() =>
    withApiKeys(async (apiKeys) => {
      const keys = await apiKeys.listApiKeys();
      if (!keys.length) {
        say('no API keys');
        return;
      }
      for (const k of keys) {
        const expired = k.expiresAt && k.expiresAt <= new Date();
        const status = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : expired ? `expired ${k.expiresAt!.toISOString()}` : 'active';
        const expiry = k.expiresAt && !expired && !k.revokedAt ? `\texpires ${k.expiresAt.toISOString()}` : '';
        process.stdout.write(
          `${k.id}\t${k.name}\t${status}\tcreated ${k.createdAt.toISOString()}\tlast used ${k.lastUsedAt?.toISOString() ?? 'never'}\tscopes ${k.scopes || '(none)'}${expiry}\n`,
        );
      }
    }),
  );
apiKey
  .command('revoke')
  .description('revoke an API key by id (key_…)')
  .argument('<id>', 'the key id')
  .action((id: string) =>
    withApiKeys(async (apiKeys) => {
      await apiKeys.revokeApiKey(id, cliMeta);
      say(`revoked ${id}`);
    }),
  );

program
  .command('doctor')
  .description('check the configuration and the services it names (database, Redis, delivery, key, clock); one line each')
  .action(async () => {
    let cfg: Readonly<Config>;
    try {
      cfg = config();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      say(`FAIL  configuration: ${error.message}`);
      process.exit(1);
    }
    const { runDoctor } = await import('./doctor.js');
    const findings = await runDoctor(cfg);
    say('ok    configuration');
    for (const f of findings) say(`${f.ok ? 'ok  ' : 'FAIL'}  ${f.check}: ${f.detail}`);
    process.exit(findings.every((f) => f.ok) ? 0 : 1);
  });

program
  .command('print-schema')
  .description('print the GraphQL schema (SDL)')
  .action(async () => {
    const { printSchemaSdl } = await import('./graphql/index.js');
    process.stdout.write(await printSchemaSdl());
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    say(`portcullis: configuration error: ${error.message}`);
    process.exit(2);
  }
  if (error instanceof UsageError) {
    say(`portcullis: ${error.message}`);
    process.exit(2);
  }
  if (error instanceof PortcullisError) {
    say(`portcullis: ${error.message}`);
    process.exit(1);
  }
  say(`portcullis: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
