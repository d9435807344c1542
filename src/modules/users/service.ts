/**
 * Users and their lifecycle. The lifecycle is a small state machine; every
 * transition is a conditional update (`where state = from`), so two racing
 * requests cannot both apply, and each change records its event in the same
 * transaction.
 */
import type { DatabaseProvider } from '../../config.js';
import type { Prisma, Tx } from '../../kernel/db/client.js';
import { isUniqueViolation, uniqueViolationFields } from '../../kernel/db/client.js';
import { publicUser } from './events.js';
import type { UserState, User } from '../../kernel/db/models.js';
import type { EventType } from '../catalog.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import type { Clock } from '../../kernel/clock.js';
import { AlreadyExistsError, InvalidStateError, UserNotFoundError } from '../../kernel/errors.js';
import { checkMetadata, checkName, normalizeEmail, normalizePhone, normalizeUsername } from './input.js';
import { createUserStore, type ProfileColumns, type StateColumns } from './store.js';

export interface ProfileInput {
  email?: string | null;
  phone?: string | null;
  username?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  displayName?: string | null;
  metadata?: unknown;
}

type Transition = 'lock' | 'unlock' | 'deactivate' | 'reactivate';

/** From which states each transition may start, where it ends, and what it records. */
const transitions: Record<Transition, { from: UserState[]; to: UserState; event: EventType }> = {
  lock: { from: ['ACTIVE'], to: 'LOCKED', event: 'user.locked' },
  unlock: { from: ['LOCKED'], to: 'ACTIVE', event: 'user.unlocked' },
  deactivate: { from: ['ACTIVE', 'LOCKED'], to: 'INACTIVE', event: 'user.deactivated' },
  reactivate: { from: ['INACTIVE'], to: 'ACTIVE', event: 'user.reactivated' },
};

export type UserService = ReturnType<typeof createUserService>;

export interface UserFilter {
  query?: string | null;
  state?: UserState | null;
  email?: string | null;
}

export function createUserService(deps: { provider: DatabaseProvider; outbox: Outbox; clock: Clock; defaultPhoneRegion?: string }) {
  const { outbox, clock } = deps;
  const store = createUserStore();
  // SQLite's LIKE is case-insensitive for ASCII already and rejects `mode`.
  const insensitive = deps.provider === 'postgresql' ? { mode: 'insensitive' as const } : {};

  /** The `where` of a user search: text over email, username and names; state; exact email. */
  function userSearchWhere(filter: UserFilter = {}): Prisma.UserWhereInput {
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
    return and.length ? { AND: and } : {};
  }

  /** Maps profile input to columns; `undefined` leaves a column alone, `null` clears it. */
  function profileData(input: ProfileInput): ProfileColumns {
    const data: ProfileColumns = {};
    if (input.email !== undefined) {
      Object.assign(data, input.email === null ? { email: null, emailNormalized: null } : normalizeEmail(input.email));
    }
    if (input.phone !== undefined) data.phone = input.phone === null ? null : normalizePhone(input.phone, deps.defaultPhoneRegion);
    if (input.username !== undefined) {
      Object.assign(data, input.username === null ? { username: null, usernameNormalized: null } : normalizeUsername(input.username));
    }
    for (const field of ['givenName', 'familyName', 'displayName'] as const) {
      const v = input[field];
      if (v !== undefined) data[field] = v === null ? null : checkName(field, v);
    }
    if (input.metadata !== undefined) data.metadata = input.metadata === null ? null : checkMetadata(input.metadata);
    return data;
  }

  /** Runs a write; a unique violation becomes AlreadyExistsError naming the field. */
  async function writing<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isUniqueViolation(error)) {
        const fields = uniqueViolationFields(error).join(',');
        throw new AlreadyExistsError(fields.includes('username') ? 'username' : 'email');
      }
      throw error;
    }
  }

  const inTransaction = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => writing(() => outbox.transaction(fn));

  async function transition(kind: Transition, userId: string, meta: RequestMeta, extra: { reason?: string } = {}) {
    const t = transitions[kind];
    return inTransaction(async (tx) => {
      const now = clock.now();
      const columns: StateColumns =
        t.to === 'LOCKED'
          ? { lockedReason: extra.reason ?? 'admin', lockedUntil: null }
          : { lockedReason: null, lockedUntil: null, failedPasswordAttempts: 0, failedCodeAttempts: 0 };
      const user = await store.transitionUserState(tx, userId, { from: t.from, to: t.to, columns, now });
      if (!user) {
        const current = await tx.user.findUnique({ where: { id: userId }, select: { state: true } });
        if (!current) throw new UserNotFoundError(userId);
        throw new InvalidStateError(`Cannot ${kind} a user who is ${current.state.toLowerCase()}.`, current.state);
      }
      await outbox.record(tx, { type: t.event, userId, data: { user: publicUser(user), ...(extra.reason ? { reason: extra.reason } : {}) } }, meta);
      return user;
    });
  }

  return {
    userSearchWhere,

    /** `andThen` runs in the same transaction (e.g. storing an initial password), so both happen or neither. */
    async createUser(input: ProfileInput, meta: RequestMeta, andThen?: (tx: Tx, user: User) => Promise<unknown>): Promise<User> {
      const data = profileData(input);
      return inTransaction(async (tx) => {
        const user = await store.insertUser(tx, data);
        await outbox.record(tx, { type: 'user.created', userId: user.id, data: { user: publicUser(user) } }, meta);
        await andThen?.(tx, user);
        return user;
      });
    },

    async updateUser(userId: string, input: ProfileInput, meta: RequestMeta): Promise<User> {
      const data = profileData(input);
      return inTransaction(async (tx) => {
        const before = await tx.user.findUnique({ where: { id: userId } });
        if (!before) throw new UserNotFoundError(userId);
        // A changed address is a new, unverified address.
        if ('emailNormalized' in data && data.emailNormalized !== before.emailNormalized) data.emailVerifiedAt = null;
        if ('phone' in data && data.phone !== before.phone) data.phoneVerifiedAt = null;
        const user = await store.updateUserProfile(tx, userId, data);
        const changes = Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined);
        await outbox.record(tx, { type: 'user.updated', userId, data: { user: publicUser(user), changes } }, meta);
        return user;
      });
    },

    async deleteUser(userId: string, meta: RequestMeta): Promise<{ id: string }> {
      return inTransaction(async (tx) => {
        const user = await tx.user.findUnique({ where: { id: userId } });
        if (!user) throw new UserNotFoundError(userId);
        if (!(await store.deleteUser(tx, userId))) throw new UserNotFoundError(userId);
        await outbox.record(tx, { type: 'user.deleted', userId, data: { user: publicUser(user) } }, meta);
        return { id: userId };
      });
    },

    lockUser: (userId: string, meta: RequestMeta, reason?: string) => transition('lock', userId, meta, { reason }),
    unlockUser: (userId: string, meta: RequestMeta) => transition('unlock', userId, meta),
    deactivateUser: (userId: string, meta: RequestMeta) => transition('deactivate', userId, meta),
    reactivateUser: (userId: string, meta: RequestMeta) => transition('reactivate', userId, meta),
  };
}
