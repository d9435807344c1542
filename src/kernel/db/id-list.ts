/**
 * "column is one of these ids" with the ids as ONE bound parameter, however
 * many. `IN (${Prisma.join(ids)})` binds one parameter per id, and a
 * statement may bind at most 32,766 on SQLite and 65,535 on PostgreSQL (past
 * that the driver fails, and the client sees a masked unexpected error). So
 * a list whose length the data decides (the organizations members hold a
 * role in, the memberships of a user) goes through here: PostgreSQL takes a
 * text[], SQLite a JSON array read by json_each. Both plan it like an IN
 * list over the primary key.
 */
import type { DatabaseProvider } from '../../config.js';
import { Prisma } from './client.js';

/**
 * For Prisma raw statements: `column = ANY($1::text[])` on PostgreSQL,
 * `column IN (SELECT value FROM json_each($1))` on SQLite. `column` is an
 * identifier written in code (`'"id"'`, `'m."userId"'`), never input.
 */
export function inIdList(provider: DatabaseProvider, column: string, ids: readonly string[]): Prisma.Sql {
  const list = [...ids];
  return provider === 'postgresql'
    ? Prisma.sql`${Prisma.raw(column)} = ANY(${list}::text[])`
    : Prisma.sql`${Prisma.raw(column)} IN (SELECT "value" FROM json_each(${JSON.stringify(list)}))`;
}

/**
 * The same test for direct statements (direct.ts), whose parameters are
 * scalars: one `?` bound to `idListParam(ids)`, a JSON array on both
 * providers (PostgreSQL unpacks it with json_array_elements_text).
 */
export function inIdListDirect(provider: DatabaseProvider, column: string): string {
  return provider === 'postgresql' ? `${column} IN (SELECT json_array_elements_text(?::json))` : `${column} IN (SELECT "value" FROM json_each(?))`;
}

/** The one parameter of inIdListDirect. */
export const idListParam = (ids: readonly string[]): string => JSON.stringify(ids);
