/**
 * The data set of the search row (search.ts): 1,000,000 users with realistic
 * names, emails and usernames from a fixed pseudo-random seed, written
 * straight to the database with bulk inserts, and kept between runs: a SQLite
 * file and a PostgreSQL database whose names carry a hash of
 * prisma/migrations and of this generator, reused while both are unchanged.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { prng, root, type Provider } from '../lib.js';

export { prng };

/** Change when the generator changes: the cached data sets are then made anew. */
const GENERATOR_VERSION = 1;
export const USERS = Number(process.env.BENCH_SEARCH_USERS ?? 1_000_000);
const POSTGRES_ADMIN = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

// Names of several languages, a few with letters beyond ASCII; drawn with a skew, so some are common and some rare.
export const GIVEN = (
  'James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph Jessica Thomas Sarah ' +
  'Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily ' +
  'Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca Jason Sharon ' +
  'Edward Laura Jeffrey Cynthia Ryan Kathleen Jacob Amy Gary Angela Nicholas Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry ' +
  'Emma Justin Nicole Scott Helen Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel Frank Carolyn ' +
  'Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia Nathan Joyce Henry Virginia ' +
  'Lukas Sophie Maximilian Hannah Felix Lena Jonas Leonie Elias Marie Noah Mia Luis Emilia Paul Lea Ben Clara Finn Ella Mateo Lucia ' +
  'Hugo Chloé Léa Zoë Renée José Søren Åsa Björn Łukasz Zofia Agnieszka Piotr Kasia Yuki Haruto Sakura Wei Jing Min-jun Seo-yeon ' +
  'Arjun Priya Aarav Ananya Mohammed Fatima Omar Aisha Youssef Leila Mehmet Elif Ivan Olga Dmitri Anastasia Giulia Matteo Francesca'
).split(' ');
export const FAMILY = (
  'Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor ' +
  'Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott ' +
  'Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz ' +
  'Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed ' +
  'Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo ' +
  'Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf Schröder Neumann Schwarz ' +
  'Dubois Lefèvre Moreau Laurent Girard Bonnet Dupont Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco ' +
  'Kowalski Nowak Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Novák Svoboda Horváth Nagy Kovács ' +
  'Johansson Andersson Karlsson Nilsson Eriksson Larsen Hansen Jensen Nielsen Pedersen Virtanen Korhonen Tanaka Suzuki Takahashi ' +
  'Watanabe Yamamoto Nakamura Chen Wang Zhang Liu Yang Huang Zhao Wu Zhou Park Choi Jung Kang Patel Sharma Singh Kumar Gupta ' +
  'Khan Ali Hussain Ahmed Yilmaz Kaya Demir Ivanov Petrov Smirnov Popescu Ionescu Papadopoulos Silva Santos Oliveira Pereira Costa'
).split(' ');
const DOMAINS = [
  ['gmail.com', 30], ['outlook.com', 14], ['yahoo.com', 9], ['icloud.com', 7], ['hotmail.com', 6], ['proton.me', 4], ['gmx.de', 3],
  ['web.de', 2], ['orange.fr', 2], ['libero.it', 1], ['wp.pl', 1], ['mail.ru', 1], ['qq.com', 1], ['acme-corp.com', 3], ['initech.io', 2],
  ['globex.net', 2], ['umbrella.co', 1], ['hooli.xyz', 1], ['stark-industries.com', 1], ['wayne-enterprises.com', 1], ['example.org', 8],
] as const;

export interface SeedUser {
  email: string;
  username: string | null;
  givenName: string;
  familyName: string;
  displayName: string | null;
}

/** A skewed pick (about Zipf-like): early entries are drawn far more often than late ones. */
const skewed = <T>(random: () => number, xs: readonly T[]) => xs[Math.floor(xs.length * random() ** 2.2)];
const fold = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[łŁ]/g, 'l').toLowerCase();

/** The users, in creation order (the i-th is created i ms after the first). */
export function makeUsers(count = USERS): SeedUser[] {
  const random = prng(20261217);
  const domainTotal = DOMAINS.reduce((n, [, w]) => n + w, 0);
  const domain = () => {
    let r = random() * domainTotal;
    for (const [d, w] of DOMAINS) if ((r -= w) < 0) return d;
    return DOMAINS[0][0];
  };
  const users: SeedUser[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const given = skewed(random, GIVEN);
    const family = skewed(random, FAMILY);
    const g = fold(given);
    const f = fold(family);
    const style = random();
    const local = style < 0.35 ? `${g}.${f}` : style < 0.55 ? `${g[0]}${f}` : style < 0.7 ? `${g}${f}` : style < 0.85 ? `${g}_${f[0]}` : `${f}.${g}`;
    // The index keeps every email and username unique, as in a real directory where "john.smith" is long taken.
    const email = `${local}${i}@${domain()}`;
    const username = random() < 0.7 ? `${g}${f.slice(0, 3)}${i}` : null;
    users[i] = { email, username, givenName: given, familyName: family, displayName: random() < 0.8 ? `${given} ${family}` : null };
  }
  return users;
}

/** Identifies a data set: the provider's migrations it was migrated with, this generator and the size. */
export function seedKey(provider: Provider): string {
  const hash = createHash('sha256').update(`${GENERATOR_VERSION}:${USERS}`);
  const dir = path.join(root, 'prisma', 'migrations', provider);
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name, 'migration.sql');
    if (existsSync(file)) hash.update(name).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 12);
}

const cacheDir = path.join(root, 'bench', 'results', 'cache');
const pgName = (key: string) => `portcullis_search_${key}`;

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: POSTGRES_ADMIN });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

function pgUrl(name: string): string {
  const u = new URL(POSTGRES_ADMIN);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * The database URL of the data set for `provider`, made (and timed) when no
 * cached copy exists. Copies of other keys are removed: they belong to older
 * migrations or generators.
 */
export async function searchDatabase(provider: Provider, log: (line: string) => void): Promise<{ databaseUrl: string; seededInS?: number }> {
  const key = seedKey(provider);
  if (provider === 'sqlite') {
    mkdirSync(cacheDir, { recursive: true });
    const file = path.join(cacheDir, `search-${key}.db`);
    for (const f of readdirSync(cacheDir)) if (f.startsWith('search-') && !f.startsWith(`search-${key}.db`)) rmSync(path.join(cacheDir, f), { force: true });
    if (existsSync(file)) return { databaseUrl: `file:${file}` };
    const partial = `${file}.partial`;
    rmSync(partial, { force: true });
    const t0 = performance.now();
    await seedSqlite(partial, log);
    renameSync(partial, file);
    return { databaseUrl: `file:${file}`, seededInS: (performance.now() - t0) / 1000 };
  }
  const name = pgName(key);
  const existing = await admin(async (c) => (await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'portcullis_search_%'")).rows.map((r) => r.datname));
  for (const other of existing.filter((d) => d !== name)) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${other} WITH (FORCE)`));
  if (existing.includes(name)) return { databaseUrl: pgUrl(name) };
  const partial = `${name}_partial`;
  const t0 = performance.now();
  await admin((c) => c.query(`CREATE DATABASE ${partial}`));
  await seedPostgres(pgUrl(partial), log);
  await admin((c) => c.query(`ALTER DATABASE ${partial} RENAME TO ${name}`));
  return { databaseUrl: pgUrl(name), seededInS: (performance.now() - t0) / 1000 };
}

/** Creation times: one user a millisecond, ending a day ago. */
const BASE = Date.UTC(2026, 0, 1);
const createdAt = (i: number) => new Date(BASE + i);

async function seedSqlite(file: string, log: (line: string) => void) {
  const { migrate } = await import('../../src/kernel/db/migrator.js');
  await migrate('sqlite', `file:${file}`);
  const users = makeUsers();
  log(`seeding ${USERS.toLocaleString('en-US')} users into SQLite (the search index is kept by the migration's triggers)`);
  const { default: Sqlite } = await import('better-sqlite3');
  const db = new Sqlite(file);
  try {
    db.pragma('journal_mode = WAL');
    const at = (i: number) => createdAt(i).toISOString().replace('Z', '+00:00');
    const columns = '"id", "email", "emailNormalized", "username", "usernameNormalized", "givenName", "familyName", "displayName", "createdAt", "updatedAt"';
    const insert = db.prepare(`INSERT INTO "User" (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const chunk = 50_000;
    for (let from = 0; from < users.length; from += chunk) {
      db.transaction(() => {
        for (let i = from; i < Math.min(users.length, from + chunk); i++) {
          const u = users[i];
          insert.run(userId(i), u.email, u.email, u.username, u.username, u.givenName, u.familyName, u.displayName, at(i), at(i));
        }
      })();
    }
    // The FTS index merges its segments, and the planner gets statistics, as a database that has lived a while has.
    db.exec(`INSERT INTO "UserSearch" ("UserSearch", rank) VALUES ('optimize', 0)`);
    db.exec('ANALYZE');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

async function seedPostgres(databaseUrl: string, log: (line: string) => void) {
  const { migrate } = await import('../../src/kernel/db/migrator.js');
  await migrate('postgresql', databaseUrl);
  const users = makeUsers();
  log(`seeding ${USERS.toLocaleString('en-US')} users into PostgreSQL (indexes dropped during the load and made again after it)`);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // Building an index once over the loaded table is much faster than keeping it row by row.
    const { rows: indexes } = await client.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'User' AND indexname <> 'User_pkey'`,
    );
    await client.query('BEGIN');
    for (const ix of indexes) await client.query(`DROP INDEX "${ix.indexname}"`);
    const sql = `INSERT INTO "User" ("id", "email", "emailNormalized", "username", "usernameNormalized", "givenName", "familyName", "displayName", "createdAt", "updatedAt")
      SELECT * FROM unnest($1::text[], $2::text[], $2::text[], $3::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamp[], $7::timestamp[])`;
    for (let from = 0; from < users.length; from += 20_000) {
      const idx = Array.from({ length: Math.min(20_000, users.length - from) }, (_, k) => from + k);
      await client.query(sql, [
        idx.map(userId),
        idx.map((i) => users[i].email),
        idx.map((i) => users[i].username),
        idx.map((i) => users[i].givenName),
        idx.map((i) => users[i].familyName),
        idx.map((i) => users[i].displayName),
        idx.map((i) => createdAt(i).toISOString()),
      ]);
    }
    for (const ix of indexes) await client.query(ix.indexdef);
    await client.query('COMMIT');
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

/** Ids in the gateway's form (usr_ and 26 characters), fixed by the index, so probes know them. */
export const userId = (i: number) => `usr_0000000000S${String(i).padStart(15, '0')}`;
