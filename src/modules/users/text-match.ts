/**
 * How a text query matches a user (users(filter: { query }), and members of
 * an organization): email, username and names, case-insensitively on both
 * databases. A plain `where`, no SQL: the stores that list users use it, and
 * the users store narrows it with the search index (store.ts, findTextCandidates).
 */
import type { DatabaseProvider } from '../../config.js';
import type { Prisma } from '../../kernel/db/client.js';

/** SQLite's LIKE is case-insensitive for ASCII already and rejects `mode`. */
export const insensitiveFor = (provider: DatabaseProvider) => (provider === 'postgresql' ? { mode: 'insensitive' as const } : {});

/** The shortest query the trigram indexes serve (counted in characters, not UTF-16 units): a trigram holds three. */
export const SUBSTRING_MIN = 3;

/** Whether a (trimmed) query is too short for a trigram: the users store then looks it up another way. */
export const isShortQuery = (query: string) => [...query].length < SUBSTRING_MIN;

export function userTextWhere(provider: DatabaseProvider, query: string): Prisma.UserWhereInput {
  const insensitive = insensitiveFor(provider);
  return {
    OR: [
      { emailNormalized: { contains: query.toLowerCase() } },
      { usernameNormalized: { contains: query.toLowerCase() } },
      { givenName: { contains: query, ...insensitive } },
      { familyName: { contains: query, ...insensitive } },
      { displayName: { contains: query, ...insensitive } },
    ],
  };
}
