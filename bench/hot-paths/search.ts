/**
 * The search row of `npm run bench -- hot-paths` (BENCH_GROUPS=search):
 * `users(filter: { query }, first: 20) { totalCount edges { node { id email } } }`
 * at 1,000,000 users, target p50 ≤ 20 ms and no event-loop block over 20 ms
 * in the gateway, against a bare node:http handler measured in the same run.
 *
 * Data: search-data.ts (1,000,000 users with realistic names, emails and
 * usernames from a fixed seed, written through SQL and kept between runs).
 *
 * Queries, cycled, from a fixed seed (every answer checked for errors and a
 * totalCount; a rare query's answer must hold its user):
 * - 35% common: 3 to 5 characters of a frequent given or family name, or of
 *   a mail domain ("mar", "son", "gmail"): thousands to hundreds of thousands
 *   of users, totalCount stops at 1,000;
 * - 15% middling: 5 to 8 characters of an infrequent family name
 *   ("kowalc"): hundreds to a few thousand users;
 * - 40% rare: a letter, the digits and the "@" of one user's email
 *   ("h48213@"): one user;
 * - 10% short: one or two characters of a name ("jo", "ł").
 *
 * The bare handler (a child: `search.ts baseline <provider> <database url>`)
 * parses the same JSON body and answers the same JSON with the statements of
 * the users store on the same driver, prepared once (SQLite) or unnamed
 * (PostgreSQL, so each is planned for its pattern, as Prisma's are): the
 * index lookup (at most 1,001 users), then the page: by those ids, or when
 * more than 1,000 match from the index in key order (SQLite) or in creation
 * order with the LIKE of "searchText" (PostgreSQL); a short query the probe
 * finds common, in creation order with the text test (SQLite).
 *
 * While the gateway is loaded, a separate process asks GET /healthz every
 * 5 ms on its own connection (healthz-probe.mjs); its slowest answer is the
 * longest event-loop block.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { alternate, gatewayScript, API_KEY, GATEWAY_LISTENING, gatewayEnv, graphqlCall, loadProbes, root, startChild, stopChild, type Provider, type Row } from '../lib.js';
import { FAMILY, GIVEN, makeUsers, prng, searchDatabase, userId, USERS, type SeedUser } from './search-data.js';
import type { HotContext, HotGroup, HotRow } from './types.js';

const PAGE = 20;
const LIMIT = 1000;
export const QUERY = `query($q: String!) { users(filter: { query: $q }, first: ${PAGE}) { totalCount edges { node { id email } } } }`;
const PROBES = 2000;
const TARGET_MS = 20;

// ── Queries ────────────────────────────────────────────────────────────────

export interface Probe {
  body: string;
  kind: 'common' | 'middling' | 'rare' | 'short';
  /** A user the answer must hold (rare queries). */
  expect?: string;
}

const fold = (s: string) => s.toLowerCase();

export function makeProbes(users: SeedUser[]): { probes: Probe[]; kinds: Record<string, number> } {
  const random = prng(4242);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  const slice = (s: string, min: number, max: number) => {
    const chars = [...s];
    const n = Math.min(chars.length, min + Math.floor(random() * (max - min + 1)));
    const from = Math.floor(random() * (chars.length - n + 1));
    return chars.slice(from, from + n).join('');
  };
  const frequent = [...GIVEN.slice(0, 30), ...FAMILY.slice(0, 30)].map(fold);
  const infrequent = FAMILY.slice(100).map(fold);
  const domains = ['gmail', 'outlook', 'yahoo', 'icloud', 'hotmail', 'acme-corp', 'initech'];
  const kinds = { common: 0, middling: 0, rare: 0, short: 0 };
  const probes: Probe[] = [];
  for (let n = 0; n < PROBES; n++) {
    const r = random();
    let q: string;
    let expect: string | undefined;
    let kind: Probe['kind'];
    if (r < 0.35) {
      q = random() < 0.2 ? slice(pick(domains), 3, 5) : slice(pick(frequent), 3, 5);
      kinds.common++;
      kind = 'common';
    } else if (r < 0.5) {
      q = slice(pick(infrequent), 5, 8);
      kinds.middling++;
      kind = 'middling';
    } else if (r < 0.9) {
      const i = Math.floor(random() * users.length);
      const local = users[i].email.split('@')[0];
      const digits = String(i);
      q = `${local.slice(local.length - digits.length - 1)}@`;
      expect = userId(i);
      kinds.rare++;
      kind = 'rare';
    } else {
      const u = users[Math.floor(random() * users.length)];
      q = slice(fold(random() < 0.5 ? u.givenName : u.familyName), 1, 2);
      kinds.short++;
      kind = 'short';
    }
    probes.push({ body: JSON.stringify({ query: QUERY, variables: { q } }), kind, expect });
  }
  return { probes, kinds };
}

export const answered = (status: number, body: string, probe: Probe) =>
  status === 200 && body.includes('"totalCount"') && !body.includes('"errors"') && (!probe.expect || body.includes(probe.expect));

// ── The bare handler (a child: `search.ts baseline <provider> <url>`) ───────

/**
 * The first PAGE users in creation order with the text test (the store's `where`, as SQL): SQLite's page of a
 * short query the probe finds common, PostgreSQL's page of a query more than LIMIT users match.
 */
const TEXT_TEST = {
  sqlite: `("emailNormalized" LIKE ? OR "usernameNormalized" LIKE ? OR "givenName" LIKE ? OR "familyName" LIKE ? OR "displayName" LIKE ?)`,
  postgresql: `("emailNormalized" LIKE $1 OR "usernameNormalized" LIKE $1 OR "givenName" ILIKE $2 OR "familyName" ILIKE $2 OR "displayName" ILIKE $2)`,
};

async function baselineServer(provider: Provider, databaseUrl: string) {
  const store = await import('../../src/modules/users/store.js');
  const { isShortQuery } = await import('../../src/modules/users/text-match.js');
  let search: (q: string) => Promise<{ total: number; rows: Array<{ id: string; email: string | null }> }>;

  if (provider === 'sqlite') {
    const { default: Sqlite } = await import('better-sqlite3');
    const { sqlitePath } = await import('../../src/kernel/db/client.js');
    const db = new Sqlite(sqlitePath(databaseUrl), { readonly: true });
    const matches = db.prepare(store.SQLITE_MATCH_IDS_SQL);
    const probe = db.prepare(store.SQLITE_SHORT_PROBE_SQL);
    const terms = db.prepare(`SELECT "term" FROM "UserSearchTerms" WHERE "term" >= ? AND "term" < ?`);
    const unorderedCount = db.prepare(store.SQLITE_UNORDERED_COUNT_SQL);
    const keyOrder = db.prepare(store.sqliteKeyOrderSql('ASC'));
    const unorderedMatches = db.prepare(store.SQLITE_UNORDERED_MATCHES_SQL);
    const byIds = db.prepare(`SELECT "id", "email" FROM "User" WHERE "id" IN (SELECT value FROM json_each(?)) ORDER BY "createdAt", "id" LIMIT ${PAGE}`);
    const scan = db.prepare(`SELECT "id", "email" FROM "User" WHERE ${TEXT_TEST.sqlite} ORDER BY "createdAt", "id" LIMIT ${PAGE}`);
    const page = (ids: string[]) => (ids.length ? byIds.all(JSON.stringify(ids)) : []) as Array<{ id: string; email: string | null }>;
    search = async (q) => {
      const like = `%${q}%`;
      const test = [like.toLowerCase(), like.toLowerCase(), like, like, like];
      let match: string;
      if (isShortQuery(q)) {
        // The store's probe: the first SHORT_QUERY_PROBE_ROWS users a stretch at a time, the event loop let run between.
        let found = 0;
        for (let read = 0, after = Number.MIN_SAFE_INTEGER; read < store.SHORT_QUERY_PROBE_ROWS; ) {
          if (read > 0) await new Promise<void>((resolve) => setImmediate(resolve));
          const want = Math.min(store.SHORT_QUERY_PROBE_CHUNK, store.SHORT_QUERY_PROBE_ROWS - read);
          const chunk = probe.get(...test, after, want) as { rows: number; last: number | null; n: number };
          found += chunk.n;
          if (found > LIMIT || chunk.rows < want || chunk.last === null) break;
          read += chunk.rows;
          after = chunk.last;
        }
        if (found > LIMIT) return { total: LIMIT, rows: scan.all(...test) as never };
        const words = terms.all(q.toLowerCase(), `${q.toLowerCase()}\u{10FFFF}`) as Array<{ term: string }>;
        if (!words.length) return { total: 0, rows: [] };
        match = words.map((t) => `"${t.term.replace(/"/g, '""')}"`).join(' OR ');
      } else {
        // The bench's queries hold no wildcard: the index's answer is exact.
        match = store.ftsQuery(q)!.match;
      }
      const found = matches.get(match, LIMIT + 1, LIMIT) as { n: number; ids: string | null };
      if (found.n <= LIMIT) {
        const ids = JSON.parse(found.ids ?? '[]') as string[];
        return { total: ids.length, rows: page(ids) };
      }
      // More than LIMIT match: the first in key order, and those out of it (none in the bench's data, as in the gateway's check).
      const { n } = unorderedCount.get(store.UNORDERED_LIMIT + 1) as { n: number };
      const first = keyOrder.all(match, Number.MIN_SAFE_INTEGER, PAGE) as Array<{ id: string }>;
      const others = n ? (unorderedMatches.all(...test) as Array<{ id: string }>) : [];
      return { total: LIMIT, rows: page([...first, ...others].map((r) => r.id)) };
    };
  } else {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
    search = async (q) => {
      const [found] = (
        await pool.query<{ n: number; ids: string | null }>(
          `SELECT count(*)::int AS "n", CASE WHEN count(*) <= ${LIMIT} THEN json_agg("id")::text END AS "ids" FROM (SELECT "id" FROM "User" WHERE "searchText" LIKE lower($1) LIMIT ${LIMIT + 1}) m`,
          [`%${q}%`],
        )
      ).rows;
      const ids = found.n > LIMIT ? null : (JSON.parse(found.ids ?? '[]') as string[]);
      if (ids === null) {
        // The store's page of a common query: the list's `where` in creation order.
        const params = [`%${q.toLowerCase()}%`, `%${q}%`];
        return { total: LIMIT, rows: (await pool.query(`SELECT "id", "email" FROM "User" WHERE ${TEXT_TEST.postgresql} ORDER BY "createdAt", "id" LIMIT ${PAGE}`, params)).rows };
      }
      return { total: ids.length, rows: (await pool.query(`SELECT "id", "email" FROM "User" WHERE "id" = ANY($1) ORDER BY "createdAt", "id" LIMIT ${PAGE}`, [ids])).rows };
    };
  }

  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      try {
        const q = String((JSON.parse(raw) as { variables: { q: string } }).variables.q).trim();
        const { total, rows } = await search(q);
        const body = { data: { users: { totalCount: total, edges: rows.map((r) => ({ node: { id: r.id, email: r.email } })) } } };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(`baseline listening on http://127.0.0.1:${(server.address() as { port: number }).port}/`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

// ── The event-loop probe ───────────────────────────────────────────────────

/** Runs healthz-probe.mjs against the gateway for `seconds`; resolves with its slowest and 99th-percentile answer (ms). */
function probeLoop(url: string, seconds: number): Promise<{ worst: number; p99: number; count: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bench', 'hot-paths', 'healthz-probe.mjs'), url, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the healthz probe exited with ${code}`))));
  });
}

// ── The row ────────────────────────────────────────────────────────────────

export const run: HotGroup = async (ctx: HotContext): Promise<HotRow[]> => {
  const { provider, log } = ctx;
  const t0 = performance.now();
  const { databaseUrl, seededInS } = await searchDatabase(provider, log);
  const seeding = seededInS === undefined ? `the data set was cached (found in ${((performance.now() - t0) / 1000).toFixed(1)} s)` : `seeded in ${seededInS.toFixed(0)} s (no cached data set)`;
  log(seeding);
  const users = makeUsers();
  const { probes, kinds } = makeProbes(users);
  log(`${probes.length} queries: ${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(', ')}`);

  const dataDir = mkdtempSync(path.join(tmpdir(), 'portcullis-bench-search-'));
  let gateway: { child: ChildProcess; url: string } | undefined;
  let baseline: { child: ChildProcess; url: string } | undefined;
  try {
    gateway = await startChild([gatewayScript(), 'start'], { ...gatewayEnv({ databaseUrl, dataDir }), LOG_LEVEL: 'warn' }, GATEWAY_LISTENING);
    baseline = await startChild(['--import', 'tsx', 'bench/hot-paths/search.ts', 'baseline', provider, databaseUrl], {}, /baseline listening on (\S+)/);
    const gw = gateway;
    const bare = baseline;
    const sample = await graphqlCall(gw.url, QUERY, { q: 'gmail' });
    log(`gateway answers: users(filter: { query: "gmail" }) totalCount ${sample.users.totalCount}, ${sample.users.edges.length} edges`);

    const blocks: Array<{ worst: number; p99: number }> = [];
    const base = new URL(gw.url);
    base.pathname = '/';
    const load = (name: string, seconds: number, url: string, headers: Record<string, string>, pid: number) =>
      loadProbes({ name, seconds, url, headers, probes, serverPid: pid, connections: ctx.connections, answered });
    const [gatewayRow, bareRow] = await alternate(
      async (seconds) => {
        const [row, block] = await Promise.all([load(`${provider}: users(filter: { query })`, seconds, gw.url, { authorization: `Bearer ${API_KEY}` }, gw.child.pid!), probeLoop(base.toString(), seconds)]);
        blocks.push(block);
        log(`  gateway ${row.rps.toFixed(1)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, ${row.ok}/${row.total} as expected; slowest /healthz ${block.worst} ms (p99 ${block.p99} ms, ${block.count} asked)`);
        return row;
      },
      (seconds) => load(`${provider}: bare node:http search`, seconds, bare.url, {}, bare.child.pid!),
      { durationS: ctx.durationS, rounds: ctx.rounds, warmupS: ctx.warmupS },
    );
    // The warm-up round is not measured: its probe is the first entry.
    const measured = blocks.slice(ctx.warmupS > 0 ? 1 : 0);
    const longest = Math.max(...measured.map((b) => b.worst));
    const failed = (r: Row) => r.total - r.ok;
    const notes = [
      `longest event-loop block in the gateway under this load (slowest GET /healthz, asked every 5 ms on its own connection): ${longest} ms; its p99 ${Math.max(...measured.map((b) => b.p99))} ms`,
      `1,000,000 users; ${seeding}; ${Object.entries(kinds).map(([k, n]) => `${Math.round((100 * n) / probes.length)}% ${k}`).join(', ')} queries`,
      `gateway req/s ÷ bare handler req/s = ${(gatewayRow.rps / bareRow.rps).toFixed(2)}`,
      ...(failed(gatewayRow) || failed(bareRow) ? [`answers not as expected: gateway ${failed(gatewayRow)}, bare handler ${failed(bareRow)}`] : []),
    ];
    return [
      {
        provider,
        operation: `users(filter: { query }, first: ${PAGE}) at ${USERS.toLocaleString('en-US')} users`,
        gateway: gatewayRow,
        baseline: bareRow,
        target: `p50 ≤ ${TARGET_MS} ms, no event-loop block over ${TARGET_MS} ms`,
        met: gatewayRow.p50 <= TARGET_MS && longest <= TARGET_MS && failed(gatewayRow) === 0,
        notes,
      },
    ];
  } finally {
    if (gateway) await stopChild(gateway.child);
    if (baseline) await stopChild(baseline.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
};

if (process.argv[2] === 'baseline') await baselineServer(process.argv[3] as Provider, process.argv[4]);
