/**
 * The real command, as a user runs it: `portcullis start` on a free port,
 * operations over HTTP with the bootstrap key, the management commands, and
 * configuration errors.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, postgresUrl, type TestDatabase } from '../helpers/db.js';
import { BOOTSTRAP_KEY, ENCRYPTION_KEY } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { postGraphql, runCli, runCliAsync, startGateway, type Gateway } from '../helpers/process.js';

// Tests here start the command as new processes, several in a row: on a loaded two-core machine each start takes seconds.
const SPAWNING_TIMEOUT_MS = 120_000;

let db: TestDatabase;
let gateway: Gateway;
let env: Record<string, string>;

beforeAll(async () => {
  db = await freshDatabase();
  env = {
    DATABASE_URL: db.url,
    PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-cli-')),
    PORTCULLIS_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY,
    PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY,
    HOST: '127.0.0.1',
  };
  gateway = await startGateway(env);
});

afterAll(async () => {
  await gateway?.stop();
  await db?.drop();
});

describe('portcullis start', () => {
  it('creates, locks and reads a user over HTTP with the bootstrap key', async () => {
    const created = await postGraphql(gateway.url, 'mutation($e: String) { createUser(input: { email: $e }) { ... on CreateUserSuccess { user { id } } } }', { e: 'e2e@example.com' }, BOOTSTRAP_KEY);
    const id = created.body.data.createUser.user.id as string;
    expect(id).toMatch(/^usr_/);
    const locked = await postGraphql(gateway.url, 'mutation($id: ID!) { lockUser(input: { userId: $id }) { __typename ... on LockUserSuccess { user { state } } } }', { id }, BOOTSTRAP_KEY);
    expect(locked.body.data.lockUser).toEqual({ __typename: 'LockUserSuccess', user: { state: 'LOCKED' } });
    const read = await postGraphql(gateway.url, 'query($id: ID!) { user(id: $id) { email state } }', { id }, BOOTSTRAP_KEY);
    expect(read.body.data.user).toEqual({ email: 'e2e@example.com', state: 'LOCKED' });
    expect(read.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers UNAUTHENTICATED without a key, and with a wrong one', async () => {
    for (const token of [undefined, 'wrong-key-wrong-key-wrong-key']) {
      const res = await postGraphql(gateway.url, '{ users(first: 1) { totalCount } }', {}, token);
      expect(res.status).toBe(401);
      expect(res.body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.body.data ?? null).toBeNull();
    }
  });

  it('allows anonymous introspection in development', async () => {
    const res = await postGraphql(gateway.url, '{ __schema { queryType { name } } }');
    expect(res.body.data.__schema.queryType.name).toBe('Query');
  });

  it('serves GraphiQL from the package, not from a CDN, and the health probes', async () => {
    const page = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('<title>Portcullis</title>');
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|cdn\./);
    expect(await (await fetch(`${gateway.origin}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${gateway.origin}/readyz`)).json()).toMatchObject({ status: 'ready' });
  });

  // A gateway start-up and a drain: generous for a loaded 2-core machine.
  it('on SIGTERM finishes a request in flight, then exits with code 0', { timeout: 120_000 }, async () => {
    // At debug level the gateway logs each request as it arrives, before its body.
    // The test plays a trusted proxy, so the gateway takes its request id and the log can be matched on it.
    const second = await startGateway({ ...env, LOG_LEVEL: 'debug', PORTCULLIS_TRUST_PROXY: 'true' });
    const body = JSON.stringify({ query: '{ users(first: 1) { totalCount } }' });
    const { origin } = new URL(second.url);
    const requestId = 'sigterm-in-flight-0001';
    // A request whose body is still arriving when the signal comes.
    let sent!: () => void;
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${BOOTSTRAP_KEY}`, 'x-request-id': requestId };
      const req = http.request(second.url, { method: 'POST', headers }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      sent = () => req.end(body.slice(10));
    });
    // The signal must find the request in flight, not still on its way: wait until the gateway says it has it.
    await second.waitForOutput(new RegExp(`"requestId":"${requestId}"[^\\n]*"msg":"request received"`));
    const exited = second.stop('SIGTERM');
    // Once the signal is handled, new connections are refused or told "draining" while the old one finishes.
    let probe: number | string = 200;
    for (let i = 0; i < 100 && probe === 200; i++) {
      probe = await fetch(`${origin}/healthz`, { headers: { connection: 'close' } }).then((r) => r.status, () => 'refused');
      if (probe === 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect([503, 'refused']).toContain(probe);
    sent();
    const done = await response;
    expect(done.status).toBe(200);
    expect(JSON.parse(done.text).data.users.totalCount).toBeGreaterThanOrEqual(0);
    expect(await exited).toBe(0);
    expect(second.stdout()).toContain('portcullis stopped');
  });
});

describe('a process that always ends', { timeout: SPAWNING_TIMEOUT_MS }, () => {
  it('stops on SIGTERM after the reader of its output went away', async () => {
    const own = await startGateway({ ...env, PORTCULLIS_SHUTDOWN_TIMEOUT_MS: '2000' });
    // The log collector dies: both pipes close; every later write fails with EPIPE.
    own.child.stdout!.destroy();
    own.child.stderr!.destroy();
    const started = Date.now();
    const code = await own.stop('SIGTERM');
    expect(code).toBe(0);
    // Within the shutdown timeout, with room for a loaded machine.
    expect(Date.now() - started).toBeLessThan(2_000 + 5_000);
  });

  it('ends at once on a second signal while the first waits for a request', async () => {
    const own = await startGateway({ ...env, PORTCULLIS_SHUTDOWN_TIMEOUT_MS: '60000' });
    const body = JSON.stringify({ query: '{ users(first: 1) { totalCount } }' });
    // A request whose body never finishes arriving holds the first shutdown for its full minute.
    const req = http.request(own.url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
    req.on('error', () => {});
    await new Promise<void>((resolve) => req.write(body.slice(0, 10), () => resolve()));
    const exited = new Promise<number | null>((resolve) => own.child.once('exit', (code) => resolve(code)));
    own.child.kill('SIGTERM');
    // The first signal is handled once new connections hear "draining" (or are refused).
    let probe: number | string = 200;
    for (let i = 0; i < 200 && probe === 200; i++) {
      probe = await fetch(`${own.origin}/healthz`, { headers: { connection: 'close' } }).then((r) => r.status, () => 'refused');
      if (probe === 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(own.child.exitCode).toBeNull();
    const second = Date.now();
    own.child.kill('SIGTERM');
    expect(await exited).toBe(1);
    expect(Date.now() - second).toBeLessThan(5_000);
    req.destroy();
  });
});

describe('first start without a bootstrap key', { timeout: SPAWNING_TIMEOUT_MS }, () => {
  it('prints an API key once, which then works, and the next start does not print another', async () => {
    const own = await freshDatabase();
    const ownEnv = { DATABASE_URL: own.url, PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-first-')), PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY };
    try {
      const first = await startGateway(ownEnv);
      const key = /pck_[A-Za-z0-9_-]+/.exec(first.stderr())?.[0];
      expect(key).toBeDefined();
      expect(first.stdout()).not.toContain(key!);
      const res = await postGraphql(first.url, '{ users(first: 1) { totalCount } }', {}, key);
      expect(res.body.data.users.totalCount).toBe(0);
      await first.stop();
      const again = await startGateway(ownEnv);
      expect(again.stderr()).not.toMatch(/pck_/);
      expect(again.stderr()).toContain('API keys exist already');
      await again.stop();
    } finally {
      await own.drop();
    }
  });
});

describe('management commands', { timeout: SPAWNING_TIMEOUT_MS }, () => {
  it('creates, lists and revokes API keys; a revoked key stops working', async () => {
    const created = runCli(['api-key', 'create', '--name', 'billing backend'], env);
    expect(created.status).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^pck_[A-Za-z0-9_-]{43}$/);
    const id = /(key_[0-9a-z]+)/.exec(created.stderr)![1];
    const ok = await postGraphql(gateway.url, '{ users(first: 1) { totalCount } }', {}, key);
    expect(ok.status).toBe(200);
    const listed = runCli(['api-key', 'list'], env);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('billing backend');
    expect(listed.stdout).not.toContain(key);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\tbilling backend\\tactive\\tcreated [^\\t]+\\tlast used 20`));
    expect(runCli(['api-key', 'revoke', id], env).status).toBe(0);
    const refused = await postGraphql(gateway.url, '{ users(first: 1) { totalCount } }', {}, key);
    expect(refused.body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const again = runCli(['api-key', 'revoke', id], env);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('No active API key');
  });

  it('creates a key with the scopes and expiry named, through the same operation as createApiKey (its event and its refusals)', async () => {
    const created = runCli(['api-key', 'create', '--name', 'directory', '--scope', 'users:read', '--scope', 'events:read', '--expires-at', '2099-01-31'], env);
    expect(created.status).toBe(0);
    expect(created.stderr).toContain('with scopes users:read events:read, expiring 2099-01-31T00:00:00.000Z');
    const key = created.stdout.trim();
    const id = /(key_[0-9a-z]+)/.exec(created.stderr)![1];
    expect((await postGraphql(gateway.url, '{ users(first: 1) { totalCount } }', {}, key)).status).toBe(200);
    const refused = await postGraphql(gateway.url, '{ webhookApps(first: 1) { edges { node { id } } } }', {}, key);
    expect(refused.body.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'MISSING_SCOPE', scope: 'webhooks:manage' });
    expect(runCli(['api-key', 'list'], env).stdout).toMatch(new RegExp(`${id}\\tdirectory\\tactive\\t.*\\tscopes users:read events:read\\texpires 2099-01-31T00:00:00.000Z`));
    const events = await postGraphql(gateway.url, '{ events(first: 100, types: [API_KEY_CREATED]) { edges { node { actor { type } data } } } }', {}, BOOTSTRAP_KEY);
    expect(events.body.data.events.edges.map((e: { node: unknown }) => e.node)).toContainEqual({
      actor: { type: 'cli' },
      data: { apiKey: { id, name: 'directory', scopes: ['users:read', 'events:read'], expiresAt: '2099-01-31T00:00:00.000Z' } },
    });
    const typo = runCli(['api-key', 'create', '--name', 'typo', '--scope', 'user:read'], env);
    expect(typo.status).toBe(1);
    expect(typo.stderr).toContain('Unknown scope "user:read"');
  });

  it('migrate is idempotent', () => {
    const r = runCli(['migrate'], env);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/up to date: \d+ migrations applied/);
  });

  it('print-schema prints the committed schema.graphql', () => {
    const r = runCli(['print-schema'], {});
    expect(r.stdout).toBe(readFileSync(path.resolve(import.meta.dirname, '..', '..', 'schema.graphql'), 'utf8'));
  });

  // Nine processes at once: quick from the compiled bundle, but a loaded 2-core machine gets generous time.
  it('has --help for every command', { timeout: 120_000 }, async () => {
    const commands = [[], ['start'], ['migrate'], ['api-key'], ['api-key', 'create'], ['api-key', 'list'], ['api-key', 'revoke'], ['doctor'], ['print-schema']];
    const helps = await Promise.all(commands.map((command) => runCliAsync([...command, '--help'], {})));
    helps.forEach((r, i) => {
      const name = ['portcullis', ...commands[i]].join(' ');
      expect(r.status, name).toBe(0);
      expect(r.stdout, name).toContain(`Usage: ${name} `);
    });
    // Every command the CLI lists is checked above: a new one fails here until it is added.
    const listed = (help: string) => [...(help.split('Commands:\n')[1] ?? '').split('\n\n')[0].matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(listed(helps[0].stdout)).toEqual(['start', 'migrate', 'api-key', 'doctor', 'print-schema']);
    expect(listed(helps[3].stdout)).toEqual(['create', 'list', 'revoke']);
    expect(helps[0].stdout).toContain('DATABASE_URL');
  });
});

describe('failures said in one line', { timeout: SPAWNING_TIMEOUT_MS }, () => {
  it('refuses a port in use with exit code 2 and one line, no stack', async () => {
    const port = new URL(gateway.url).port;
    const r = await runCliAsync(['start', '--port', port], { ...env, PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-busy-')) });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe(`portcullis: cannot listen on 127.0.0.1:${port}: the port is in use (choose another with PORT or --port)`);
    expect(r.stderr).not.toMatch(/\bat \S+:\d+|Internal error/);
  });

  it('refuses a management command where there is no database, naming where it looked, and creates none', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'portcullis-empty-'));
    for (const args of [['api-key', 'list'], ['api-key', 'create', '--name', 'x'], ['api-key', 'revoke', 'key_x']]) {
      const r = runCli(args, { PORTCULLIS_DATA_DIR: empty });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim()).toBe(`portcullis: no database at ${path.join(empty, 'portcullis.db')} (from PORTCULLIS_DATA_DIR=${empty}); start the gateway there first, or point DATABASE_URL or PORTCULLIS_DATA_DIR at its data`);
    }
    expect(readdirSync(empty)).toEqual([]);
  });

  it('says why a management command cannot read its database: no tables, no such database, no server; never the password', async () => {
    const unmigrated = mkdtempSync(path.join(tmpdir(), 'portcullis-unmigrated-'));
    writeFileSync(path.join(unmigrated, 'portcullis.db'), '');
    const noTables = runCli(['api-key', 'list'], { PORTCULLIS_DATA_DIR: unmigrated });
    expect(noTables.status).toBe(2);
    expect(noTables.stderr.trim()).toBe(`portcullis: SQLite at ${path.join(unmigrated, 'portcullis.db')} has no Portcullis tables; run portcullis migrate first`);
    const pgEnv = { PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY };
    const missing = `portcullis_missing_${process.pid}`;
    const noDatabase = runCli(['api-key', 'list'], { ...pgEnv, DATABASE_URL: postgresUrl(missing) });
    expect(noDatabase.status).toBe(2);
    expect(noDatabase.stderr.trim()).toBe(`portcullis: PostgreSQL at ${new URL(postgresUrl(missing)).host}/${missing} does not exist: create it and run portcullis migrate, or correct DATABASE_URL`);
    // A port nothing listens on: the one a probe just closed.
    const port = await freePort();
    const noServer = runCli(['api-key', 'list'], { ...pgEnv, DATABASE_URL: `postgresql://portcullis:s3cret-pw@127.0.0.1:${port}/portcullis` });
    expect(noServer.status).toBe(2);
    expect(noServer.stderr.trim()).toBe(`portcullis: PostgreSQL at 127.0.0.1:${port}/portcullis does not answer: is the server running, and is DATABASE_URL right?`);
    expect(noServer.stderr).not.toContain('s3cret-pw');
  });

  it('prints the passkey demo address by the name WebAuthn accepts', async () => {
    const demo = await startGateway({ ...env, PORTCULLIS_PASSKEY_DEMO: 'true' });
    try {
      expect(demo.stderr()).toContain(`Passkey demo: http://localhost:${new URL(demo.url).port}/passkeys`);
      expect((await fetch(`${demo.origin}/passkeys`)).status).toBe(200);
    } finally {
      await demo.stop();
    }
  });
});

describe('configuration errors', { timeout: SPAWNING_TIMEOUT_MS }, () => {
  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://localhost/x' }, 'DATABASE_URL'],
    [{ PORTCULLIS_ENCRYPTION_KEY: 'short' }, 'PORTCULLIS_ENCRYPTION_KEY'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ PORTCULLIS_GRAPHIQL: 'maybe' }, 'PORTCULLIS_GRAPHIQL'],
    [{ DATABASE_URL: 'postgresql://127.0.0.1/x' }, 'PORTCULLIS_ENCRYPTION_KEY'],
    // Console delivery in production would put reset and verification codes in the log.
    [{ NODE_ENV: 'production' }, 'PORTCULLIS_EMAIL_DELIVERY'],
    [{ NODE_ENV: 'production', PORTCULLIS_EMAIL_DELIVERY: 'http' }, 'PORTCULLIS_SMS_DELIVERY'],
  ])('stops with exit code 2 and one line naming the variable: %o', (bad, variable) => {
    const r = runCli(['start'], { PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-bad-')), ...bad });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^portcullis: configuration error: ${variable}: `));
    expect(r.stderr).not.toMatch(/\bat \S+:\d+/);
  });

  it('starts in production with console delivery when PORTCULLIS_ALLOW_CONSOLE_DELIVERY=true, and warns per channel', async () => {
    const prod = await startGateway({ ...env, NODE_ENV: 'production', PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'true' });
    try {
      const res = await postGraphql(prod.url, '{ users(first: 1) { totalCount } }', {}, BOOTSTRAP_KEY);
      expect(res.body.data.users.totalCount).toBeGreaterThanOrEqual(0);
      const warnings = prod.stdout().split('\n').filter((l) => l.includes('console delivery'));
      expect(warnings.map((l) => JSON.parse(l).channel).sort()).toEqual(['email', 'sms']);
    } finally {
      await prod.stop();
    }
  });
});
