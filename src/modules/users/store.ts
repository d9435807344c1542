/**
 * The users module's writes: every change to a User row made by the users
 * and contacts services goes through one of these functions. Each runs
 * inside the caller's transaction (`tx`), where the service also records the
 * change's event; the rules (which transitions exist, what a changed address
 * means) stay in the services.
 */
import type { DatabaseProvider } from '../../config.js';
import type { Prisma, Tx } from '../../kernel/db/client.js';
import type { User, UserState } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';

/** Profile columns a service may set; absent leaves a column alone, null clears it. */
export type ProfileColumns = Partial<
  Pick<
    User,
    'email' | 'emailNormalized' | 'emailVerifiedAt' | 'phone' | 'phoneVerifiedAt' | 'username' | 'usernameNormalized' | 'givenName' | 'familyName' | 'displayName'
  >
> & { metadata?: object | null };

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
}

export type UserListField = 'CREATED_AT' | 'EMAIL' | 'LAST_LOGIN_AT';
export interface UserListOrder {
  field: UserListField;
  /** Default ASC. */
  direction?: 'ASC' | 'DESC' | null;
}

const rangeWhere = (range: InstantRange) => ({ ...(range.from ? { gte: range.from } : {}), ...(range.to ? { lt: range.to } : {}) });

/**
 * The query of a user list (the `users` connection): its `where` and its
 * total order. lastLoginAt sorts users who never signed in last in both
 * directions (SQLite and PostgreSQL disagree on where NULL goes by default);
 * the id breaks ties in the same direction, so a cursor names one place in
 * the order. Indexes: createdAt, (lastLoginAt, id), emailNormalized.
 */
export function userListQuery(provider: DatabaseProvider, filter: UserListFilter, order?: UserListOrder | null): { where: Prisma.UserWhereInput; orderBy: Prisma.UserOrderByWithRelationInput[] } {
  // SQLite's LIKE is case-insensitive for ASCII already and rejects `mode`.
  const insensitive = provider === 'postgresql' ? { mode: 'insensitive' as const } : {};
  const and: Prisma.UserWhereInput[] = [];
  const q = filter.query?.trim();
  if (q) {
    and.push({
      OR: [
        { emailNormalized: { contains: q.toLowerCase() } },
        { usernameNormalized: { contains: q.toLowerCase() } },
        { givenName: { contains: q, ...insensitive } },
        { familyName: { contains: q, ...insensitive } },
        { displayName: { contains: q, ...insensitive } },
      ],
    });
  }
  if (filter.state) and.push({ state: filter.state });
  if (filter.email) and.push({ emailNormalized: filter.email.trim().toLowerCase() });
  if (filter.createdAt) and.push({ createdAt: rangeWhere(filter.createdAt) });
  // A range with neither end still means "has signed in": never-signed-in users have no instant to be in it.
  if (filter.lastLoginAt) and.push({ lastLoginAt: { not: null, ...rangeWhere(filter.lastLoginAt) } });

  const dir = order?.direction === 'DESC' ? ('desc' as const) : ('asc' as const);
  const primary: Prisma.UserOrderByWithRelationInput =
    order?.field === 'EMAIL'
      ? { emailNormalized: dir }
      : order?.field === 'LAST_LOGIN_AT'
        ? { lastLoginAt: { sort: dir, nulls: 'last' } }
        : { createdAt: dir };
  return { where: and.length ? { AND: and } : {}, orderBy: [primary, { id: dir }] };
}

export type UserStore = ReturnType<typeof createUserStore>;

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
