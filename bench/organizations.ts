/**
 * `npm run bench -- organizations`: permission checks and an organization's
 * member list over HTTP with autocannon, on SQLite and then PostgreSQL, each
 * against a bare node:http handler measured in the same run, the way
 * credentials.ts measures verifyTotp:
 *
 * 1. `can(input: { userId, permission, organizationId })` ÷ a bare handler
 *    that parses the same JSON body and runs the same statement as
 *    access.store.ts (copied below), prepared once on the same driver
 *    (src/kernel/db/direct.ts). Target ≥ 0.5.
 * 2. `organization(id) { members(first: 50) { … user, roles, permissions } }`
 *    on organizations with more than 50 members ÷ a bare handler running the
 *    three statements the answer needs (members with their users, their roles,
 *    their permissions). Skipped, with the reason printed, while the schema
 *    has no `Organization.members` or `Membership.permissions`.
 * 3. A reference, not a target: `{ __typename }` with the same key ÷ the bare
 *    `can` handler, the GraphQL floor (the most any operation through yoga,
 *    validation and execution reaches against that handler here).
 *
 * The data set is written straight to the database in one transaction with
 * bulk inserts (not through the API: 100,000 users would take minutes), from a
 * fixed pseudo-random seed, so the bench knows every expected answer:
 * 10,000 organizations, 100,000 users, 100,000 memberships (2% of the
 * organizations have 60 members, the others 1 to 17), 20 permissions, 6
 * ORGANIZATION roles of 3 to 8 permissions, 1 or 2 roles per membership, and
 * 3 GLOBAL roles given to a fifth of the users.
 *
 * Everything listens on 127.0.0.1 with a random port and every load is
 * bounded in time: about 110 s per database at the defaults (seeding
 * included), so the whole run takes about four minutes.
 *
 * Settings (environment): BENCH_DURATION_S (12: seconds per side and case,
 * split into BENCH_ROUNDS (3) alternating rounds), BENCH_WARMUP_S (2),
 * BENCH_CONNECTIONS (8), BENCH_PROVIDERS (sqlite,postgresql), BENCH_SCALE
 * (1: a fraction of the data set, for a quick trial run), BENCH_CASES
 * (can,floor,members).
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import pg from 'pg';
import {
  alternate,
  API_KEY,
  describeRow,
  loadProbes,
  type Row,
  benchDatabase,
  GATEWAY_LISTENING,
  gatewayEnv,
  graphqlCall,
  machine,
  startChild,
  stopChild,
  writeReadmeSection,
  type Provider,
  prng,
  gatewayScript,
  gatewayRunAs,
} from './lib.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 12);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
/** Unmeasured load on both sides first: a fresh process compiles its hot code during its first seconds. */
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 2);
const PROVIDERS = (process.env.BENCH_PROVIDERS ?? 'sqlite,postgresql').split(',') as Provider[];
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
/** Which cases to run (can,members): one alone, e.g. for a profile with BENCH_GATEWAY_PROFILE. */
const CASES = new Set((process.env.BENCH_CASES ?? 'can,floor,members').split(','));

const ORGANIZATIONS = Math.round(10_000 * SCALE);
const USERS = Math.round(100_000 * SCALE);
const MEMBERSHIPS = Math.round(100_000 * SCALE);
/** Every 50th organization is large: `members(first: 50)` returns a full page there. */
const LARGE_EVERY = 50;
const LARGE_SIZE = 60;
const PAGE = 50;
/** Share of users holding a GLOBAL role. */
const GLOBAL_ROLE_SHARE = 0.2;
/** Distinct `can` checks cycled through (each one's answer known from the seed). */
const CAN_CHECKS = Math.max(1000, Math.round(20_000 * SCALE));
/** One member-list answer in this many is parsed and compared in full with the seed; the others only for errors. */
const SAMPLE_EVERY = 10;

const CAN_QUERY = 'query($i: CanInput!) { can(input: $i) }';
const MEMBERS_QUERY = `query($id: ID!) { organization(id: $id) { members(first: ${PAGE}) { edges { node { user { id email } roles { key } permissions } } } } }`;

// ── The data set ───────────────────────────────────────────────────────────

interface Seed {
  permissions: { id: string; key: string }[];
  /** ORGANIZATION roles, then GLOBAL ones; `permissions` are indexes into `permissions`. */
  orgRoles: { id: string; key: string; permissions: number[] }[];
  globalRoles: { id: string; key: string; permissions: number[] }[];
  users: { id: string; email: string; globalRoles: number[] }[];
  organizations: { id: string; members: number[] }[];
  /** In creation order (the order `members` lists them in). */
  memberships: { id: string; organization: number; user: number; roles: number[] }[];
}

async function makeSeed(): Promise<Seed> {
  const { newId } = await import('../src/kernel/ids.js');
  const random = prng(20261201);
  const resources = ['invoice', 'project', 'member', 'billing', 'report'];
  const actions = ['read', 'write', 'delete', 'admin'];
  const permissions = resources.flatMap((r) => actions.map((a) => ({ id: newId('Permission'), key: `${r}:${a}` })));
  const someOf = (min: number, max: number) => {
    const n = min + Math.floor(random() * (max - min + 1));
    const all = permissions.map((_, i) => i);
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [all[i], all[j]] = [all[j], all[i]];
    }
    return all.slice(0, n).sort((x, y) => x - y);
  };
  const orgRoles = ['owner', 'admin', 'billing', 'developer', 'support', 'viewer'].map((k) => ({ id: newId('Role'), key: `bench-${k}`, permissions: someOf(3, 8) }));
  const globalRoles = ['staff', 'auditor', 'operator'].map((k) => ({ id: newId('Role'), key: `bench-${k}`, permissions: someOf(3, 8) }));
  const users = Array.from({ length: USERS }, (_, i) => ({
    id: newId('User'),
    email: `bench-org-user-${i}@example.com`,
    globalRoles: random() < GLOBAL_ROLE_SHARE ? [Math.floor(random() * globalRoles.length)] : [],
  }));
  const organizations = Array.from({ length: ORGANIZATIONS }, () => ({ id: newId('Organization'), members: [] as number[] }));
  // Sizes: LARGE_SIZE for every LARGE_EVERY-th organization, 1..17 round the others, until MEMBERSHIPS are placed.
  const sizes = organizations.map((_, i) => (i % LARGE_EVERY === 0 ? LARGE_SIZE : 1 + (i % 17)));
  const large = Math.ceil(ORGANIZATIONS / LARGE_EVERY);
  if (large * LARGE_SIZE + (ORGANIZATIONS - large) > MEMBERSHIPS) throw new Error('BENCH_SCALE leaves too few memberships for the organizations');
  let total = sizes.reduce((x, y) => x + y, 0);
  for (let i = 0; total !== MEMBERSHIPS; i = (i + 1) % sizes.length) {
    if (i % LARGE_EVERY === 0) continue;
    if (total < MEMBERSHIPS) (sizes[i]++, total++);
    else if (sizes[i] > 1) (sizes[i]--, total--);
  }
  const memberships: Seed['memberships'] = [];
  for (const [o, org] of organizations.entries()) {
    const taken = new Set<number>();
    while (taken.size < sizes[o]) {
      const user = Math.floor(random() * USERS);
      if (taken.has(user)) continue;
      taken.add(user);
      org.members.push(memberships.length);
      const first = Math.floor(random() * orgRoles.length);
      const roles = random() < 0.3 ? [first, (first + 1 + Math.floor(random() * (orgRoles.length - 1))) % orgRoles.length] : [first];
      memberships.push({ id: newId('Membership'), organization: o, user, roles });
    }
  }
  return { permissions, orgRoles, globalRoles, users, organizations, memberships };
}

/** The permission keys a membership's roles (or a user's GLOBAL roles) give, sorted. */
function keysOf(seed: Seed, roles: { permissions: number[] }[]): string[] {
  return [...new Set(roles.flatMap((r) => r.permissions))].map((p) => seed.permissions[p].key).sort();
}

/**
 * Writes the data set in one transaction, with multi-row inserts straight to
 * the driver: the gateway has already migrated the database and holds no
 * cache of these tables.
 */
async function insertSeed(provider: Provider, databaseUrl: string, seed: Seed) {
  const base = Date.now() - 86_400_000;
  // Strictly increasing times: `members` lists oldest first, so the expected page is known.
  const at = (ms: number) => new Date(base + ms);
  const tables: { table: string; columns: string[]; pgTypes: string[]; rows: unknown[][] }[] = [
    {
      table: 'Permission',
      columns: ['id', 'key', 'createdAt'],
      pgTypes: ['text', 'text', 'timestamp'],
      rows: seed.permissions.map((p, i) => [p.id, p.key, at(i)]),
    },
    {
      table: 'Role',
      columns: ['id', 'key', 'name', 'scope', 'createdAt', 'updatedAt'],
      pgTypes: ['text', 'text', 'text', 'text', 'timestamp', 'timestamp'],
      rows: [
        ...seed.orgRoles.map((r, i) => [r.id, r.key, r.key, 'ORGANIZATION', at(i), at(i)]),
        ...seed.globalRoles.map((r, i) => [r.id, r.key, r.key, 'GLOBAL', at(i), at(i)]),
      ],
    },
    {
      table: 'RolePermission',
      columns: ['roleId', 'permissionId'],
      pgTypes: ['text', 'text'],
      rows: [...seed.orgRoles, ...seed.globalRoles].flatMap((r) => r.permissions.map((p) => [r.id, seed.permissions[p].id])),
    },
    {
      table: 'User',
      columns: ['id', 'email', 'emailNormalized', 'createdAt', 'updatedAt'],
      pgTypes: ['text', 'text', 'text', 'timestamp', 'timestamp'],
      rows: seed.users.map((u, i) => [u.id, u.email, u.email, at(i), at(i)]),
    },
    {
      table: 'UserRole',
      columns: ['userId', 'roleId', 'createdAt'],
      pgTypes: ['text', 'text', 'timestamp'],
      rows: seed.users.flatMap((u, i) => u.globalRoles.map((r) => [u.id, seed.globalRoles[r].id, at(i)])),
    },
    {
      table: 'Organization',
      columns: ['id', 'name', 'slug', 'publicMetadata', 'privateMetadata', 'createdAt', 'updatedAt'],
      pgTypes: ['text', 'text', 'text', 'jsonb', 'jsonb', 'timestamp', 'timestamp'],
      rows: seed.organizations.map((o, i) => [o.id, `Bench organization ${i}`, `bench-org-${i}`, '{}', '{}', at(i), at(i)]),
    },
    {
      table: 'Membership',
      columns: ['id', 'organizationId', 'userId', 'createdAt'],
      pgTypes: ['text', 'text', 'text', 'timestamp'],
      rows: seed.memberships.map((m, i) => [m.id, seed.organizations[m.organization].id, seed.users[m.user].id, at(i)]),
    },
    {
      table: 'MembershipRole',
      columns: ['membershipId', 'roleId'],
      pgTypes: ['text', 'text'],
      rows: seed.memberships.flatMap((m) => m.roles.map((r) => [m.id, seed.orgRoles[r].id])),
    },
  ];
  const quoted = (cs: string[]) => cs.map((c) => `"${c}"`).join(', ');
  if (provider === 'sqlite') {
    const { default: Sqlite } = await import('better-sqlite3');
    const { sqlitePath } = await import('../src/kernel/db/client.js');
    const db = new Sqlite(sqlitePath(databaseUrl));
    try {
      db.pragma('busy_timeout = 10000');
      // Dates as Prisma's SQLite adapter stores them (ISO-8601 with +00:00), so the gateway reads them back.
      const bind = (v: unknown) => (v instanceof Date ? v.toISOString().replace('Z', '+00:00') : v);
      db.transaction(() => {
        for (const t of tables) {
          const insert = db.prepare(`INSERT INTO "${t.table}" (${quoted(t.columns)}) VALUES (${t.columns.map(() => '?').join(', ')})`);
          for (const row of t.rows) insert.run(...row.map(bind));
        }
      })();
    } finally {
      db.close();
    }
    return tables.reduce((n, t) => n + t.rows.length, 0);
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const t of tables) {
      // One statement per 10,000 rows: a column each as an array, unnested into rows.
      const sql = `INSERT INTO "${t.table}" (${quoted(t.columns)}) SELECT * FROM unnest(${t.pgTypes.map((type, i) => `$${i + 1}::${type}[]`).join(', ')})`;
      for (let from = 0; from < t.rows.length; from += 10_000) {
        const chunk = t.rows.slice(from, from + 10_000);
        await client.query(sql, t.columns.map((_, c) => chunk.map((row) => (row[c] instanceof Date ? (row[c] as Date).toISOString() : row[c]))));
      }
    }
    await client.query('COMMIT');
    // Statistics for the planner now, as autovacuum would a little later: both sides read the same tables.
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
  return tables.reduce((n, t) => n + t.rows.length, 0);
}

// ── Requests and their expected answers ────────────────────────────────────

interface Probe {
  body: string;
  /** Whether an answer (the response body) is the one the seed implies. */
  check: (body: string) => boolean;
}

/**
 * `can` checks with known answers, the same body for the gateway and the bare
 * handler: 45% a permission the member holds, 35% one it lacks, 10% a user
 * who is not a member, 10% without an organization (GLOBAL roles).
 */
function canProbes(seed: Seed): { probes: Probe[]; yes: number } {
  const random = prng(7);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  const memberKeys = new Map<number, Set<string>>(seed.memberships.map((m, i) => [i, new Set(keysOf(seed, m.roles.map((r) => seed.orgRoles[r])))]));
  const membershipOf = new Map<string, number>(seed.memberships.map((m, i) => [`${m.organization}:${m.user}`, i]));
  const allKeys = seed.permissions.map((p) => p.key);
  const probes: Probe[] = [];
  let yes = 0;
  for (let n = 0; n < CAN_CHECKS; n++) {
    const r = random();
    let input: { userId: string; permission: string; organizationId?: string };
    let expected: boolean;
    if (r < 0.8) {
      const m = Math.floor(random() * seed.memberships.length);
      const held = memberKeys.get(m)!;
      const lacking = allKeys.filter((k) => !held.has(k));
      const permission = r < 0.45 || lacking.length === 0 ? pick([...held]) : pick(lacking);
      const { organization, user } = seed.memberships[m];
      input = { userId: seed.users[user].id, permission, organizationId: seed.organizations[organization].id };
      expected = held.has(permission);
    } else if (r < 0.9) {
      const user = Math.floor(random() * seed.users.length);
      const organization = Math.floor(random() * seed.organizations.length);
      const permission = pick(allKeys);
      const m = membershipOf.get(`${organization}:${user}`);
      input = { userId: seed.users[user].id, permission, organizationId: seed.organizations[organization].id };
      expected = m !== undefined && memberKeys.get(m)!.has(permission);
    } else {
      const user = seed.users[Math.floor(random() * seed.users.length)];
      const held = keysOf(seed, user.globalRoles.map((g) => seed.globalRoles[g]));
      // Users with a GLOBAL role are asked about one of its permissions half the time.
      const permission = held.length && random() < 0.5 ? pick(held) : pick(allKeys);
      input = { userId: user.id, permission };
      expected = held.includes(permission);
    }
    if (expected) yes++;
    const answer = `"can":${expected}`;
    probes.push({ body: JSON.stringify({ query: CAN_QUERY, variables: { i: input } }), check: (body) => body.includes(answer) && !body.includes('"errors"') });
  }
  return { probes, yes };
}

/** One member-list request per organization with more than a page of members, with the page the seed implies. */
function memberProbes(seed: Seed): Probe[] {
  let answered = 0;
  return seed.organizations
    .filter((o) => o.members.length > PAGE)
    .map((o) => {
      const expected = JSON.stringify(
        o.members.slice(0, PAGE).map((i) => {
          const m = seed.memberships[i];
          const user = seed.users[m.user];
          const roles = m.roles.map((r) => seed.orgRoles[r]);
          return [user.id, user.email, roles.map((r) => r.key).sort(), keysOf(seed, roles)];
        }),
      );
      return {
        body: JSON.stringify({ query: MEMBERS_QUERY, variables: { id: o.id } }),
        check: (body: string) => {
          if (body.includes('"errors"') || !body.includes('"edges"')) return false;
          if (answered++ % SAMPLE_EVERY !== 0) return true;
          type Edge = { node: { user: { id: string; email: string }; roles: { key: string }[]; permissions: string[] } };
          const edges = (JSON.parse(body) as { data: { organization: { members: { edges: Edge[] } } } }).data.organization.members.edges;
          const got = edges.map(({ node: n }) => [n.user.id, n.user.email, n.roles.map((r) => r.key).sort(), [...n.permissions].sort()]);
          return JSON.stringify(got) === expected;
        },
      };
    });
}

// ── Load ───────────────────────────────────────────────────────────────────

/** autocannon for `seconds` on one URL, cycling over the probes; each answer checked against its own probe. */
const load = (name: string, seconds: number, url: string, headers: Record<string, string>, probes: Probe[], serverPid: number): Promise<Row> =>
  loadProbes({ name, seconds, url, headers, probes, serverPid, connections: CONNECTIONS, answered: (status, body, probe) => status === 200 && probe.check(body) });

// ── The bare node:http handler (a child: `organizations.ts baseline <provider> <url>`) ──

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

// Copied from src/modules/organizations/access.store.ts: the baseline runs the gateway's statements, not its code.
const globalPermissionsSql = (n: number) => `SELECT DISTINCT ur."userId" AS "userId", p."key" AS "key"
           FROM "UserRole" ur
           JOIN "RolePermission" rp ON rp."roleId" = ur."roleId"
           JOIN "Permission" p ON p."id" = rp."permissionId"
          WHERE ur."userId" IN (${placeholders(n)})`;
const organizationPermissionsSql = (n: number) => `SELECT DISTINCT m."userId" AS "userId", p."key" AS "key"
           FROM "Membership" m
           JOIN "MembershipRole" mr ON mr."membershipId" = m."id"
           JOIN "RolePermission" rp ON rp."roleId" = mr."roleId"
           JOIN "Permission" p ON p."id" = rp."permissionId"
          WHERE m."organizationId" = ? AND m."userId" IN (${placeholders(n)})`;
// A page of members, oldest first, with their users; then their roles by key.
const membersSql = `SELECT m."id" AS "id", u."id" AS "userId", u."email" AS "email"
   FROM "Membership" m JOIN "User" u ON u."id" = m."userId"
  WHERE m."organizationId" = ?
  ORDER BY m."createdAt", m."id"
  LIMIT ${PAGE}`;
const memberRolesSql = (n: number) => `SELECT mr."membershipId" AS "membershipId", r."key" AS "key"
   FROM "MembershipRole" mr JOIN "Role" r ON r."id" = mr."roleId"
  WHERE mr."membershipId" IN (${placeholders(n)})
  ORDER BY r."key"`;

async function baselineServer(provider: Provider, databaseUrl: string) {
  const { createDatabase } = await import('../src/kernel/db/client.js');
  const database = await createDatabase(provider, databaseUrl);
  const { direct } = database;

  async function can(body: { variables: { i: { userId: string; permission: string; organizationId?: string | null } } }) {
    const { userId, permission, organizationId } = body.variables.i;
    const rows = organizationId
      ? await direct.all<{ userId: string; key: string }>(organizationPermissionsSql(1), [organizationId, userId])
      : await direct.all<{ userId: string; key: string }>(globalPermissionsSql(1), [userId]);
    return { data: { can: rows.some((r) => r.key === permission) } };
  }

  async function members(body: { variables: { id: string } }) {
    const organizationId = body.variables.id;
    const page = await direct.all<{ id: string; userId: string; email: string | null }>(membersSql, [organizationId]);
    const [roles, permissions] = page.length
      ? await Promise.all([
          direct.all<{ membershipId: string; key: string }>(memberRolesSql(page.length), page.map((m) => m.id)),
          direct.all<{ userId: string; key: string }>(organizationPermissionsSql(page.length), [organizationId, ...page.map((m) => m.userId)]),
        ])
      : [[], []];
    const rolesOf = new Map<string, { key: string }[]>(page.map((m) => [m.id, []]));
    for (const r of roles) rolesOf.get(r.membershipId)!.push({ key: r.key });
    const permissionsOf = new Map<string, string[]>(page.map((m) => [m.userId, []]));
    for (const p of permissions) permissionsOf.get(p.userId)!.push(p.key);
    const edges = page.map((m) => ({ node: { user: { id: m.userId, email: m.email }, roles: rolesOf.get(m.id), permissions: permissionsOf.get(m.userId)!.sort() } }));
    return { data: { organization: { members: { edges } } } };
  }

  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      try {
        const body = JSON.parse(raw);
        const answer = req.url === '/can' ? await can(body) : await members(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
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
  seeding: string;
}

async function benchProvider(provider: Provider, seed: Seed, can: Probe[], members: Probe[]): Promise<ProviderResult> {
  const { databaseUrl, dataDir, cleanup } = await benchDatabase(provider);
  const rows: Row[] = [];
  const ratios: string[] = [];
  console.log(`${provider}: starting the gateway`);
  const gateway = await startChild([gatewayScript(), 'start'], { ...gatewayEnv({ databaseUrl, dataDir }), LOG_LEVEL: 'warn' }, GATEWAY_LISTENING);
  let baseline: { child: ChildProcess; url: string } | undefined;
  try {
    const url = gateway.url;
    const t0 = performance.now();
    const inserted = await insertSeed(provider, databaseUrl, seed);
    const seeding = `${provider}: seeded ${inserted.toLocaleString('en-US')} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    console.log(seeding);
    // The bare handler idles (no CPU) while the gateway is loaded, and the other way round.
    baseline = await startChild(['--import', 'tsx', 'bench/organizations.ts', 'baseline', provider, databaseUrl], {}, /baseline listening on (\S+)/);
    const bare = baseline;
    const headers = { authorization: `Bearer ${API_KEY}` };

    if (CASES.has('can')) {
      console.log(`${provider}: can`);
      const [gatewayCan, bareCan] = await alternate(
        (sec) => load(`${provider}: can`, sec, url, headers, can, gateway.child.pid!),
        (sec) => load(`${provider}: bare node:http can`, sec, `${bare.url}can`, {}, can, bare.child.pid!),
        { durationS: DURATION_S, rounds: ROUNDS, warmupS: WARMUP_S, log: true },
      );
      rows.push(gatewayCan, bareCan);
      ratios.push(`${provider}: can ÷ bare node:http handler = ${(gatewayCan.rps / bareCan.rps).toFixed(2)} (target ≥ 0.5)`);
    }

    if (CASES.has('floor')) {
      // The same key and HTTP path with nothing to resolve: what GraphQL itself (yoga, validation, execution) leaves of
      // the bare handler's rate, so the most any operation can reach against it here.
      console.log(`${provider}: { __typename } (the GraphQL floor)`);
      const empty: Probe[] = [{ body: JSON.stringify({ query: '{ __typename }' }), check: (body) => body === '{"data":{"__typename":"Query"}}' }];
      const [gatewayEmpty, bareCan] = await alternate(
        (sec) => load(`${provider}: { __typename }`, sec, url, headers, empty, gateway.child.pid!),
        (sec) => load(`${provider}: bare node:http can`, sec, `${bare.url}can`, {}, can, bare.child.pid!),
        { durationS: DURATION_S, rounds: ROUNDS, warmupS: WARMUP_S, log: true },
      );
      rows.push(gatewayEmpty, bareCan);
      ratios.push(`${provider}: { __typename } ÷ bare node:http can = ${(gatewayEmpty.rps / bareCan.rps).toFixed(2)} (the GraphQL floor: no operation reaches more)`);
    }

    const missing = CASES.has('members') ? await missingForMembers(url) : undefined;
    if (!CASES.has('members')) {
      console.log(`${provider}: organization members not asked for (BENCH_CASES)`);
    } else if (missing) {
      const reason = `${provider}: organization members skipped: the schema has no ${missing}`;
      console.log(reason);
      ratios.push(reason);
    } else {
      console.log(`${provider}: organization members(first: ${PAGE})`);
      const [gatewayMembers, bareMembers] = await alternate(
        (sec) => load(`${provider}: organization members`, sec, url, headers, members, gateway.child.pid!),
        (sec) => load(`${provider}: bare node:http members`, sec, `${bare.url}members`, {}, members, bare.child.pid!),
        { durationS: DURATION_S, rounds: ROUNDS, warmupS: WARMUP_S, log: true },
      );
      rows.push(gatewayMembers, bareMembers);
      ratios.push(`${provider}: organization members ÷ bare node:http handler = ${(gatewayMembers.rps / bareMembers.rps).toFixed(2)}`);
    }
    return { rows, ratios, seeding };
  } finally {
    await stopChild(gateway.child);
    if (baseline) await stopChild(baseline.child);
    await cleanup();
  }
}

/** What case 2 needs and the running schema lacks (asked once, by introspection), or undefined. */
async function missingForMembers(url: string): Promise<string | undefined> {
  const data = await graphqlCall(url, '{ q: __type(name: "Query") { fields { name } } o: __type(name: "Organization") { fields { name } } m: __type(name: "Membership") { fields { name } } }');
  const has = (type: { fields: { name: string }[] } | null, field: string) => !!type?.fields.some((f) => f.name === field);
  if (!has(data.q, 'organization')) return '`Query.organization`';
  if (!has(data.o, 'members')) return '`Organization.members`';
  if (!has(data.m, 'permissions')) return '`Membership.permissions`';
  return undefined;
}

// ── Report ─────────────────────────────────────────────────────────────────

function table(rows: Row[], ratios: string[]): string {
  const cpu = (r: Row) => (r.cpu ? `${r.cpu.all.toFixed(2)} (${r.cpu.main.toFixed(2)})` : '–');
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
  console.log(
    `organizations bench: ${PROVIDERS.join(', ')}; ${DURATION_S} s per side and case in ${ROUNDS} round(s) after ${WARMUP_S} s of warm-up, ${CONNECTIONS} connections`,
  );
  const t0 = performance.now();
  const seed = await makeSeed();
  const { probes: can, yes } = canProbes(seed);
  const members = memberProbes(seed);
  const large = seed.organizations.filter((o) => o.members.length > PAGE).length;
  const shape =
    `${ORGANIZATIONS.toLocaleString('en-US')} organizations, ${USERS.toLocaleString('en-US')} users, ${seed.memberships.length.toLocaleString('en-US')} memberships ` +
    `(${large} organizations with ${LARGE_SIZE} members), ${seed.permissions.length} permissions, ${seed.orgRoles.length} ORGANIZATION and ${seed.globalRoles.length} GLOBAL roles`;
  console.log(`data set: ${shape}; ${can.length} can checks (${yes} true); generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const rows: Row[] = [];
  const ratios: string[] = [];
  const seedings: string[] = [];
  for (const provider of PROVIDERS) {
    const r = await benchProvider(provider, seed, can, members);
    for (const row of r.rows) console.log(describeRow(row));
    rows.push(...r.rows);
    ratios.push(...r.ratios);
    seedings.push(r.seeding);
  }
  const text = table(rows, ratios);
  console.log(`\n${text}\n\n(${((Date.now() - started) / 1000).toFixed(0)} s in all)`);

  const section = [
    '## organizations',
    '',
    '`npm run bench -- organizations` (bench/organizations.ts). The gateway runs as a child process on 127.0.0.1 with a random',
    `port (with ${gatewayRunAs()}), on ${PROVIDERS.map((p) => ({ sqlite: 'SQLite', postgresql: 'PostgreSQL' })[p]).join(' and then ')}, over a data set written straight to the database before the loads:`,
    `${shape} (every membership with 1 or 2 roles of 3 to 8 permissions; a fifth of the users with a GLOBAL role).`,
    `${seedings.join('; ')}. autocannon drives each case for ${DURATION_S} s with ${CONNECTIONS} connections, in ${ROUNDS} rounds`,
    `alternating with its baseline after ${WARMUP_S} s of unmeasured warm-up on each side, against a bare node:http handler (a`,
    'child process) that parses the same JSON body and runs the same statements, prepared once on the same driver',
    '(src/kernel/db/direct.ts), and answers the same JSON:',
    '',
    `- \`can(input: { userId, permission, organizationId })\` with an API key, cycling over ${can.length.toLocaleString('en-US')} checks whose answers`,
    `  the seed implies (${Math.round((100 * yes) / can.length)}% true): a permission the member holds or lacks, a user who is not a member, and`,
    '  checks without an organization (GLOBAL roles). The bare handler runs the statement of access.store.ts',
    '  (`organizationPermissions` or `globalPermissions`) for one user. Every answer is compared with the seed.',
    `- \`organization(id) { members(first: ${PAGE}) { edges { node { user { id email } roles { key } permissions } } } }\`, cycling`,
    `  over the ${large} organizations with ${LARGE_SIZE} members. The bare handler reads the page of members with their users, then`,
    "  their roles and their permissions (access.store.ts's statement for 50 users) together: three statements.",
    `  Every answer is checked for errors; one in ${SAMPLE_EVERY} is compared in full with the seed.`,
    '- `{ __typename }` with the same key, against the bare `can` handler: the GraphQL floor, a reference and not a target',
    '  (see below).',
    '',
    `p50/p99 are request-weighted means over the rounds. Measured on ${machine()}, ${new Date().toISOString().slice(0, 10)}:`,
    '',
    text,
  ].join('\n');
  writeReadmeSection('organizations', section);
}

if (process.argv[2] === 'baseline') {
  await baselineServer(process.argv[3] as Provider, process.argv[4]);
} else {
  await main();
}
