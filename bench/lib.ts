/**
 * What the benchmarks share: starting the gateway (or a baseline) as a child
 * process on 127.0.0.1, a fresh database per run, seeding users as the gateway
 * stores them, and writing a section of bench/README.md.
 */
import argon2 from 'argon2';
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export type Provider = 'sqlite' | 'postgresql';
const POSTGRES_ADMIN = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
/** The gateway's bootstrap API key and encryption key, new for each run. */
export const API_KEY = `bench-${randomBytes(16).toString('hex')}`;
export const ENCRYPTION_KEY = randomBytes(32).toString('base64');

// ── Processes ──────────────────────────────────────────────────────────────

/** Starts a child and resolves with the first URL it prints matching `pattern`. */
/** The gateway to start: this checkout's, or with BENCH_GATEWAY_ROOT another checkout's (a before-and-after comparison against this one's baselines). */
export const gatewayScript = () => path.join(process.env.BENCH_GATEWAY_ROOT ?? root, 'bin/portcullis.mjs');

/**
 * The Node flags and environment of bin/portcullis.mjs's first line
 * (`#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-…`), which npm start and
 * deploy/ repeat (test/deploy.test.ts): read from there, so the bench runs
 * the gateway as the command does.
 */
function commandLine(): { flags: string[]; env: Record<string, string> } {
  const words = readFileSync(path.join(root, 'bin/portcullis.mjs'), 'utf8').split('\n', 1)[0].split(/\s+/);
  const env = Object.fromEntries(words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => w.split('=', 2) as [string, string]));
  return { flags: words.filter((w) => w.startsWith('--')), env };
}

/**
 * A gateway runs as every start command runs it (bin/portcullis.mjs's first line, npm start, deploy/): with the same
 * heap limits. BENCH_GATEWAY_NODE_FLAGS replaces them (space-separated; "none": Node's defaults).
 */
export function gatewayNodeFlags(): string[] {
  const flags = process.env.BENCH_GATEWAY_NODE_FLAGS;
  if (flags === undefined) return commandLine().flags;
  return flags === 'none' ? [] : flags.split(/\s+/).filter(Boolean);
}

/** How the gateway was run, for a README section. */
export function gatewayRunAs(): string {
  const flags = gatewayNodeFlags();
  const env = Object.entries(commandLine().env).map(([k, v]) => `\`${k}=${v}\``).join(' and ');
  return flags.length ? `\`node ${flags.join(' ')}\` and ${env}, as the start commands run it` : `Node's default heap settings (BENCH_GATEWAY_NODE_FLAGS=none) and ${env}`;
}

export function startChild(args: string[], env: Record<string, string>, pattern: RegExp): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const gateway = args.some((a) => a.endsWith('bin/portcullis.mjs'));
    const deployed = gateway ? gatewayNodeFlags() : [];
    // BENCH_GATEWAY_PROFILE=<dir>: every gateway started writes a CPU profile there when it stops.
    const profile = gateway && process.env.BENCH_GATEWAY_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_GATEWAY_PROFILE] : [];
    const child = spawn(process.execPath, [...deployed, ...profile, ...args], {
      cwd: root,
      env: { ...process.env, ...(gateway ? commandLine().env : {}), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no address within 60 s:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        // Drained from now on: a full pipe would stall the child's logging.
        child.stdout!.resume();
        child.stderr!.resume();
        resolve({ child, url: m[1] });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${out}`));
    });
  });
}

export async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.removeAllListeners('exit');
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** The gateway's `GraphQL endpoint: <url>` line, printed once it listens. */
export const GATEWAY_LISTENING = /GraphQL endpoint: (\S+)/;

/** Environment for `portcullis start` in production mode on 127.0.0.1 with a random port. */
export function gatewayEnv(o: { databaseUrl: string; dataDir: string }): Record<string, string> {
  return {
    NODE_ENV: 'production',
    // No codes are sent in these runs; production refuses console delivery unless told.
    PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'true',
    DATABASE_URL: o.databaseUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    PORTCULLIS_DATA_DIR: o.dataDir,
    PORTCULLIS_BOOTSTRAP_API_KEY: API_KEY,
    PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY,
  };
}

export async function graphqlCall(url: string, query: string, variables: Record<string, unknown> = {}, apiKey = API_KEY) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query, variables }),
  });
  // `any`: callers read the fields they asked for.
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** Waits until counter() reaches expected, or limitMs. */
export async function settle(counter: () => number, expected: number, limitMs = 30_000) {
  const until = performance.now() + limitMs;
  while (counter() < expected && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
}

/**
 * CPU time (ms) a process has used, in all threads and in its main thread,
 * from /proc (Linux); undefined elsewhere.
 */
export function cpuOf(pid: number): { all: number; main: number } | undefined {
  const ticks = (file: string) => {
    const stat = readFileSync(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  };
  try {
    return { all: ticks(`/proc/${pid}/stat`), main: ticks(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined;
  }
}
/** USER_HZ: Linux reports CPU times in hundredths of a second. */
const CLOCK_TICKS = 100;

export function percentile(sorted: number[], p: number) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ── Databases ──────────────────────────────────────────────────────────────

/**
 * A fresh database and data folder for one run: SQLite in a temporary folder,
 * or a new PostgreSQL database (trust auth on 127.0.0.1), dropped by cleanup().
 */
export async function benchDatabase(provider: Provider): Promise<{ databaseUrl: string; dataDir: string; cleanup: () => Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'portcullis-bench-'));
  const removeDir = async () => rmSync(dataDir, { recursive: true, force: true });
  if (provider === 'sqlite') return { databaseUrl: `file:${path.join(dataDir, 'bench.db')}`, dataDir, cleanup: removeDir };
  const name = `portcullis_bench_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: POSTGRES_ADMIN });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(POSTGRES_ADMIN);
  u.pathname = `/${name}`;
  return {
    databaseUrl: u.toString(),
    dataDir,
    cleanup: async () => {
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await removeDir();
    },
  };
}

// ── TOTP users ─────────────────────────────────────────────────────────────

/** An independent TOTP (RFC 6238) for the load generator. */
export function totp(seed: Buffer, step: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', seed).update(msg).digest();
  const o = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

export const stepNow = () => Math.floor(Date.now() / 30_000);

/**
 * Writes `count` users with a verified TOTP method each, as the gateway stores
 * them (the bench holds the encryption key; enrolment through the API is
 * covered by the tests).
 */
export async function seedTotpUsers(provider: Provider, databaseUrl: string, count: number) {
  const { createDatabase } = await import('../src/kernel/db/client.js');
  const { encryptSecret } = await import('../src/kernel/crypto.js');
  const { newId } = await import('../src/kernel/ids.js');
  const { newAuthMethodId } = await import('../src/modules/auth-methods/kinds.js');
  const database = await createDatabase(provider, databaseUrl);
  try {
    const key = Buffer.from(ENCRYPTION_KEY, 'base64');
    const users = Array.from({ length: count }, (_, i) => {
      const seed = randomBytes(20);
      return { id: newId('User'), seed, email: `bench-totp-${i}@example.com`, methodId: newAuthMethodId('TOTP') };
    });
    await database.client.user.createMany({ data: users.map((u) => ({ id: u.id, email: u.email, emailNormalized: u.email })) });
    await database.client.authMethod.createMany({
      data: users.map((u) => ({
        id: u.methodId,
        userId: u.id,
        kind: 'TOTP' as const,
        slot: `${u.id}:TOTP`,
        verified: true,
        secret: encryptSecret(key, base32Encode(u.seed), u.methodId),
      })),
    });
    return users.map((u) => ({ id: u.id, seed: u.seed }));
  } finally {
    await database.close();
  }
}

/**
 * The code of the current step for users[i], computed once per step: the load
 * generator must not spend its time on HMACs.
 */
export function totpCodes(users: { seed: Buffer }[]): (i: number) => string {
  let cachedStep = -1;
  let codes: string[] = [];
  return (i: number) => {
    const step = stepNow();
    if (step !== cachedStep) {
      codes = users.map((u) => totp(u.seed, step));
      cachedStep = step;
    }
    return codes[i];
  };
}

function base32Encode(buf: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of buf) bits += byte.toString(2).padStart(8, '0');
  return (bits.match(/.{1,5}/g) ?? []).map((b) => alphabet[parseInt(b.padEnd(5, '0'), 2)]).join('');
}

// ── Password users ─────────────────────────────────────────────────────────

/** The gateway's argon2id defaults (OWASP): benchmarks measure the real cost. */
export const ARGON2 = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };
export const BENCH_PASSWORD = 'correct horse battery staple';

/**
 * Writes `count` active users with a password (one argon2id hash at ARGON2,
 * shared: every check still costs a full verification) and a live session
 * each, whose refresh token the bench holds, as the gateway stores them.
 */
export async function seedPasswordUsers(provider: Provider, databaseUrl: string, count: number) {
  const { createDatabase } = await import('../src/kernel/db/client.js');
  const { tokenHash } = await import('../src/kernel/crypto.js');
  const { newId, randomSecret } = await import('../src/kernel/ids.js');
  const { newAuthMethodId, authMethodSlot } = await import('../src/modules/auth-methods/kinds.js');
  const database = await createDatabase(provider, databaseUrl);
  try {
    const hash = await argon2.hash(BENCH_PASSWORD, { type: argon2.argon2id, ...ARGON2 });
    const now = new Date();
    const users = Array.from({ length: count }, (_, i) => ({
      id: newId('User'),
      email: `bench-user-${i}@example.com`,
      sessionId: newId('Session'),
      refreshToken: `pcr_${randomSecret(32)}`,
    }));
    await database.client.user.createMany({ data: users.map((u) => ({ id: u.id, email: u.email, emailNormalized: u.email, displayName: `Bench User ${u.id.slice(-6)}` })) });
    await database.client.authMethod.createMany({
      data: users.map((u) => ({ id: newAuthMethodId('PASSWORD'), userId: u.id, kind: 'PASSWORD' as const, slot: authMethodSlot(u.id, 'PASSWORD'), verified: true, secret: hash })),
    });
    const expiresAt = new Date(now.getTime() + 86_400_000);
    await database.client.session.createMany({ data: users.map((u) => ({ id: u.sessionId, userId: u.id, device: 'bench', createdAt: now, authenticatedAt: now, lastSeenAt: now, expiresAt })) });
    await database.client.refreshToken.createMany({ data: users.map((u) => ({ id: newId('RefreshToken'), sessionId: u.sessionId, tokenHash: tokenHash(u.refreshToken), createdAt: now })) });
    return users;
  } finally {
    await database.close();
  }
}

/**
 * Bare argon2.verify with ARGON2's parameters and `connections` checks in
 * flight, in this process: what a password check costs without the gateway.
 */
export async function bareArgon2(name: string, seconds: number, connections: number): Promise<Row> {
  const hash = await argon2.hash(BENCH_PASSWORD, { type: argon2.argon2id, ...ARGON2 });
  const latencies: number[] = [];
  const before = cpuOf(process.pid);
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        const t0 = performance.now();
        await argon2.verify(hash, BENCH_PASSWORD);
        // Counted like autocannon counts responses: only those done within the time.
        if (Date.now() <= end) latencies.push(performance.now() - t0);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const cpu = cpuPerRequest(before, cpuOf(process.pid), latencies.length);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
  return { name, rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), ok: latencies.length, total: latencies.length, cpu };
}

// ── Report ─────────────────────────────────────────────────────────────────

export function machine(): string {
  return `${cpus()[0]?.model ?? 'cpu'} ×${availableParallelism()}, Node ${process.version}`;
}

/** Replaces (or appends) the section between `<!-- name:start -->` and `<!-- name:end -->` in bench/README.md. */
export function writeReadmeSection(name: string, body: string) {
  const readmePath = path.join(root, 'bench', 'README.md');
  const section = `<!-- ${name}:start -->\n${body}\n<!-- ${name}:end -->`;
  let readme: string;
  try {
    readme = readFileSync(readmePath, 'utf8');
  } catch {
    readme = '# Benchmarks\n\nEach benchmark prints its numbers next to a baseline measured in the same run, so ratios survive a noisy machine.\n';
  }
  const marked = new RegExp(`<!-- ${name}:start -->[\\s\\S]*<!-- ${name}:end -->`);
  // A function, so `$` in the section is not read as a replacement pattern.
  readme = marked.test(readme) ? readme.replace(marked, () => section) : `${readme.trimEnd()}\n\n${section}\n`;
  writeFileSync(readmePath, readme);
}

/** One measured load of one side. */
export interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  total: number;
  /** CPU time per request of the serving process: all its threads, and its main (JavaScript) thread. */
  cpu?: { all: number; main: number };
}

/** CPU per request between two cpuOf readings of the serving process over `requests` requests. */
export function cpuPerRequest(before: ReturnType<typeof cpuOf>, after: ReturnType<typeof cpuOf>, requests: number): Row['cpu'] {
  const n = requests || 1;
  return before && after ? { all: (after.all - before.all) / n, main: (after.main - before.main) / n } : undefined;
}

export const describeRow = (r: Row) => {
  const cpu = r.cpu ? `, CPU ${r.cpu.all.toFixed(2)} ms/req (main thread ${r.cpu.main.toFixed(2)})` : '';
  return `${r.name}: ${r.rps.toFixed(1)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.ok}/${r.total} as expected${cpu}`;
};

/**
 * Warms both sides up unmeasured, then runs them in alternating rounds
 * (A B A B …) so a change in the shared machine's load hits both alike, and
 * merges each side's rounds: req/s over the total time, p50/p99 and CPU as
 * request-weighted means. `before` runs ahead of every load (resetting state
 * both sides change); `log` prints each round.
 */
export async function alternate(
  a: (seconds: number) => Promise<Row>,
  b: (seconds: number) => Promise<Row>,
  o: { durationS: number; rounds: number; warmupS: number; before?: () => Promise<void>; log?: boolean },
): Promise<[Row, Row]> {
  const seconds = o.durationS / o.rounds;
  const runs: [Row[], Row[]] = [[], []];
  if (o.warmupS > 0) {
    for (const run of [a, b]) {
      await o.before?.();
      await run(o.warmupS);
    }
  }
  for (let i = 0; i < o.rounds; i++) {
    for (const [side, run] of [a, b].entries()) {
      await o.before?.();
      const row = await run(seconds);
      if (o.log) console.log(`  round ${i + 1}/${o.rounds} ${describeRow(row)}`);
      runs[side].push(row);
    }
  }
  const merge = (rs: Row[]): Row => {
    const requests = rs.map((r) => r.rps * seconds);
    const all = requests.reduce((x, y) => x + y, 0) || 1;
    const weighted = (f: (r: Row) => number) => Math.round(rs.reduce((acc, r, i) => acc + f(r) * requests[i], 0) / all);
    const cpuWeighted = (f: (c: NonNullable<Row['cpu']>) => number) => rs.reduce((acc, r, i) => acc + f(r.cpu!) * requests[i], 0) / all;
    return {
      name: rs[0].name,
      rps: all / o.durationS,
      p50: weighted((r) => r.p50),
      p99: weighted((r) => r.p99),
      cpu: rs.every((r) => r.cpu) ? { all: cpuWeighted((c) => c.all), main: cpuWeighted((c) => c.main) } : undefined,
      ok: rs.reduce((x, r) => x + r.ok, 0),
      total: rs.reduce((x, r) => x + r.total, 0),
    };
  };
  return [merge(runs[0]), merge(runs[1])];
}

/**
 * autocannon POSTs for `seconds` on one URL, cycling over the probes; each
 * answer is judged against the probe it answers (`answered`: a 200 judged
 * right). The serving process's CPU per request comes with it.
 */
export async function loadProbes<P extends { body: string }>(o: {
  name: string;
  seconds: number;
  url: string;
  headers: Record<string, string>;
  /** The probes to cycle over, or where the next one comes from (a stateful load, e.g. refresh tokens that rotate). */
  probes: P[] | (() => P);
  serverPid: number;
  connections: number;
  answered: (status: number, body: string, probe: P) => boolean;
  /** The Authorization header of each probe's request, when it varies (access tokens of many users). */
  authorization?: (probe: P) => string;
}): Promise<Row> {
  let ok = 0;
  let seen = 0;
  let next = 0;
  const before = cpuOf(o.serverPid);
  const result = await autocannon({
    url: o.url,
    method: 'POST',
    connections: o.connections,
    duration: o.seconds,
    headers: { 'content-type': 'application/json', ...o.headers },
    requests: [
      {
        // The context belongs to the connection, which has one request in flight: it carries the probe to its answer.
        setupRequest: (req, context) => {
          const probe = typeof o.probes === 'function' ? o.probes() : o.probes[next++ % o.probes.length];
          (context as { probe?: P }).probe = probe;
          return o.authorization ? { ...req, body: probe.body, headers: { ...req.headers, authorization: o.authorization(probe) } } : { ...req, body: probe.body };
        },
        onResponse: (status, body, context) => {
          seen++;
          if (o.answered(status, body, (context as { probe: P }).probe)) ok++;
        },
      },
    ],
  });
  const cpu = cpuPerRequest(before, cpuOf(o.serverPid), result.requests.total);
  return { name: o.name, rps: result.requests.total / (result.duration || o.seconds), p50: result.latency.p50, p99: result.latency.p99, ok, total: seen, cpu };
}

/** mulberry32: a small deterministic generator, so every run seeds the same data set. */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Clears every TOTP replay counter, so the next load starts from first uses again. */
export async function resetTotpCounters(provider: Provider, databaseUrl: string) {
  const { createDatabase } = await import('../src/kernel/db/client.js');
  const database = await createDatabase(provider, databaseUrl);
  try {
    await database.client.authMethod.updateMany({ where: { kind: 'TOTP' }, data: { counter: null } });
  } finally {
    await database.close();
  }
}
