/**
 * `npm run bench -- user-stats`: userStats over HTTP with autocannon at a
 * million users, on SQLite and then PostgreSQL, each against a bare
 * node:http handler measured in the same run, the way organizations.ts
 * measures `can`:
 *
 * 1. `userStats` over the last 30 days (the default range) ÷ a bare handler
 *    that parses the same JSON body, runs the same three statements as
 *    src/modules/statistics/store.ts (imported from it, prepared once on the
 *    same driver) and answers the same JSON. Target: p50 under 50 ms.
 * 2. The same over 366 days (the longest range).
 *
 * Then, one request at a time, each case's latency without load, and a page
 * of `users(filter: { lastActiveAt }, orderBy: LAST_ACTIVE_AT)` with and
 * without its totalCount.
 *
 * The data set is written straight to the database in one transaction with
 * bulk inserts, from a fixed pseudo-random seed, so the bench knows every
 * answer: 1,000,000 users created evenly over three years up to today, and
 * 90 days of activity up to today from three groups of older users (10,000
 * active on 85% of days, 40,000 on two days a week, 150,000 on two days a
 * month): about 30,000 active users a day and 2.7 million active-day rows,
 * with the tallies the gateway would have kept (spread over its slots) and
 * each active user's lastActiveAt. The expected figures are counted from
 * the active-day rows, not from the tallies, so they check the gateway's
 * window arithmetic too.
 *
 * Everything listens on 127.0.0.1 with a random port and every load is
 * bounded in time. Settings (environment): BENCH_DURATION_S (12: seconds per
 * side and case, split into BENCH_ROUNDS (3) alternating rounds),
 * BENCH_WARMUP_S (2), BENCH_CONNECTIONS (8), BENCH_PROVIDERS
 * (sqlite,postgresql), BENCH_SCALE (1: a fraction of the data set, for a
 * quick trial run), BENCH_SEQUENTIAL (100: requests one at a time per case).
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import pg from 'pg';
import { ACTIVITY_BY_DAY_SQL, GAP_NONE, TALLY_SLOTS, TOTAL_USERS_SQL, USERS_BY_DAY_SQL, type ActivityDayRow, type UsersDayRow } from '../src/modules/statistics/store.js';
import { alternate, API_KEY, gatewayScript, benchDatabase, describeRow, GATEWAY_LISTENING, loadProbes, gatewayEnv, machine, percentile, prng, startChild, stopChild, writeReadmeSection, type Provider, type Row } from './lib.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 12);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 2);
const PROVIDERS = (process.env.BENCH_PROVIDERS ?? 'sqlite,postgresql').split(',') as Provider[];
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 100);

const DAY_MS = 86_400_000;
const USERS = Math.round(1_000_000 * SCALE);
/** Users are created evenly over this many days up to today. */
const HISTORY_DAYS = 3 * 365;
/** Days of activity up to today. */
const ACTIVITY_DAYS = 90;
const COHORTS = [
  { name: 'daily', users: Math.round(10_000 * SCALE), p: 0.85 },
  { name: 'weekly', users: Math.round(40_000 * SCALE), p: 2 / 7 },
  { name: 'monthly', users: Math.round(150_000 * SCALE), p: 2 / 30 },
];
/** Ranges cycled through per case, ending 0..RANGE_VARIANTS-1 days before tomorrow. */
const RANGE_VARIANTS = 10;

const STATS_QUERY =
  'query($from: Date, $to: Date) { userStats(from: $from, to: $to) { ... on UserStats { total created active { daily weekly monthly } byDay { date created active } } } }';
const PAGE_QUERY = 'query($since: DateTime!) { users(first: 50, filter: { lastActiveAt: { from: $since } }, orderBy: { field: LAST_ACTIVE_AT, direction: DESC }) { edges { node { id } } } }';
const COUNTED_PAGE_QUERY =
  'query($since: DateTime!) { users(first: 50, filter: { lastActiveAt: { from: $since } }, orderBy: { field: LAST_ACTIVE_AT, direction: DESC }) { totalCount edges { node { id } } } }';

// ── The data set ───────────────────────────────────────────────────────────

interface Seed {
  today: number;
  /** Sorted, so rows written in user order are written in key order. */
  ids: string[];
  createdDay: Int32Array;
  /** The user's last active day, or -1. */
  lastDay: Int32Array;
  /** Active-day rows: user index, day, gap; in (user, day) order. */
  rows: { user: Int32Array; day: Int32Array; gap: Int8Array; length: number };
  /** day - (today - ACTIVITY_DAYS + 1) → gap → users */
  tally: Int32Array[];
  createdOn: Map<number, number>;
}

async function makeSeed(): Promise<Seed> {
  const { newId } = await import('../src/kernel/ids.js');
  const random = prng(20261201);
  const today = Math.floor(Date.now() / DAY_MS);
  const firstActive = today - ACTIVITY_DAYS + 1;
  const ids = Array.from({ length: USERS }, () => newId('User')).sort();
  const createdDay = new Int32Array(USERS);
  const createdOn = new Map<number, number>();
  for (let i = 0; i < USERS; i++) {
    const day = today - HISTORY_DAYS + 1 + Math.floor((i * HISTORY_DAYS) / USERS);
    createdDay[i] = day;
    createdOn.set(day, (createdOn.get(day) ?? 0) + 1);
  }
  // Only users created before the activity window are active in it.
  let old = 0;
  while (old < USERS && createdDay[old] < firstActive) old++;
  const shares = COHORTS.map((c) => c.users / old);
  const cohortOf = new Int8Array(USERS).fill(-1);
  for (let i = 0; i < old; i++) {
    let r = random();
    for (const [k, share] of shares.entries()) {
      if (r < share) {
        cohortOf[i] = k;
        break;
      }
      r -= share;
    }
  }
  const capacity = Math.ceil(COHORTS.reduce((n, c) => n + c.users * c.p * ACTIVITY_DAYS, 0) * 1.1) + 1000;
  const rows = { user: new Int32Array(capacity), day: new Int32Array(capacity), gap: new Int8Array(capacity), length: 0 };
  const tally = Array.from({ length: ACTIVITY_DAYS }, () => new Int32Array(GAP_NONE + 1));
  const lastDay = new Int32Array(USERS).fill(-1);
  for (let i = 0; i < USERS; i++) {
    const cohort = cohortOf[i];
    if (cohort < 0) continue;
    let prev = -1;
    for (let day = firstActive; day <= today; day++) {
      if (random() >= COHORTS[cohort].p) continue;
      const gap = prev < 0 ? GAP_NONE : Math.min(day - prev, GAP_NONE);
      if (rows.length === capacity) throw new Error('activity rows beyond the estimate');
      rows.user[rows.length] = i;
      rows.day[rows.length] = day;
      rows.gap[rows.length] = gap;
      rows.length++;
      tally[day - firstActive][gap]++;
      prev = day;
    }
    lastDay[i] = prev;
  }
  return { today, ids, createdDay, lastDay, rows, tally, createdOn };
}

/** When a user first became active on its last active day (any instant of that day: the list orders by it). */
const lastActiveAt = (seed: Seed, i: number) => (seed.lastDay[i] < 0 ? null : new Date(seed.lastDay[i] * DAY_MS + 6 * 3_600_000 + (i % 43_200) * 1000));
const dateOf = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);

/** The tables as the gateway keeps them, counts spread over the tally slots as its round-robin does. */
function tables(seed: Seed) {
  const firstActive = seed.today - ACTIVITY_DAYS + 1;
  const spread = (n: number) => Array.from({ length: TALLY_SLOTS }, (_, s) => Math.floor(n / TALLY_SLOTS) + (s < n % TALLY_SLOTS ? 1 : 0));
  const activityTally: number[][] = [];
  for (const [d, gaps] of seed.tally.entries()) {
    for (const [gap, n] of gaps.entries()) if (n) for (const [slot, users] of spread(n).entries()) if (users) activityTally.push([firstActive + d, gap, slot, users]);
  }
  const userTally: number[][] = [];
  for (const [day, n] of seed.createdOn) for (const [slot, created] of spread(n).entries()) if (created) userTally.push([day, slot, created, 0]);
  return { activityTally, userTally };
}

/**
 * Writes the data set in one transaction, with multi-row inserts straight to
 * the driver, after the gateway migrated the database.
 */
async function insertSeed(provider: Provider, databaseUrl: string, seed: Seed): Promise<number> {
  const { activityTally, userTally } = tables(seed);
  const at = (day: number, i: number) => new Date(day * DAY_MS + (i % 86_400) * 1000);
  const user = (i: number) => {
    const email = `bench-stats-${i}@example.com`;
    const created = at(seed.createdDay[i], i);
    return [seed.ids[i], email, email, created, created, lastActiveAt(seed, i)];
  };
  const { rows } = seed;
  const activity = (r: number) => [seed.ids[rows.user[r]], rows.day[r], rows.gap[r]];
  const specs = [
    { table: 'User', columns: ['id', 'email', 'emailNormalized', 'createdAt', 'updatedAt', 'lastActiveAt'], pgTypes: ['text', 'text', 'text', 'timestamp', 'timestamp', 'timestamp'], count: USERS, row: user },
    { table: 'UserActivity', columns: ['userId', 'day', 'gap'], pgTypes: ['text', 'int4', 'int4'], count: rows.length, row: activity },
    { table: 'UserActivityTally', columns: ['day', 'gap', 'slot', 'users'], pgTypes: ['int4', 'int4', 'int4', 'int4'], count: activityTally.length, row: (i: number) => activityTally[i] },
    { table: 'UserTally', columns: ['day', 'slot', 'created', 'deleted'], pgTypes: ['int4', 'int4', 'int4', 'int4'], count: userTally.length, row: (i: number) => userTally[i] },
  ];
  const quoted = (cs: string[]) => cs.map((c) => `"${c}"`).join(', ');
  const total = specs.reduce((n, s) => n + s.count, 0);
  if (provider === 'sqlite') {
    const { default: Sqlite } = await import('better-sqlite3');
    const { sqlitePath } = await import('../src/kernel/db/client.js');
    const db = new Sqlite(sqlitePath(databaseUrl));
    try {
      db.pragma('busy_timeout = 10000');
      // Dates as Prisma's SQLite adapter stores them (ISO-8601 with +00:00).
      const bind = (v: unknown) => (v instanceof Date ? v.toISOString().replace('Z', '+00:00') : v);
      // 500 rows per statement: one call into the driver per 500 rows instead of per row.
      const PER_STATEMENT = 500;
      db.transaction(() => {
        for (const s of specs) {
          const values = (n: number) => Array.from({ length: n }, () => `(${s.columns.map(() => '?').join(', ')})`).join(', ');
          const insert = (n: number) => db.prepare(`INSERT INTO "${s.table}" (${quoted(s.columns)}) VALUES ${values(n)}`);
          const full = insert(PER_STATEMENT);
          for (let from = 0; from < s.count; from += PER_STATEMENT) {
            const n = Math.min(PER_STATEMENT, s.count - from);
            const params: unknown[] = [];
            for (let i = from; i < from + n; i++) for (const v of s.row(i) as unknown[]) params.push(bind(v));
            (n === PER_STATEMENT ? full : insert(n)).run(...params);
          }
        }
      })();
    } finally {
      db.close();
    }
    return total;
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const s of specs) {
      // One statement per 20,000 rows: a column each as an array, unnested into rows.
      const sql = `INSERT INTO "${s.table}" (${quoted(s.columns)}) SELECT * FROM unnest(${s.pgTypes.map((type, i) => `$${i + 1}::${type}[]`).join(', ')})`;
      for (let from = 0; from < s.count; from += 20_000) {
        const chunk = Array.from({ length: Math.min(20_000, s.count - from) }, (_, k) => s.row(from + k) as unknown[]);
        await client.query(sql, s.columns.map((_, c) => chunk.map((row) => (row[c] instanceof Date ? (row[c] as Date).toISOString() : row[c]))));
      }
    }
    await client.query('COMMIT');
    // Statistics for the planner now, as autovacuum would a little later: both sides read the same tables.
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
  return total;
}

// ── Requests and their expected answers ────────────────────────────────────

interface Probe {
  body: string;
  expected: string;
}

/**
 * The answer the seed implies, as the gateway writes it: counted from the
 * users and the active-day rows (in user order), not from the tallies.
 */
function expectedAnswer(seed: Seed, from: number, to: number): string {
  const firstActive = seed.today - ACTIVITY_DAYS + 1;
  let total = 0;
  for (let i = 0; i < USERS; i++) if (seed.createdDay[i] < to) total++;
  const activeOn = (day: number) => (day < firstActive || day > seed.today ? 0 : seed.tally[day - firstActive].reduce((x, y) => x + y, 0));
  /** Distinct users with a row in [a, to): rows come grouped by user, so a user is counted at its first row in the window. */
  const windowUsers = (a: number) => {
    let n = 0;
    let counted = -1;
    const { user, day } = seed.rows;
    for (let r = 0; r < seed.rows.length; r++) {
      if (day[r] >= a && day[r] < to && user[r] !== counted) {
        n++;
        counted = user[r];
      }
    }
    return n;
  };
  const byDay = [];
  let created = 0;
  for (let day = from; day < to; day++) {
    const c = seed.createdOn.get(day) ?? 0;
    created += c;
    byDay.push({ date: dateOf(day), created: c, active: activeOn(day) });
  }
  return JSON.stringify({ data: { userStats: { total, created, active: { daily: windowUsers(to - 1), weekly: windowUsers(to - 7), monthly: windowUsers(to - 30) }, byDay } } });
}

/** RANGE_VARIANTS ranges of `days` days ending today, yesterday, …; each with its expected answer. */
function statsProbes(seed: Seed, days: number): Probe[] {
  return Array.from({ length: RANGE_VARIANTS }, (_, k) => {
    const to = seed.today + 1 - k;
    const from = to - days;
    return { body: JSON.stringify({ query: STATS_QUERY, variables: { from: dateOf(from), to: dateOf(to) } }), expected: expectedAnswer(seed, from, to) };
  });
}

// ── Load ───────────────────────────────────────────────────────────────────

/** autocannon for `seconds` on one URL, cycling over the probes; each answer compared in full with its probe's (the first miss printed). */
function load(name: string, seconds: number, url: string, headers: Record<string, string>, probes: Probe[], serverPid: number): Promise<Row> {
  let reported = false;
  return loadProbes({
    name,
    seconds,
    url,
    headers,
    probes,
    serverPid,
    connections: CONNECTIONS,
    answered: (status, body, probe) => {
      if (status === 200 && body === probe.expected) return true;
      if (!reported) {
        reported = true;
        console.log(`  ${name}: an unexpected answer (${status}): ${body.slice(0, 300)}\n  expected: ${probe.expected.slice(0, 300)}`);
      }
      return false;
    },
  });
}

/** `count` requests one after another: latency without load (ms, fractional), every answer checked when `expected` is given. */
async function sequential(url: string, headers: Record<string, string>, probes: { body: string; expected?: string }[], count: number) {
  const times: number[] = [];
  let ok = 0;
  for (let i = 0; i < count; i++) {
    const probe = probes[i % probes.length];
    const t0 = performance.now();
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: probe.body });
    const body = await res.text();
    times.push(performance.now() - t0);
    if (res.status === 200 && (probe.expected === undefined ? !body.includes('"errors"') : body === probe.expected)) ok++;
  }
  times.sort((x, y) => x - y);
  return { p50: percentile(times, 50), p99: percentile(times, 99), ok, count };
}

// ── The bare node:http handler (a child: `user-stats.ts baseline <provider> <url>`) ──

async function baselineServer(provider: Provider, databaseUrl: string) {
  const { createDatabase } = await import('../src/kernel/db/client.js');
  const database = await createDatabase(provider, databaseUrl);
  const { direct } = database;
  const dayOf = (date: string) => Math.floor(Date.parse(date) / DAY_MS);

  // What service.ts does with the same rows, without GraphQL, authentication or the Date scalar.
  async function userStats(body: { variables: { from: string; to: string } }) {
    const from = dayOf(body.variables.from);
    const to = dayOf(body.variables.to);
    const [activity, users, [totals]] = await Promise.all([
      direct.all<ActivityDayRow>(ACTIVITY_BY_DAY_SQL, [to - 30, to - 7, Math.min(from, to - 30), to]),
      direct.all<UsersDayRow>(USERS_BY_DAY_SQL, [from, to]),
      direct.all<{ total: number }>(TOTAL_USERS_SQL, [to]),
    ]);
    const activeOn = new Map(activity.map((r) => [r.day, r]));
    const usersOn = new Map(users.map((r) => [r.day, r]));
    const byDay = [];
    let created = 0;
    for (let day = from; day < to; day++) {
      const c = usersOn.get(day)?.created ?? 0;
      created += c;
      byDay.push({ date: dateOf(day), created: c, active: activeOn.get(day)?.active ?? 0 });
    }
    let weekly = 0;
    let monthly = 0;
    for (const r of activity) {
      if (r.day >= to - 30) monthly += r.firstSince30;
      if (r.day >= to - 7) weekly += r.firstSince7;
    }
    return { data: { userStats: { total: totals?.total ?? 0, created, active: { daily: activeOn.get(to - 1)?.active ?? 0, weekly, monthly }, byDay } } };
  }

  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      try {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(await userStats(JSON.parse(raw))));
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

interface ProviderResult {
  rows: Row[];
  ratios: string[];
  unloaded: string[];
  seeding: string;
}

async function benchProvider(provider: Provider, seed: Seed, cases: { name: string; probes: Probe[] }[]): Promise<ProviderResult> {
  const { databaseUrl, dataDir, cleanup } = await benchDatabase(provider);
  const rows: Row[] = [];
  const ratios: string[] = [];
  const unloaded: string[] = [];
  console.log(`${provider}: starting the gateway`);
  const gateway = await startChild([gatewayScript(), 'start'], { ...gatewayEnv({ databaseUrl, dataDir }), LOG_LEVEL: 'warn' }, GATEWAY_LISTENING);
  let baseline: { child: ChildProcess; url: string } | undefined;
  try {
    const url = gateway.url;
    const t0 = performance.now();
    const inserted = await insertSeed(provider, databaseUrl, seed);
    const seeding = `${provider}: seeded ${inserted.toLocaleString('en-US')} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    console.log(seeding);
    baseline = await startChild(['--import', 'tsx', 'bench/user-stats.ts', 'baseline', provider, databaseUrl], {}, /baseline listening on (\S+)/);
    const bare = baseline;
    const headers = { authorization: `Bearer ${API_KEY}` };

    for (const c of cases) {
      console.log(`${provider}: ${c.name}`);
      const [ours, theirs] = await alternate(
        (sec) => load(`${provider}: ${c.name}`, sec, url, headers, c.probes, gateway.child.pid!),
        (sec) => load(`${provider}: bare node:http ${c.name}`, sec, bare.url, {}, c.probes, bare.child.pid!),
        { durationS: DURATION_S, rounds: ROUNDS, warmupS: WARMUP_S, log: true },
      );
      rows.push(ours, theirs);
      ratios.push(`${provider}: ${c.name} ÷ bare node:http handler = ${(ours.rps / theirs.rps).toFixed(2)}; p50 ${ours.p50} ms under ${CONNECTIONS} connections (target: under 50 ms)`);
    }
    for (const c of cases) {
      const gw = await sequential(url, headers, c.probes, SEQUENTIAL);
      const bw = await sequential(bare.url, {}, c.probes, SEQUENTIAL);
      unloaded.push(`${provider}: ${c.name} one at a time: p50 ${gw.p50.toFixed(1)} ms, p99 ${gw.p99.toFixed(1)} ms (${gw.ok}/${gw.count} as expected); bare handler p50 ${bw.p50.toFixed(1)} ms, p99 ${bw.p99.toFixed(1)} ms`);
    }
    const since = new Date((seed.today - 6) * DAY_MS).toISOString();
    const weekly = Array.from(seed.lastDay).filter((d) => d >= seed.today - 6).length;
    for (const [label, query] of [
      ['a page of 50', PAGE_QUERY],
      ['a page of 50 with totalCount', COUNTED_PAGE_QUERY],
    ] as const) {
      const r = await sequential(url, headers, [{ body: JSON.stringify({ query, variables: { since } }) }], Math.min(SEQUENTIAL, 30));
      unloaded.push(`${provider}: users(filter: { lastActiveAt: the last 7 days } (${weekly.toLocaleString('en-US')} users), orderBy: LAST_ACTIVE_AT DESC), ${label}: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms (${r.ok}/${r.count} answered)`);
    }
    for (const line of unloaded) console.log(line);
    return { rows, ratios, unloaded, seeding };
  } finally {
    await stopChild(gateway.child);
    if (baseline) await stopChild(baseline.child);
    await cleanup();
  }
}

// ── Report ─────────────────────────────────────────────────────────────────

function table(rows: Row[]): string {
  const cpu = (r: Row) => (r.cpu ? `${r.cpu.all.toFixed(2)} (${r.cpu.main.toFixed(2)})` : '–');
  const fmt = (r: Row) => `| ${r.name} | ${r.rps.toFixed(1)} | ${r.p50} | ${r.p99} | ${r.total ? ((100 * r.ok) / r.total).toFixed(1) : '–'}% | ${cpu(r)} |`;
  return ['| what | req/s | p50 ms | p99 ms | answered as expected | CPU ms/req (main thread) |', '| --- | ---: | ---: | ---: | ---: | ---: |', ...rows.map(fmt)].join('\n');
}

async function main() {
  const started = Date.now();
  console.log(`user-stats bench: ${PROVIDERS.join(', ')}; ${DURATION_S} s per side and case in ${ROUNDS} round(s) after ${WARMUP_S} s of warm-up, ${CONNECTIONS} connections`);
  const t0 = performance.now();
  const seed = await makeSeed();
  const perDay = Math.round(seed.rows.length / ACTIVITY_DAYS);
  const monthly = Array.from(seed.lastDay).filter((d) => d > seed.today - 30).length;
  const shape =
    `${USERS.toLocaleString('en-US')} users created evenly over ${HISTORY_DAYS} days up to today; ${ACTIVITY_DAYS} days of activity from ` +
    `${COHORTS.map((c) => `${c.users.toLocaleString('en-US')} users active on ${Math.round(c.p * 100)}% of days`).join(', ')}: ` +
    `${seed.rows.length.toLocaleString('en-US')} active-day rows, about ${perDay.toLocaleString('en-US')} active users a day and ${monthly.toLocaleString('en-US')} in the last 30 days`;
  const cases = [
    { name: 'userStats, 30 days', probes: statsProbes(seed, 30) },
    { name: 'userStats, 366 days', probes: statsProbes(seed, 366) },
  ];
  console.log(`data set: ${shape}; generated with the expected answers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const rows: Row[] = [];
  const ratios: string[] = [];
  const unloaded: string[] = [];
  const seedings: string[] = [];
  for (const provider of PROVIDERS) {
    const r = await benchProvider(provider, seed, cases);
    for (const row of r.rows) console.log(describeRow(row));
    rows.push(...r.rows);
    ratios.push(...r.ratios);
    unloaded.push(...r.unloaded);
    seedings.push(r.seeding);
  }
  const text = [table(rows), '', ...ratios.map((r) => `- ${r}`), '', 'One request at a time (no other load from the bench):', '', ...unloaded.map((r) => `- ${r}`)].join('\n');
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`\n${text}\n\n(${seconds} s in all)`);

  const section = [
    '## user-stats',
    '',
    '`npm run bench -- user-stats` (bench/user-stats.ts). The gateway runs as a child process on 127.0.0.1 with a random port, on',
    `${PROVIDERS.map((p) => ({ sqlite: 'SQLite', postgresql: 'PostgreSQL' })[p]).join(' and then ')}, over a data set written straight to the database before the loads (one transaction, multi-row inserts):`,
    `${shape}; the tallies the gateway keeps, spread over its ${TALLY_SLOTS} slots; each active user's lastActiveAt.`,
    `${seedings.join('; ')} (${seconds} s for the whole run). autocannon drives each case for ${DURATION_S} s with ${CONNECTIONS} connections, in ${ROUNDS} rounds alternating`,
    `with its baseline after ${WARMUP_S} s of unmeasured warm-up on each side. The baseline is a bare node:http handler (a child process) that parses`,
    'the same JSON body, runs the same three statements (imported from src/modules/statistics/store.ts, prepared once on the same',
    'driver), sums them as the service does and answers the same JSON. Each case cycles over 10 ranges ending today, yesterday, …;',
    "every answer, the gateway's and the baseline's, is compared in full with the figures the seed implies (counted from the users and",
    'the active-day rows, not from the tallies). p50/p99 are request-weighted means over the rounds, in whole milliseconds',
    `as autocannon reports them. Measured on ${machine()}, ${new Date().toISOString().slice(0, 10)}:`,
    '',
    text,
  ].join('\n');
  writeReadmeSection('user-stats', section);
}

if (process.argv[2] === 'baseline') {
  await baselineServer(process.argv[3] as Provider, process.argv[4]);
} else {
  await main();
}
