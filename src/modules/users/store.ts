/**
 * The users module's reads of user lists and its writes: every change to a
 * User row made by the users and contacts services goes through one of these
 * functions. Each runs
 * inside the caller's transaction (`tx`), where the service also records the
 * change's event; the rules (which transitions exist, what a changed address
 * means) stay in the services.
 */
import type { DatabaseProvider } from '../../config.js';
import { Prisma, type Db, type Tx } from '../../kernel/db/client.js';
import { PLAN_EACH_CALL, type DirectReads, type DirectSql, type SqlParam, type Statement } from '../../kernel/db/direct.js';
import { idListParam, inIdListDirect } from '../../kernel/db/id-list.js';
import type { User, UserState } from '../../kernel/db/models.js';
import { USER_COLUMNS, USER_ROW } from '../../kernel/db/rows.js';
import { newId } from '../../kernel/ids.js';
import { isShortQuery, userTextWhere } from './text-match.js';

/** Profile columns a service may set; absent leaves a column alone, null clears it. */
export type ProfileColumns = Partial<
  Pick<
    User,
    'email' | 'emailNormalized' | 'emailVerifiedAt' | 'phone' | 'phoneVerifiedAt' | 'username' | 'usernameNormalized' | 'givenName' | 'familyName' | 'displayName'
  >
> & { publicMetadata?: object | null; privateMetadata?: object | null; unsafeMetadata?: object | null };

/** The three metadata parts as stored (null: never written, read as {}). */
export type MetadataColumns = Pick<User, 'publicMetadata' | 'privateMetadata' | 'unsafeMetadata'>;

/** The columns a lifecycle transition writes besides the state. */
export type StateColumns = Pick<Prisma.UserUpdateManyMutationInput, 'lockedReason' | 'lockedUntil' | 'failedPasswordAttempts' | 'failedCodeAttempts'>;

/** Which address: email (keyed by emailNormalized) or phone (stored in E.164, its own key). */
export type ContactField = 'email' | 'phone';

const addressColumns = {
  email: { key: 'emailNormalized', verifiedAt: 'emailVerifiedAt' },
  phone: { key: 'phone', verifiedAt: 'phoneVerifiedAt' },
} as const;

/** Instants from `from` (inclusive) to `to` (exclusive); an end left out is open. */
export interface InstantRange {
  from?: Date | null;
  to?: Date | null;
}

/** What a user list may be narrowed by. */
export interface UserListFilter {
  /** Text over email, username and names. */
  query?: string | null;
  state?: UserState | null;
  /** An exact email, compared case-insensitively. */
  email?: string | null;
  createdAt?: InstantRange | null;
  /** Users who never signed in have no lastLoginAt and match no range. */
  lastLoginAt?: InstantRange | null;
  /** Users never active (no sign-in or refresh recorded) have no lastActiveAt and match no range. */
  lastActiveAt?: InstantRange | null;
  /** Users whose publicMetadata holds this scalar at this path of object keys. */
  metadata?: MetadataMatch | null;
}

/** A scalar at a path of object keys (["billing", "tier"]) in publicMetadata. */
export interface MetadataMatch {
  path: string[];
  equals: string | number | boolean;
}

export type UserListField = 'CREATED_AT' | 'EMAIL' | 'LAST_LOGIN_AT' | 'LAST_ACTIVE_AT';
export interface UserListOrder {
  field: UserListField;
  /** Default ASC. */
  direction?: 'ASC' | 'DESC' | null;
}

const rangeWhere = (range: InstantRange) => ({ ...(range.from ? { gte: range.from } : {}), ...(range.to ? { lt: range.to } : {}) });

/** The `where` of a user list. */
export function userListWhere(provider: DatabaseProvider, filter: UserListFilter): Prisma.UserWhereInput {
  const and: Prisma.UserWhereInput[] = [];
  const q = filter.query?.trim();
  if (q) and.push(userTextWhere(provider, q));
  if (filter.state) and.push({ state: filter.state });
  if (filter.email) and.push({ emailNormalized: filter.email.trim().toLowerCase() });
  if (filter.createdAt) and.push({ createdAt: rangeWhere(filter.createdAt) });
  // A range with neither end still means "has signed in": never-signed-in users have no instant to be in it.
  if (filter.lastLoginAt) and.push({ lastLoginAt: { not: null, ...rangeWhere(filter.lastLoginAt) } });
  if (filter.lastActiveAt) and.push({ lastActiveAt: { not: null, ...rangeWhere(filter.lastActiveAt) } });
  if (filter.metadata) and.push(metadataPathWhere(provider, filter.metadata));
  return and.length ? { AND: and } : {};
}

/**
 * The exact test of a metadata match, as Prisma writes it: SQLite compares
 * `"publicMetadata" -> '$."billing"."tier"'` (the value as JSON text, so
 * "1" and 1, or "true" and true, stay apart); PostgreSQL compares
 * `"publicMetadata" #> '{billing,tier}'` as jsonb. The cast: the SQLite
 * client's type names SQLite's string path, the PostgreSQL client takes an
 * array.
 */
function metadataPathWhere(provider: DatabaseProvider, match: MetadataMatch): Prisma.UserWhereInput {
  const path = provider === 'postgresql' ? match.path : `$${match.path.map((key) => `."${key}"`).join('')}`;
  return { publicMetadata: { path, equals: match.equals } as unknown as Prisma.JsonNullableFilter<'User'> };
}

/**
 * Above this many users matching a metadata filter, the GIN index stops
 * narrowing a list usefully: most rows match, and the page's own order
 * index finds them sooner.
 */
const METADATA_INDEX_CANDIDATES = 1000;

/**
 * On PostgreSQL, the users a metadata filter can match, found through the
 * GIN index on publicMetadata (jsonb_path_ops answers `@>`, never the path
 * comparison Prisma writes): `{ id: { in: [...] } }` when they are at most
 * METADATA_INDEX_CANDIDATES, else nothing to add. For a scalar under
 * object keys, containment and the path comparison agree; the path test of
 * userListWhere still applies, as the rows may change between the two reads.
 * SQLite has no index that serves a path chosen at query time: its filter
 * reads each row's JSON.
 */
export async function metadataCandidates(db: Db, provider: DatabaseProvider, match: MetadataMatch | null | undefined): Promise<Prisma.UserWhereInput | null> {
  if (!match || provider !== 'postgresql') return null;
  const contained = match.path.reduceRight<unknown>((value, key) => ({ [key]: value }), match.equals);
  const rows = await db.$queryRaw<Array<{ id: string }>>(
    Prisma.sql`SELECT "id" FROM "User" WHERE "publicMetadata" @> ${JSON.stringify(contained)}::jsonb LIMIT ${METADATA_INDEX_CANDIDATES + 1}`,
  );
  return rows.length > METADATA_INDEX_CANDIDATES ? null : { id: { in: rows.map((r) => r.id) } };
}

/**
 * Most users a text search reads from its index. Up to this many, the page is
 * narrowed to them and totalCount is exact; beyond, the query is common, so
 * the page's own order index finds matches at once, and totalCount stops
 * here (UserConnection.totalCountExact says so).
 */
export const SEARCH_COUNT_LIMIT = 1000;

/**
 * What the search index says of a query: the users it may match (at most
 * SEARCH_COUNT_LIMIT; `exact` when they are exactly the users the `where`'s
 * text test matches, else a few more), or that more than that many match.
 */
export type TextCandidates = { ids: string[]; exact: boolean } | { many: true; search?: TextSearch };

/**
 * How the users an exact query matches are found in SQL (see findTextPageIds):
 * SQLite's FTS5 query.
 */
export type TextSearch = { match: string };

/**
 * SQLite: how many users hold every trigram of an FTS5 query (the index of
 * the search migration), up to the LIMIT, and when no more than the second
 * parameter, their ids as one JSON array. FTS5 streams its matches, so the
 * LIMIT bounds the work even for a query every user matches; one row comes
 * back, not a row per match (on the reader thread, each row is copied to the
 * main thread).
 */
export const SQLITE_MATCH_IDS_SQL = `WITH "m" AS MATERIALIZED (SELECT rowid AS "key" FROM "UserSearch" WHERE "UserSearch" MATCH ? LIMIT ?)
  SELECT "n", CASE WHEN "n" <= ? THEN (SELECT json_group_array(k."userId") FROM "m" JOIN "UserSearchKey" k ON k."key" = "m"."key") END AS "ids"
    FROM (SELECT count(*) AS "n" FROM "m")`;

/** SQLite: the users an FTS5 query matches, up to `limit` + 1 of them; their ids are read only when at most `limit`. */
async function sqliteMatches(direct: DirectReads, match: string, limit: number): Promise<string[] | 'many'> {
  const [found] = await direct.all<{ n: number; ids: string | null }>(SQLITE_MATCH_IDS_SQL, [match, limit + 1, limit]);
  return found.n > limit ? 'many' : (JSON.parse(found.ids ?? '[]') as string[]);
}

/**
 * PostgreSQL: how many users the pg_trgm GIN index of "searchText" finds for a
 * pattern (up to the LIMIT), and their ids as one JSON text when no more than
 * the first parameter. Planned for each pattern (PLAN_EACH_CALL): a common one
 * is read in table order until the LIMIT, a rare one through the index.
 */
export const PG_TEXT_CANDIDATES_SQL = `${PLAN_EACH_CALL}SELECT count(*)::int AS "n", CASE WHEN count(*) <= ? THEN json_agg("id")::text END AS "ids"
  FROM (SELECT "id" FROM "User" WHERE "searchText" LIKE lower(?) LIMIT ?) m`;

/** Rows a short query's probe reads: when more than SEARCH_COUNT_LIMIT of them match, the query is common. */
export const SHORT_QUERY_PROBE_ROWS = 20_000;

/** Rows the probe reads with one statement: a few milliseconds of the reader thread, which other searches share between them. */
export const SHORT_QUERY_PROBE_CHUNK = 2_500;

/**
 * One stretch of the probe: of the next rows in table order after a rowid,
 * how many match (userTextWhere's own comparisons) and the last rowid read.
 */
export const SQLITE_SHORT_PROBE_SQL = `SELECT count(*) AS "rows", max(r) AS "last", total(m) AS "n" FROM (
  SELECT rowid AS r, ("emailNormalized" LIKE ? OR "usernameNormalized" LIKE ? OR "givenName" LIKE ? OR "familyName" LIKE ? OR "displayName" LIKE ?) AS m
    FROM "User" WHERE rowid > ? ORDER BY rowid LIMIT ?)`;

/** The index's trigrams that begin with a short query (as the index holds it). */
const SQLITE_TERMS_SQL = `SELECT "term" FROM "UserSearchTerms" WHERE "term" >= ? AND "term" < ?`;

const phrase = (s: string) => `"${s.replace(/"/g, '""')}"`;
/** What SQLite's lower() and LIKE fold: ASCII letters only. */
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * The text a query is looked for in the index, per group of columns: userTextWhere
 * compares email and username with the lower-cased query, names with the
 * query as given, by LIKE (which folds ASCII letters only, as the index does).
 */
function indexedForms(query: string): { keys: string; names: string } {
  return { keys: asciiLower(query.toLowerCase()), names: asciiLower(query) };
}

/** An FTS5 query: `expr(form)` in the columns each form is looked for in (one expression when both forms agree). */
function perColumns(forms: { keys: string; names: string }, expr: (form: string) => string): string {
  if (forms.keys === forms.names) return expr(forms.keys);
  return `{emailNormalized usernameNormalized} : (${expr(forms.keys)}) OR {givenName familyName displayName} : (${expr(forms.names)})`;
}

/**
 * The FTS5 query for a query of SUBSTRING_MIN characters or more, or null
 * when the index cannot narrow it: the phrase of its trigrams, which matches
 * exactly the users userTextWhere matches. `%` and `_` are LIKE wildcards in
 * the `where` (Prisma does not escape them), so a query holding them is
 * looked up by its literal pieces of three characters or more, all of which
 * a matching value holds (`exact` false: a few more users than match).
 */
export function ftsQuery(query: string): { match: string; exact: boolean } | null {
  const forms = indexedForms(query);
  if (!/[%_]/.test(query)) return { match: perColumns(forms, phrase), exact: true };
  const pieces = (form: string) =>
    form
      .split(/[%_]+/)
      .filter((p) => !isShortQuery(p))
      .map(phrase)
      .join(' AND ');
  if (!pieces(forms.keys) || !pieces(forms.names)) return null;
  return { match: perColumns(forms, pieces), exact: false };
}

/**
 * SQLite, a query of one or two characters: no trigram holds it whole, but
 * every occurrence begins one (the migration follows each value with two
 * U+0002). The trigrams beginning with it are read from the index's
 * vocabulary, whose cost grows with the users they occur in; so a probe of
 * the first SHORT_QUERY_PROBE_ROWS users (in table order, a stretch at a
 * time) comes first, and a query common enough to make the vocabulary costly
 * is settled there: more than SEARCH_COUNT_LIMIT of them match, and the
 * page's order index finds its rows at once. Wildcards: null, as for ftsQuery.
 */
async function shortQueryMatch(direct: DirectReads, query: string): Promise<{ match: string } | TextCandidates | null> {
  if (/[%_]/.test(query)) return null;
  const lower = `%${query.toLowerCase()}%`;
  const asIs = `%${query}%`;
  let found = 0;
  let read = 0;
  let after = Number.MIN_SAFE_INTEGER;
  while (read < SHORT_QUERY_PROBE_ROWS) {
    const want = Math.min(SHORT_QUERY_PROBE_CHUNK, SHORT_QUERY_PROBE_ROWS - read);
    const rows: Array<{ rows: number; last: number | null; n: number }> = await direct.all(SQLITE_SHORT_PROBE_SQL, [lower, lower, asIs, asIs, asIs, after, want]);
    const [chunk] = rows;
    found += chunk.n;
    if (found > SEARCH_COUNT_LIMIT) return { many: true };
    if (chunk.rows < want || chunk.last === null) break;
    read += chunk.rows;
    after = chunk.last;
  }
  const forms = indexedForms(query);
  const terms = new Map<string, string>();
  for (const form of new Set([forms.keys, forms.names])) {
    const found = await direct.all<{ term: string }>(SQLITE_TERMS_SQL, [form, `${form}\u{10FFFF}`]);
    terms.set(form, found.map((t) => phrase(t.term)).join(' OR '));
  }
  if (![...terms.values()].some(Boolean)) return { ids: [], exact: true };
  // A form no trigram begins with matches nothing: U+0001 is in no value's trigrams.
  return { match: perColumns(forms, (form) => terms.get(form) || phrase('\u0001\u0001\u0001')) };
}

/**
 * The users a text query matches, read through the search index: their ids
 * when at most SEARCH_COUNT_LIMIT, else `many` (then at least that many match
 * the `where`'s text test); null when no index serves the query (see
 * ftsQuery), and the page's `where` alone decides. On PostgreSQL
 * the pg_trgm GIN index of "searchText" serves the query from three
 * characters on (a shorter one is read in table order), planned for each
 * pattern (PG_TEXT_CANDIDATES_SQL). The statements are reads only, sent to
 * `direct`, the reader thread on SQLite.
 */
export async function findTextCandidates(direct: DirectReads, provider: DatabaseProvider, query: string): Promise<TextCandidates | null> {
  let ids: string[];
  if (provider === 'sqlite') {
    let match: string;
    if (isShortQuery(query)) {
      const short = await shortQueryMatch(direct, query);
      if (short === null || !('match' in short)) return short;
      match = short.match;
    } else {
      const fts = ftsQuery(query);
      if (fts === null) return null;
      match = fts.match;
      if (!fts.exact) {
        // More than SEARCH_COUNT_LIMIT candidates is no proof that as many match: let the `where` decide.
        const found = await sqliteMatches(direct, match, SEARCH_COUNT_LIMIT);
        return found === 'many' ? null : { ids: found, exact: false };
      }
    }
    const found = await sqliteMatches(direct, match, SEARCH_COUNT_LIMIT);
    if (found === 'many') return { many: true, search: { match } };
    ids = found;
  } else {
    // "searchText" (the search migration) holds the five columns lower-cased; LIKE on it finds what ILIKE finds on each.
    // One row, the ids as one JSON text (none past the limit), straight to the driver: Prisma's raw query planned in
    // WebAssembly for about 2 ms of the event loop per search.
    const [found] = await direct.all<{ n: number; ids: string | null }>(PG_TEXT_CANDIDATES_SQL, [SEARCH_COUNT_LIMIT, `%${query}%`, SEARCH_COUNT_LIMIT + 1]);
    // A wildcard (or U+0001 itself) may span two values of "searchText": more candidates than counted is then no proof.
    const wildcard = /[%_\u0001]/.test(query);
    // Many matches: the page comes from the list's `where` in its order. (The one LIKE of "searchText" walking the
    // order index measured slower under load: p50 about 200 ms against 100-140 ms, 10 connections, 1,000,000 users.)
    if (found.n > SEARCH_COUNT_LIMIT) return wildcard ? null : { many: true };
    ids = JSON.parse(found.ids ?? '[]') as string[];
    if (wildcard) return { ids, exact: false };
  }
  return ids.length > SEARCH_COUNT_LIMIT ? { many: true } : { ids, exact: true };
}

type SortColumn = 'createdAt' | 'emailNormalized' | 'lastLoginAt' | 'lastActiveAt';
type Dir = 'asc' | 'desc';

/** One stretch of a list's order, read with one query. */
interface Block {
  /** The rows with a value of the column (else those without one). */
  valued: boolean;
  where: Prisma.UserWhereInput;
  orderBy: Prisma.UserOrderByWithRelationInput[];
  /** The rows of this block beyond a cursor row of the same block, in the direction of travel. */
  beyond(at: CursorRow, cmp: 'gt' | 'lt'): Prisma.UserWhereInput;
  holds(at: CursorRow): boolean;
}

type CursorRow = { id: string } & Record<SortColumn, string | Date | null>;

/**
 * The total order of a user list, as blocks read one after the other: the
 * rows with a value, ordered by it and then by id, and (for a column that may
 * be empty) the rows without one, ordered by id; the id always goes in the
 * list's direction. Rows without a value come last both ways: a "latest
 * sign-ins" page starts with sign-ins, not with users who never signed in.
 *
 * Each block is a plain `ORDER BY column, id` (or `ORDER BY id`) that an
 * index serves forwards or backwards, on both databases. Prisma's `nulls:
 * 'last'` would put a CASE in SQLite's ORDER BY and NULLS LAST in
 * PostgreSQL's, which the (lastLoginAt, id) index cannot serve descending,
 * and its cursor on a column that may be null drops the LIMIT on PostgreSQL.
 */
function userListBlocks(order?: UserListOrder | null): { dir: Dir; column: SortColumn; blocks: Block[] } {
  const dir: Dir = order?.direction === 'DESC' ? 'desc' : 'asc';
  const columns: Record<UserListField, SortColumn> = { CREATED_AT: 'createdAt', EMAIL: 'emailNormalized', LAST_LOGIN_AT: 'lastLoginAt', LAST_ACTIVE_AT: 'lastActiveAt' };
  const column = columns[order?.field ?? 'CREATED_AT'];
  const valued: Block = {
    valued: true,
    where: column === 'createdAt' ? {} : { [column]: { not: null } },
    // emailNormalized is unique: it orders its block alone, as its index does.
    orderBy: column === 'emailNormalized' ? [{ [column]: dir }] : [{ [column]: dir }, { id: dir }],
    // (column, id) beyond (X, Y), written so that `column >= X` (or <=) bounds the index scan and the OR only sorts out rows equal to X.
    beyond: (at, cmp) => ({
      [column]: { [cmp === 'gt' ? 'gte' : 'lte']: at[column] },
      OR: [{ [column]: { [cmp]: at[column] } }, { id: { [cmp]: at.id } }],
    }),
    holds: (at) => at[column] !== null,
  };
  if (column === 'createdAt') return { dir, column, blocks: [valued] };
  const empty: Block = {
    valued: false,
    where: { [column]: null },
    orderBy: [{ id: dir }],
    beyond: (at, cmp) => ({ id: { [cmp]: at.id } }),
    holds: (at) => at[column] === null,
  };
  return { dir, column, blocks: [valued, empty] };
}

/** A page as plugin-prisma's connections ask for it: the selection, a cursor (the id) and a signed take. */
export interface UserPageQuery {
  select?: Prisma.UserSelect;
  include?: Prisma.UserInclude;
  cursor?: { id?: string };
  take: number;
  skip?: number;
}

const flip = (orderBy: Prisma.UserOrderByWithRelationInput[]) =>
  orderBy.map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === 'asc' ? 'desc' : 'asc'])) as Prisma.UserOrderByWithRelationInput);

/**
 * One page of a user list, in its total order (userListBlocks): `take` rows
 * after the cursor, or before it when `take` is negative (plugin-prisma's
 * `last`/`before`), in list order either way. A cursor naming a user that is
 * gone gives an empty page, as Prisma's own cursors do. Indexes: createdAt,
 * (lastLoginAt, id), (lastActiveAt, id), emailNormalized.
 */
export async function findUserPage(db: Db, page: UserPageQuery, where: Prisma.UserWhereInput, order?: UserListOrder | null): Promise<User[]> {
  const { cursor, skip: _skip, take, ...selection } = page;
  const { dir, blocks } = userListBlocks(order);
  const forward = take >= 0;
  // The blocks in the direction of travel; a backward page reads each block in reverse and turns the rows round at the end.
  const travel = forward ? blocks : [...blocks].reverse();
  const cmp = (dir === 'asc') === forward ? 'gt' : 'lt';
  let at: CursorRow | null = null;
  if (cursor?.id !== undefined) {
    at = await db.user.findUnique({ where: { id: cursor.id }, select: { id: true, createdAt: true, emailNormalized: true, lastLoginAt: true, lastActiveAt: true } });
    if (!at) return [];
  }
  const start = at ? travel.findIndex((block) => block.holds(at)) : 0;
  const rows: User[] = [];
  for (const [i, block] of travel.entries()) {
    const wanted = Math.abs(take) - rows.length;
    if (i < start || wanted <= 0) continue;
    const beyond = at && i === start ? block.beyond(at, cmp) : {};
    // The cast: the rows carry whatever the caller's select/include asked for, which plugin-prisma reads back.
    const found = (await db.user.findMany({
      ...selection,
      where: { AND: [where, block.where, beyond] },
      orderBy: forward ? block.orderBy : flip(block.orderBy),
      take: wanted,
    })) as User[];
    rows.push(...found);
  }
  return forward ? rows : rows.reverse();
}

/** The users a page is read from, as an SQL test of a User row. */
interface RowTest {
  sql: string;
  params: SqlParam[];
}

/**
 * The ids of one page of a list narrowed to `candidates`, in the total order
 * of userListBlocks and with findUserPage's cursor and `take`, worked out in
 * SQL on the candidates' sort keys: then Prisma reads only the page's rows.
 * Prisma plans a statement's parameters one by one in WebAssembly, which for
 * hundreds of ids in `id IN (...)` costs tens of milliseconds of the event
 * loop; here they are one JSON parameter. The candidates are the list's only
 * test (the caller's `where` is checked on the page's rows). Returns the ids
 * in list order; none when the cursor names a user that is gone.
 */
export function findCandidatePageIds(
  direct: DirectReads,
  provider: DatabaseProvider,
  candidates: string[],
  page: Pick<UserPageQuery, 'cursor' | 'take'>,
  order?: UserListOrder | null,
): Promise<string[]> {
  return findPageIdsWhere(direct, { sql: inIdListDirect(provider, '"id"'), params: [idListParam(candidates)] }, page, order);
}

/** findCandidatePageIds for the users `test` holds. */
async function findPageIdsWhere(direct: DirectReads, test: RowTest, page: Pick<UserPageQuery, 'cursor' | 'take'>, order?: UserListOrder | null): Promise<string[]> {
  const { dir, column, blocks } = userListBlocks(order);
  const forward = page.take >= 0;
  const travel = forward ? blocks : [...blocks].reverse();
  const cmp = (dir === 'asc') === forward ? '>' : '<';
  const sqlDir = (dir === 'asc') === forward ? 'ASC' : 'DESC';
  const cursorId = page.cursor?.id;
  let start = 0;
  if (cursorId !== undefined) {
    const [at] = await direct.all<{ n: number | boolean }>(`SELECT "${column}" IS NULL AS "n" FROM "User" WHERE "id" = ?`, [cursorId]);
    if (!at) return [];
    const valued = !(at.n === true || at.n === 1);
    start = travel.findIndex((block) => block.valued === valued);
  }
  const ids: string[] = [];
  for (const [i, block] of travel.entries()) {
    const wanted = Math.abs(page.take) - ids.length;
    if (i < start || wanted <= 0) continue;
    const emptyBlock = !block.valued;
    const tests = [test.sql];
    const params: SqlParam[] = [...test.params];
    if (column !== 'createdAt') tests.push(`"${column}" IS ${emptyBlock ? '' : 'NOT '}NULL`);
    if (cursorId !== undefined && i === start) {
      // As block.beyond: past the cursor's (value, id), or past its id among the rows without a value.
      const value = `(SELECT "${column}" FROM "User" WHERE "id" = ?)`;
      tests.push(emptyBlock ? `"id" ${cmp} ?` : `("${column}" ${cmp} ${value} OR ("${column}" = ${value} AND "id" ${cmp} ?))`);
      params.push(...(emptyBlock ? [cursorId] : [cursorId, cursorId, cursorId]));
    }
    const orderBy = emptyBlock ? `"id" ${sqlDir}` : `"${column}" ${sqlDir}, "id" ${sqlDir}`;
    const rows = await direct.all<{ id: string }>(`SELECT "id" FROM "User" WHERE ${tests.join(' AND ')} ORDER BY ${orderBy} LIMIT ?`, [...params, wanted]);
    ids.push(...rows.map((r) => r.id));
  }
  return forward ? ids : ids.reverse();
}

/**
 * The ids of one page of the users a text query matches, the query being the
 * list's only test, as findUserPage gives them (every order, cursor and
 * `take`): straight to the driver, for a query too common for its
 * candidates (or too short, or with wildcards) on either database.
 */
export function findTextMatchPageIds(
  direct: DirectReads,
  provider: DatabaseProvider,
  query: string,
  page: Pick<UserPageQuery, 'cursor' | 'take'>,
  order?: UserListOrder | null,
): Promise<string[]> {
  return findPageIdsWhere(direct, userTextSql(provider, query), page, order);
}

/** SQLite: more users out of key order than this, and a page is no longer read from the index's key order. */
export const UNORDERED_LIMIT = 1000;
/** How many users are out of key order, counted up to a limit. */
export const SQLITE_UNORDERED_COUNT_SQL = `SELECT count(*) AS "n" FROM (SELECT 1 FROM "UserSearchUnordered" LIMIT ?)`;

/**
 * SQLite: the first matches of an FTS5 query in key order, past a key, in
 * either direction, leaving out the users whose key is out of creation order
 * (the search-order migration). FTS5 streams its matches in rowid order, so
 * the LIMIT bounds the work however many users match.
 */
export const sqliteKeyOrderSql = (dir: 'ASC' | 'DESC') => `SELECT k."userId" AS "id"
  FROM "UserSearch" s JOIN "UserSearchKey" k ON k."key" = s.rowid
 WHERE "UserSearch" MATCH ? AND s.rowid ${dir === 'ASC' ? '>' : '<'} ?
   AND k."userId" NOT IN (SELECT "userId" FROM "UserSearchUnordered")
 ORDER BY s.rowid ${dir}
 LIMIT ?`;

/** SQLite: the users out of key order that a query matches, with userTextWhere's own comparisons (as the short query's probe). */
export const SQLITE_UNORDERED_MATCHES_SQL = `SELECT u."id" FROM "UserSearchUnordered" o JOIN "User" u ON u."id" = o."userId"
 WHERE u."emailNormalized" LIKE ? OR u."usernameNormalized" LIKE ? OR u."givenName" LIKE ? OR u."familyName" LIKE ? OR u."displayName" LIKE ?`;

/**
 * The ids of one page of the users an exact text query matches (more than
 * SEARCH_COUNT_LIMIT of them, `search` from findTextCandidates), as
 * findCandidatePageIds gives them; null when they cannot be found so, and
 * the page's `where` decides (findUserPage). SQLite only: PostgreSQL's
 * findTextCandidates gives no `search`.
 *
 * In creation order: the index gives its matches in key order, and
 * keys follow creation order but for the few users the search-order
 * migration lists. So the `take` matches nearest the cursor's key in the
 * direction of travel, with the listed users that match, hold the page,
 * which findCandidatePageIds then works out. A cursor whose key is out of
 * order, too many such users, or another order: null.
 */
export async function findTextPageIds(
  direct: DirectReads,
  provider: DatabaseProvider,
  query: string,
  search: TextSearch,
  page: Pick<UserPageQuery, 'cursor' | 'take'>,
  order?: UserListOrder | null,
): Promise<string[] | null> {
  if ((order?.field ?? 'CREATED_AT') !== 'CREATED_AT') return null;
  const [{ n }] = await direct.all<{ n: number }>(SQLITE_UNORDERED_COUNT_SQL, [UNORDERED_LIMIT + 1]);
  if (n > UNORDERED_LIMIT) return null;
  const ascending = (order?.direction !== 'DESC') === page.take >= 0;
  let from = ascending ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
  const cursorId = page.cursor?.id;
  if (cursorId !== undefined) {
    const [at] = await direct.all<{ key: number; unordered: number }>(
      `SELECT k."key", EXISTS (SELECT 1 FROM "UserSearchUnordered" o WHERE o."userId" = k."userId") AS "unordered" FROM "UserSearchKey" k WHERE k."userId" = ?`,
      [cursorId],
    );
    if (!at) return [];
    if (at.unordered) return null;
    from = at.key;
  }
  const take = Math.abs(page.take);
  const inOrder = await direct.all<{ id: string }>(sqliteKeyOrderSql(ascending ? 'ASC' : 'DESC'), [search.match, from, take]);
  const lower = `%${query.toLowerCase()}%`;
  const asIs = `%${query}%`;
  const unordered = n ? await direct.all<{ id: string }>(SQLITE_UNORDERED_MATCHES_SQL, [lower, lower, asIs, asIs, asIs]) : [];
  const candidates = [...inOrder, ...unordered].map((r) => r.id);
  return candidates.length ? findCandidatePageIds(direct, provider, candidates, page, order) : [];
}

/** `rows` in the order of `ids`; an id without a row is left out. */
function inOrderOf(ids: readonly string[], rows: readonly User[]): User[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/**
 * The rows of `ids` that `where` matches, with the caller's selection, in
 * the order of `ids`. The id is read too (when the selection leaves it out)
 * to put them in order.
 */
export async function findUsersInOrder(db: Db, page: Pick<UserPageQuery, 'select' | 'include'>, where: Prisma.UserWhereInput, ids: string[]): Promise<User[]> {
  if (ids.length === 0) return [];
  const selection: Pick<Prisma.UserFindManyArgs, 'select' | 'include'> = page.select ? { select: { ...page.select, id: true } } : page.include ? { include: page.include } : {};
  // The cast: the rows carry whatever the caller's select/include asked for, as in findUserPage.
  const rows = (await db.user.findMany({ ...selection, where: { AND: [where, { id: { in: ids } }] } })) as User[];
  return inOrderOf(ids, rows);
}

/**
 * userTextWhere as SQL, for the reads that go straight to the driver: the
 * same comparisons as Prisma writes them for `contains` (LIKE with the value
 * between `%`, wildcards unescaped; PostgreSQL's `mode: insensitive` is
 * ILIKE), and their parameters.
 */
export function userTextSql(provider: DatabaseProvider, query: string): { sql: string; params: string[] } {
  const keys = `%${query.toLowerCase()}%`;
  const names = `%${query}%`;
  const like = provider === 'postgresql' ? 'ILIKE' : 'LIKE';
  return {
    sql: `("emailNormalized" LIKE ? OR "usernameNormalized" LIKE ? OR "givenName" ${like} ? OR "familyName" ${like} ? OR "displayName" ${like} ?)`,
    params: [keys, keys, names, names, names],
  };
}

/** Whether a page's selection holds only the user's own columns (no relation, no count): every column then serves it. */
export const selectsColumnsOnly = (page: Pick<UserPageQuery, 'select' | 'include'>) =>
  page.select ? Object.values(page.select).every((v) => v === true || v === false || v === undefined) : !page.include || Object.keys(page.include).length === 0;

/**
 * findUsersInOrder for a list whose only test is a text query, straight to
 * the driver: the rows of `ids` the query matches, every column (Prisma's
 * shape), in the order of `ids`. Prisma compiles its query anew for every
 * list of ids, which cost a search page milliseconds of the event loop.
 */
export async function findTextUsersInOrder(direct: DirectReads, provider: DatabaseProvider, query: string, ids: string[]): Promise<User[]> {
  if (ids.length === 0) return [];
  const text = userTextSql(provider, query);
  const rows = await direct.all<User>(`SELECT ${USER_COLUMNS} FROM "User" WHERE ${inIdListDirect(provider, '"id"')} AND ${text.sql}`, [idListParam(ids), ...text.params], USER_ROW);
  return inOrderOf(ids, rows);
}

/** How many users a list's `where` matches; with `limit`, counting stops after limit + 1. */
export function countUsers(db: Db, where: Prisma.UserWhereInput, limit?: number): Promise<number> {
  return db.user.count({ where, ...(limit === undefined ? {} : { take: limit + 1 }) });
}

export type UserStore = ReturnType<typeof createUserStore>;

/** A user by id with every column, as Prisma reads it without a selection: `me` and `user(id)` on every request. */
export const USER_BY_ID_SQL = `SELECT ${USER_COLUMNS} FROM "User" WHERE "id" = ?`;

/** The profile columns updateUser's common path writes straight to the driver: names and the username, no address, no metadata. */
export const NAME_COLUMNS = ['username', 'usernameNormalized', 'givenName', 'familyName', 'displayName'] as const;
export type NameColumns = Partial<Pick<User, (typeof NAME_COLUMNS)[number]>>;

/** Reads of a user that run on every request, and the common profile write, straight to the driver (src/kernel/db/direct.ts explains why). */
export function createUserStatements(direct: DirectSql) {
  return {
    async findUser(id: string): Promise<User | null> {
      const [row] = await direct.all<User>(USER_BY_ID_SQL, [id], USER_ROW);
      return row ?? null;
    },

    /**
     * Writes name columns of a user and, in the same transaction, the
     * statements `along` makes of the user as written (its event). Returns
     * the user, or null when there is none (nothing is written). A taken
     * username fails with the driver's unique violation (isUniqueViolation).
     */
    async updateUserNames(userId: string, columns: NameColumns, now: Date, along: (user: User) => readonly Statement[]): Promise<User | null> {
      const set = NAME_COLUMNS.filter((c) => columns[c] !== undefined);
      const sql = `UPDATE "User" SET ${[...set, 'updatedAt'].map((c) => `"${c}" = ?`).join(', ')} WHERE "id" = ? RETURNING ${USER_COLUMNS}`;
      const [row] = await direct.allThen<User>(sql, [...set.map((c) => columns[c] ?? null), now, userId], USER_ROW, ([user]) => (user ? along(user) : []));
      return row ?? null;
    },
  };
}

const metadataSelect = { publicMetadata: true, privateMetadata: true, unsafeMetadata: true } as const;

/** Reads and writes of user metadata; the read-modify-write of a change holds the user's row. */
export function createUserMetadataStore(deps: { db: Db; provider: DatabaseProvider }) {
  const { db, provider } = deps;
  return {
    /**
     * Locks the user's row for the rest of the transaction (PostgreSQL:
     * FOR UPDATE; SQLite runs one write transaction at a time) and returns
     * its metadata, or null when there is no such user. Two concurrent
     * merges thus read one after the other, and neither loses the other's keys.
     */
    async lockUserMetadata(tx: Tx, userId: string): Promise<MetadataColumns | null> {
      if (provider === 'postgresql') {
        const locked = await tx.$queryRaw<Array<{ id: string }>>(Prisma.sql`SELECT "id" FROM "User" WHERE "id" = ${userId} FOR UPDATE`);
        if (locked.length === 0) return null;
      }
      return tx.user.findUnique({ where: { id: userId }, select: metadataSelect });
    },

    /** Writes metadata parts of a user (the caller holds its row) and returns the user as written. */
    writeUserMetadata(tx: Tx, userId: string, columns: Partial<Record<keyof MetadataColumns, object>>, now: Date): Promise<User> {
      return tx.user.update({ where: { id: userId }, data: { ...columns, updatedAt: now } });
    },

    /** A user's publicMetadata (null: none, or no such user): what access tokens copy keys from. */
    async findPublicMetadata(userId: string): Promise<unknown> {
      const row = await db.user.findUnique({ where: { id: userId }, select: { publicMetadata: true } });
      return row?.publicMetadata ?? null;
    },
  };
}

export function createUserStore() {
  return {
    /** Inserts a user with a new id; a taken email or username fails with a unique violation (P2002). */
    insertUser(tx: Tx, columns: ProfileColumns): Promise<User> {
      // The cast: Prisma's input type wants Prisma.DbNull for a null Json, but accepts null (it clears the column).
      return tx.user.create({ data: { id: newId('User'), ...columns } as Prisma.UserUncheckedCreateInput });
    },

    /** Writes profile columns of an existing user (Prisma's P2025 when there is none). */
    updateUserProfile(tx: Tx, userId: string, columns: ProfileColumns): Promise<User> {
      // The cast: as in insertUser.
      return tx.user.update({ where: { id: userId }, data: columns as Prisma.UserUncheckedUpdateInput });
    },

    /**
     * Moves a user to `to` only while it is in one of `from` (a conditional
     * update, so of two racing transitions at most one applies). Returns the
     * user as written, or null when it was in no such state or is gone.
     */
    async transitionUserState(tx: Tx, userId: string, change: { from: UserState[]; to: UserState; columns: StateColumns; now: Date }): Promise<User | null> {
      const { count } = await tx.user.updateMany({
        where: { id: userId, state: { in: change.from } },
        data: { ...change.columns, state: change.to, updatedAt: change.now },
      });
      if (count === 0) return null;
      return tx.user.findUniqueOrThrow({ where: { id: userId } });
    },

    /** Deletes a user (its credentials, codes and sessions cascade); false when there was none. */
    async deleteUser(tx: Tx, userId: string): Promise<boolean> {
      // deleteMany: a concurrent delete makes this one a clean "not found", not a crash.
      const { count } = await tx.user.deleteMany({ where: { id: userId } });
      return count > 0;
    },

    /**
     * Stores a new address (its columns from input.ts) and its verification
     * time (null: unverified). Only emailNormalized is unique among these.
     */
    saveUserAddress(tx: Tx, userId: string, field: ContactField, address: Pick<ProfileColumns, 'email' | 'emailNormalized' | 'phone'>, verifiedAt: Date | null, now: Date): Promise<User> {
      return tx.user.update({ where: { id: userId }, data: { ...address, [addressColumns[field].verifiedAt]: verifiedAt, updatedAt: now } });
    },

    /**
     * Marks the address verified, conditional on it still being `key` (the
     * normalised email, or the phone): a change racing with the check wins and
     * stays unverified. Returns the user as written, or null when the address
     * changed or the user is gone.
     */
    async markUserAddressVerified(tx: Tx, userId: string, field: ContactField, key: string, now: Date): Promise<User | null> {
      const columns = addressColumns[field];
      const { count } = await tx.user.updateMany({
        where: { id: userId, [columns.key]: key },
        data: { [columns.verifiedAt]: now, updatedAt: now },
      });
      if (count === 0) return null;
      return tx.user.findUniqueOrThrow({ where: { id: userId } });
    },
  };
}
