/**
 * How a text query matches a user (users(filter: { query }), and members of
 * an organization): email, username and names, case-insensitively on both
 * databases. A plain `where`, no SQL: the stores that list users use it.
 */
import type { DatabaseProvider } from '../../config.js';
import type { Prisma } from '../../kernel/db/client.js';

/** SQLite's LIKE is case-insensitive for ASCII already and rejects `mode`. */
export const insensitiveFor = (provider: DatabaseProvider) => (provider === 'postgresql' ? { mode: 'insensitive' as const } : {});

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
