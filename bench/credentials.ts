/**
 * `npm run bench -- credentials`: verifyPassword and verifyTotp over HTTP
 * with autocannon, on SQLite and then PostgreSQL, each against a baseline
 * measured in the same run on the same machine:
 *
 * - verifyPassword ÷ bare `argon2.verify` with the same parameters and the
 *   same concurrency (the gateway should add almost nothing to the hash);
 * - verifyTotp ÷ a bare node:http handler doing the same database read, the
 *   same TOTP check and the same conditional replay update.
 *
 * Everything listens on 127.0.0.1 with a random port, each load runs for a
 * few seconds, and the whole run takes about two and a half minutes. The table is
 * printed and written into bench/README.md between the credentials markers.
 *
 * verifyTotp load: TOTP_USERS users, enrolled by writing their rows directly
 * (the bench holds the encryption key; enrolment through the API is covered by
 * the tests), each request for the next user with the code of the current
 * step, so nearly every request is a first use that succeeds. Replay counters
 * are cleared before each load so the gateway and the bare handler see the
 * same mix. A request that lands on a user already used in this step is
 * refused as a replay (CodeAlreadyUsedError) after the same work; both
 * outcomes count as "checked".
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import autocannon from 'autocannon';
import {
  alternate,
  API_KEY,
  ARGON2,
  bareArgon2,
  benchDatabase,
  cpuOf,
  cpuPerRequest,
  ENCRYPTION_KEY,
  GATEWAY_LISTENING,
  gatewayEnv,
  graphqlCall,
  machine,
  seedTotpUsers,
  startChild,
  stopChild,
  totpCodes,
  writeReadmeSection,
  type Provider,
  type Row,
  resetTotpCounters,
  gatewayScript,
} from './lib.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 12);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
/** Each load's time is split into this many rounds, alternating with its baseline. */
const ROUNDS = 3;
/**
 * Unmeasured load before each comparison, on both sides: a freshly started
 * process compiles its hot code (V8's optimising compiler runs on other
 * threads, taking CPU from argon2) during its first seconds.
 */
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 2);
const TOTP_USERS = 3000;

// ── Load ───────────────────────────────────────────────────────────────────

async function load(
  name: string,
  seconds: number,
  url: string,
  headers: Record<string, string>,
  nextBody: () => string,
  isOk: (body: string) => boolean,
  serverPid?: number,
): Promise<Row> {
  let ok = 0;
  let seen = 0;
  const before = serverPid ? cpuOf(serverPid) : undefined;
  const result = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...headers },
    requests: [
      {
        setupRequest: (req) => ({ ...req, body: nextBody() }),
        onResponse: (status, body) => {
          seen++;
          if (status === 200 && isOk(body)) ok++;
        },
      },
    ],
  });
  const after = serverPid ? cpuOf(serverPid) : undefined;
  const cpu = cpuPerRequest(before, after, result.requests.total);
  return { name, rps: result.requests.total / (result.duration || seconds), p50: result.latency.p50, p99: result.latency.p99, ok, total: seen, cpu };
}

// ── The bare node:http TOTP handler (run as a child: `credentials.ts baseline <provider> <url> <key>`) ──

async function baselineServer(provider: Provider, databaseUrl: string, keyBase64: string) {
  const { createDatabase } = await import('../src/kernel/db/client.js');
  const { decryptSecret } = await import('../src/kernel/crypto.js');
  const { matchTotpStep } = await import('../src/modules/totp/service.js');
  // The same statements as the gateway, on the same driver path (src/kernel/db/direct.ts).
  const database = await createDatabase(provider, databaseUrl);
  const { direct } = database;
  const key = Buffer.from(keyBase64, 'base64');
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      try {
        const { userId, code } = JSON.parse(raw) as { userId: string; code: string };
        const [method] = await direct.all<{ id: string; secret: string | null }>(
          `SELECT "id", "secret" FROM "AuthMethod" WHERE "userId" = ? AND "kind" = 'TOTP' AND "verified"`,
          [userId],
        );
        let outcome = 'no_totp';
        if (method?.secret) {
          const step = matchTotpStep(decryptSecret(key, method.secret, method.id), code, new Date(), 1);
          if (step === null) outcome = 'incorrect';
          else {
            const now = new Date();
            const count = await direct.run(
              'UPDATE "AuthMethod" SET "counter" = ?, "lastUsedAt" = ?, "updatedAt" = ? WHERE "id" = ? AND ("counter" IS NULL OR "counter" < ?)',
              [step, now, now, method.id, step],
            );
            outcome = count === 1 ? 'ok' : 'replay';
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ outcome }));
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address() as { port: number };
    console.log(`baseline listening on http://127.0.0.1:${address.port}/`);
  });
  process.on('SIGTERM', () => server.close(() => database.close().then(() => process.exit(0))));
}

// ── One provider ───────────────────────────────────────────────────────────

async function benchProvider(provider: Provider): Promise<Row[]> {
  const { databaseUrl, dataDir, cleanup } = await benchDatabase(provider);
  const rows: Row[] = [];
  const env = {
    ...gatewayEnv({ databaseUrl, dataDir }),
    LOG_LEVEL: 'warn',
    PORTCULLIS_ARGON2_MEMORY_KIB: String(ARGON2.memoryCost),
    PORTCULLIS_ARGON2_ITERATIONS: String(ARGON2.timeCost),
    PORTCULLIS_ARGON2_PARALLELISM: String(ARGON2.parallelism),
    PORTCULLIS_LOCKOUT_CODE_ATTEMPTS: '1000',
  };
  const gateway = await startChild([gatewayScript(), 'start'], env, GATEWAY_LISTENING);
  let baseline: { child: ChildProcess; url: string } | undefined;
  try {
    const url = gateway.url;
    const created = await graphqlCall(url, 'mutation($i: CreateUserInput!) { createUser(input: $i) { __typename ... on CreateUserSuccess { user { id } } } }', {
      i: { email: 'bench-password@example.com', password: 'correct horse battery staple' },
    });
    const passwordUserId = (created.createUser.user as { id: string }).id;
    const users = await seedTotpUsers(provider, databaseUrl, TOTP_USERS);
    // The bare handler idles (no CPU) while the gateway is loaded, and the other way round.
    baseline = await startChild(['--import', 'tsx', 'bench/credentials.ts', 'baseline', provider, databaseUrl, ENCRYPTION_KEY], {}, /baseline listening on (\S+)/);
    const baselineUrl = baseline.url;
    const headers = { authorization: `Bearer ${API_KEY}` };

    const verifyPasswordBody = JSON.stringify({
      query: 'mutation($i: VerifyPasswordInput!) { verifyPassword(input: $i) { __typename } }',
      variables: { i: { userId: passwordUserId, password: 'correct horse battery staple' } },
    });
    rows.push(
      ...(await alternate(
        (sec) => bareArgon2(`${provider}: bare argon2.verify`, sec, CONNECTIONS),
        (sec) => load(`${provider}: verifyPassword`, sec, url, headers, () => verifyPasswordBody, (b) => b.includes('VerifyPasswordSuccess'), gateway.child.pid),
        { durationS: DURATION_S, rounds: ROUNDS, warmupS: WARMUP_S },
      )),
    );

    const codeFor = totpCodes(users);
    let next = 0;
    const nextUser = () => {
      const i = next++ % users.length;
      return { userId: users[i].id, code: codeFor(i) };
    };
    const [gatewayTotp, bareTotp] = await alternate(
      (sec) =>
        load(
          `${provider}: verifyTotp`,
          sec,
          url,
          headers,
          () => JSON.stringify({ query: 'mutation($i: VerifyTotpInput!) { verifyTotp(input: $i) { __typename } }', variables: { i: nextUser() } }),
          // Success or replay refusal: both mean the code was checked in full.
          (b) => b.includes('VerifyTotpSuccess') || b.includes('CodeAlreadyUsedError'),
          gateway.child.pid,
        ),
      (sec) =>
        load(`${provider}: bare node:http TOTP`, sec, baselineUrl, {}, () => JSON.stringify(nextUser()), (b) => b.includes('"ok"') || b.includes('"replay"'), baseline!.child.pid),
      // Each round starts from first uses again.
      { durationS: DURATION_S, rounds: ROUNDS, warmupS: WARMUP_S, before: () => resetTotpCounters(provider, databaseUrl) },
    );
    rows.push(gatewayTotp, bareTotp);
  } finally {
    await stopChild(gateway.child);
    if (baseline) await stopChild(baseline.child);
    await cleanup();
  }
  return rows;
}


// ── Report ─────────────────────────────────────────────────────────────────

function table(rows: Row[], ratios: string[]): string {
  const cpu = (r: Row) => (r.cpu ? `${r.cpu.all.toFixed(1)} (${r.cpu.main.toFixed(2)})` : '–');
  const fmt = (r: Row) => `| ${r.name} | ${r.rps.toFixed(1)} | ${r.p50} | ${r.p99} | ${r.total ? ((100 * r.ok) / r.total).toFixed(1) : '–'}% | ${cpu(r)} |`;
  return [
    '| what | req/s | p50 ms | p99 ms | answered as expected | CPU ms/req (main thread) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(fmt),
    '',
    ...ratios.map((r) => `- ${r}`),
  ].join('\n');
}

async function main() {
  const started = Date.now();
  console.log(`credentials bench: ${DURATION_S} s per load, ${CONNECTIONS} connections, argon2id m=${ARGON2.memoryCost} t=${ARGON2.timeCost} p=${ARGON2.parallelism}`);
  const rows: Row[] = [];
  const ratios: string[] = [];
  for (const provider of ['sqlite', 'postgresql'] as const) {
    const r = await benchProvider(provider);
    for (const row of r) {
      const cpu = row.cpu ? `, CPU ${row.cpu.all.toFixed(1)} ms/req (main thread ${row.cpu.main.toFixed(2)})` : '';
      console.log(`${row.name}: ${row.rps.toFixed(1)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, ${row.ok}/${row.total} as expected${cpu}`);
    }
    rows.push(...r);
    const [argonRow, pw, totpRow, bare] = r;
    ratios.push(`${provider}: verifyPassword ÷ bare argon2.verify = ${(pw.rps / argonRow.rps).toFixed(2)} (target ≥ 0.85)`);
    ratios.push(`${provider}: verifyTotp ÷ bare node:http TOTP handler = ${(totpRow.rps / bare.rps).toFixed(2)}`);
  }
    const text = table(rows, ratios);
  console.log(`\n${text}\n\n(${((Date.now() - started) / 1000).toFixed(0)} s in all)`);

  const section = [
    '## credentials',
    '',
    '`npm run bench -- credentials` (bench/credentials.ts). The gateway runs as a child process on 127.0.0.1 with a random port,',
    `on SQLite and then PostgreSQL; autocannon drives each operation for ${DURATION_S} s with ${CONNECTIONS} connections, in ${ROUNDS} rounds`,
    'alternating with its baseline (so a change in the shared machine\'s load hits both): bare `argon2.verify` with the same',
    'parameters (argon2id, OWASP defaults) and concurrency, and a bare node:http handler doing the same database read, TOTP check',
    'and conditional replay update as the gateway, with the same prepared statements on the same driver (src/kernel/db/direct.ts;',
    'the gateway also reserves an attempt and records an event). verifyTotp cycles through 3000 enrolled users with the',
    "current step's code, replay counters cleared before each round: nearly every request is a first use and succeeds; a",
    'repeat within a step is refused as a replay (same work). "answered as expected" counts both. p50/p99 are',
    'request-weighted means over the rounds.',
    `Measured on ${machine()}, ${new Date().toISOString().slice(0, 10)}:`,
    '',
    text,
    '',
    `Both sides are first loaded for ${WARMUP_S} s unmeasured: a fresh gateway compiles its hot code during its first seconds`,
    "(on V8's background threads), which takes CPU from argon2. The last column is the serving process's CPU time per",
    'request in all its threads (argon2 on the thread pool, V8, the main thread) and, in brackets, on its main thread',
    '(HTTP, GraphQL, the database driver, the event relay), read from /proc. With every core busy hashing, the main',
    "thread's time is what the gateway takes from argon2. A password check runs two statements, prepared once and sent",
    'straight to the driver (src/kernel/db/direct.ts): the reservation of an attempt, which also reads the hash, and the reset of',
    'the counter committed together with the user.password_verified event; the relay then reads the new event once. A TOTP',
    'check reads the methods, reserves an attempt, and takes the step (if no later one was) with its event and the reset',
    'in one transaction. The bare handler does the read and the conditional update only.',
  ].join('\n');
  writeReadmeSection('credentials', section);
}

if (process.argv[2] === 'baseline') {
  await baselineServer(process.argv[3] as Provider, process.argv[4], process.argv[5]);
} else {
  await main();
}
