/**
 * Users and their lifecycle. The lifecycle is a small state machine; every
 * transition is a conditional update (`where state = from`), so two racing
 * requests cannot both apply, and each change records its event in the same
 * transaction.
 */
import type { DatabaseProvider } from '../../config.js';
import type { DirectReads, DirectSql } from '../../kernel/db/direct.js';
import type { Db, Tx } from '../../kernel/db/client.js';
import { isUniqueViolation, uniqueViolationFields } from '../../kernel/db/client.js';
import { publicUser } from './events.js';
import type { UserState, User } from '../../kernel/db/models.js';
import type { EventType } from '../catalog.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import type { Clock } from '../../kernel/clock.js';
import { AlreadyExistsError, assertThat, InvalidInputError, InvalidStateError, UserNotFoundError } from '../../kernel/errors.js';
import type { AddressPlan, ContactService, SetContactResult, Verification } from './contacts.service.js';
import { METADATA_MAX_DEPTH } from '../../kernel/metadata.js';
import { checkName, normalizeEmail, normalizePhone, normalizeUsername, phoneRegion } from './input.js';
import type { UserMetadataService } from './metadata.service.js';
import {
  countUsers,
  createUserStatements,
  createUserStore,
  findCandidatePageIds,
  findTextCandidates,
  findTextMatchPageIds,
  findTextPageIds,
  findTextUsersInOrder,
  selectsColumnsOnly,
  findUsersInOrder,
  findUserPage,
  metadataCandidates,
  SEARCH_COUNT_LIMIT,
  userListWhere,
  type InstantRange,
  type MetadataColumns,
  type MetadataMatch,
  type NameColumns,
  type UserPageQuery,
  type ProfileColumns,
  type StateColumns,
  type UserListFilter as StoreListFilter,
  type UserListOrder,
} from './store.js';

export interface ProfileInput {
  email?: string | null;
  phone?: string | null;
  username?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  displayName?: string | null;
  /** Deprecated: the old name of publicMetadata, replacing it (null clears it). */
  metadata?: unknown;
  /** Each replaces the stored part (null clears it); updateUserMetadata merges. */
  publicMetadata?: unknown;
  privateMetadata?: unknown;
  unsafeMetadata?: unknown;
}

const METADATA_INPUTS = ['metadata', 'publicMetadata', 'privateMetadata', 'unsafeMetadata'] as const;
/** The inputs that become NAME_COLUMNS alone: a change of only these takes updateUser's direct path. */
const NAME_INPUTS: ReadonlySet<string> = new Set(['username', 'givenName', 'familyName', 'displayName'] satisfies Array<keyof ProfileInput>);

/**
 * How createUser and updateUser read and verify the email and phone they
 * write, as setEmail/setPhone do. A verification left out: the address is
 * stored unverified (unless it is the user's current one) and no code is issued.
 */
export interface AddressOptions {
  emailVerification?: Verification | null;
  phoneVerification?: Verification | null;
  /** ISO 3166-1 alpha-2 region of a national phone number; default the configured one. */
  phoneCountry?: string | null;
  /** createUser only: register the account an identity-provider intent brought back, and link it. */
  idpIntent?: IdpIntentRef | null;
}

/** An intent of an identity provider to register with: its id and the token its success URL received. */
export interface IdpIntentRef {
  intentId: string;
  token: string;
}

/**
 * Registration with an identity provider's intent, contributed by the
 * identity-providers module: `prepare` checks the intent before anything is
 * written; `link` runs in the transaction that creates the user (consuming
 * the intent and linking the account), so both happen or neither.
 */
export interface IdpRegistrationHook {
  prepare(intent: IdpIntentRef): Promise<IdpRegistration>;
}
export interface IdpRegistration {
  /** What the provider says of the account: fills the profile fields the input leaves out. */
  email: string | null;
  /** The provider vouches for `email` (its email_verified, or a trusted provider). */
  emailVerified: boolean;
  givenName: string | null;
  familyName: string | null;
  displayName: string | null;
  link(tx: Tx, userId: string, meta: RequestMeta): Promise<unknown>;
}

/** A written user, and per address the code its verification choice issued (null: none). */
export interface UserWrite {
  user: User;
  email: SetContactResult | null;
  phone: SetContactResult | null;
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

export type { UserListOrder } from './store.js';

/** What a user list may be narrowed by; metadata names a path of keys in publicMetadata ("billing.tier") and a scalar. */
export type UserListFilter = Omit<StoreListFilter, 'metadata'> & { metadata?: { path: string; equals?: unknown } | null };

const PATH_KEY = /^[A-Za-z0-9_-]{1,100}$/;

/** The metadata filter as the store takes it; InvalidInputError for a path or a value it cannot mean. */
function metadataMatch(filter: UserListFilter['metadata']): MetadataMatch | null {
  if (!filter) return null;
  const path = filter.path.split('.');
  if (path.length > METADATA_MAX_DEPTH || !path.every((key) => PATH_KEY.test(key))) {
    throw new InvalidInputError(
      'filter.metadata.path',
      `path is 1 to ${METADATA_MAX_DEPTH} keys of publicMetadata joined by dots ("plan", "billing.tier"); each key has 1 to 100 letters, digits, _ or -.`,
    );
  }
  const { equals } = filter;
  if (!(typeof equals === 'string' || typeof equals === 'boolean' || (typeof equals === 'number' && Number.isFinite(equals)))) {
    throw new InvalidInputError('filter.metadata.equals', 'equals is a JSON scalar: a string, a number or a boolean (a merge never stores null: it deletes the key).');
  }
  return { path, equals };
}

/** A range whose `from` is after its `to` selects nothing: a caller's mistake, said so rather than answered with an empty page. */
function checkRange(field: string, range: InstantRange | null | undefined): void {
  if (range?.from && range.to && range.from.getTime() > range.to.getTime()) {
    throw new InvalidInputError(field, `${field}.from (${range.from.toISOString()}) is after ${field}.to (${range.to.toISOString()}); from is inclusive, to exclusive.`);
  }
}

/** A user list's count: exact, or (a text query many users match) SEARCH_COUNT_LIMIT with `exact` false. */
export interface UserCount {
  count: number;
  exact: boolean;
}

/** A user list whose filter was checked and looked up once. */
export interface UserList {
  page(page: UserPageQuery, order?: UserListOrder | null): Promise<User[]>;
  /**
   * How many users the filter matches. With a text query, counting stops
   * after SEARCH_COUNT_LIMIT: more than that many is then SEARCH_COUNT_LIMIT,
   * not exact. Without one, the count is exact.
   */
  count(): Promise<UserCount>;
}

export function createUserService(deps: {
  db: Db;
  /** The read of one user (`me`, `user(id)`) and the name changes go straight to the driver. */
  direct: DirectSql;
  /** The search's reads (the index lookup, the page): straight to the driver too, off the main thread on SQLite. */
  reader: DirectReads;
  provider: DatabaseProvider;
  outbox: Outbox;
  clock: Clock;
  /** The address rules of setEmail/setPhone, which createUser and updateUser share. */
  contacts: Pick<ContactService, 'addressWrites'>;
  defaultPhoneRegion?: string;
  /**
   * Runs inside the transaction that creates a user, after user.created is
   * recorded (the roles service gives the default GLOBAL roles): what a new
   * user gets from other modules, without this module knowing them.
   */
  onUserCreated?: (tx: Tx, userId: string, meta: RequestMeta) => Promise<unknown>;
  /**
   * Runs inside the transaction that deletes a user, before its row is
   * deleted (the organizations service removes its memberships, keeping the
   * owner rule): an error it throws refuses the deletion.
   */
  onUserDeleting?: (tx: Tx, userId: string, meta: RequestMeta) => Promise<unknown>;
  /** Runs inside the transaction that deletes a user (the statistics count it). */
  onUserDeleted?: (tx: Tx, userId: string, meta: RequestMeta) => Promise<unknown>;
  /** The rules of metadata, which createUser and updateUser write too. */
  metadata: Pick<UserMetadataService, 'plan' | 'lockUserMetadata'>;
  /** createUser with an idpIntent (the identity-providers module). */
  idpRegistration?: IdpRegistrationHook;
}) {
  const { outbox, clock } = deps;
  const store = createUserStore();
  const statements = createUserStatements(deps.direct);

  /**
   * The `where` of a user list, and what the search index said of its query;
   * InvalidInputError for a range whose from is after its to, or a metadata
   * filter that means nothing. The text test stays in the `where` when the
   * index narrows it to a few users: the ids only add an access path.
   */
  async function listWhere(filter: UserListFilter = {}) {
    checkRange('filter.createdAt', filter.createdAt);
    checkRange('filter.lastLoginAt', filter.lastLoginAt);
    checkRange('filter.lastActiveAt', filter.lastActiveAt);
    const metadata = metadataMatch(filter.metadata);
    const where = userListWhere(deps.provider, { ...filter, metadata });
    const query = filter.query?.trim();
    const [candidates, text] = await Promise.all([
      metadataCandidates(deps.db, deps.provider, metadata),
      query ? findTextCandidates(deps.reader, deps.provider, query) : null,
    ]);
    const narrowing = [candidates, text && 'ids' in text ? { id: { in: text.ids } } : null].filter((w) => w !== null);
    return { where: narrowing.length ? { AND: [where, ...narrowing] } : where, unnarrowed: where, query, text };
  }

  /**
   * A user list's filter, checked (InvalidInputError as listUsers) and
   * looked up in the search index once, for its pages and its count: a
   * connection asks both of one list.
   */
  async function openUserList(filter?: UserListFilter | null): Promise<UserList> {
    const { where, unnarrowed, query, text } = await listWhere(filter ?? {});
    // No user holds the text: nothing to read (SQLite would still scan for `id IN ()`).
    const none = text !== null && 'ids' in text && text.ids.length === 0;
    // The query is the list's only test: the index's candidates alone decide which users it holds.
    const alone = Object.entries(filter ?? {}).every(([key, value]) => key === 'query' || value === null || value === undefined);
    const candidates = alone && text && 'ids' in text ? text : null;
    // Many users match the query alone: the page is found in SQL through the index (SQLite).
    const search = alone && query && text && 'many' in text ? (text.search ?? null) : null;
    return {
      async page(page, order) {
        if (none) return [];
        // The query is the list's only test wherever ids are found below (candidates and search need it alone).
        let ids = candidates
          ? await findCandidatePageIds(deps.reader, deps.provider, candidates.ids, page, order)
          : search
            ? await findTextPageIds(deps.reader, deps.provider, query!, search, page, order)
            : null;
        // With no relation asked, rows straight from the driver: Prisma compiles its query anew for every page.
        const direct = selectsColumnsOnly(page);
        if (!ids && direct && alone && query) ids = await findTextMatchPageIds(deps.reader, deps.provider, query, page, order);
        if (ids) {
          // Each row must still pass the `where` (candidates may be a few more than match, and rows may change
          // meanwhile): when all do, the page is the one the whole `where` gives, since every matching user was a
          // candidate; else it is read so. Prisma's read takes the `where` without the candidates' ids: it would
          // plan each of up to a thousand of them again, and the page's ids say as much.
          const rows = direct ? await findTextUsersInOrder(deps.reader, deps.provider, query!, ids) : await findUsersInOrder(deps.db, page, unnarrowed, ids);
          if (rows.length === ids.length) return rows;
        }
        return findUserPage(deps.db, page, where, order);
      },
      async count() {
        if (none) return { count: 0, exact: true };
        if (!filter?.query?.trim()) return { count: await countUsers(deps.db, where), exact: true };
        if (candidates?.exact) return { count: candidates.ids.length, exact: true };
        // More users match the query alone than are counted: with no other test, no need to count them again.
        const count = text && 'many' in text && alone ? SEARCH_COUNT_LIMIT + 1 : await countUsers(deps.db, where, SEARCH_COUNT_LIMIT);
        return count > SEARCH_COUNT_LIMIT ? { count: SEARCH_COUNT_LIMIT, exact: false } : { count, exact: true };
      },
    };
  }

  /**
   * The metadata columns that createUser and updateUser write: each part
   * given replaces the stored one (`metadata` is publicMetadata's old name),
   * null clears it; checked by the rules of kernel/metadata.ts against the
   * stored parts (null: a user being created).
   */
  function metadataColumns(input: ProfileInput, stored: MetadataColumns | null): ProfileColumns {
    if (input.metadata !== undefined && input.publicMetadata !== undefined) {
      throw new InvalidInputError('metadata', 'metadata is the deprecated name of publicMetadata: give one of them.');
    }
    const legacy = input.metadata !== undefined;
    const given = { public: legacy ? input.metadata : input.publicMetadata, private: input.privateMetadata, unsafe: input.unsafeMetadata };
    const cleared: ProfileColumns = {};
    const base: MetadataColumns = { publicMetadata: stored?.publicMetadata ?? null, privateMetadata: stored?.privateMetadata ?? null, unsafeMetadata: stored?.unsafeMetadata ?? null };
    for (const [part, column] of [['public', 'publicMetadata'], ['private', 'privateMetadata'], ['unsafe', 'unsafeMetadata']] as const) {
      if (given[part] === null) cleared[column] = base[column] = null;
    }
    const fields = { public: legacy ? 'metadata' : 'publicMetadata', private: 'privateMetadata', unsafe: 'unsafeMetadata' };
    return { ...cleared, ...deps.metadata.plan(base, given, 'REPLACE', fields).columns };
  }

  const givesMetadata = (input: ProfileInput) => METADATA_INPUTS.some((k) => input[k] !== undefined);

  /** Maps profile input to columns; `undefined` leaves a column alone, `null` clears it. */
  function profileData(input: ProfileInput, phoneCountry?: string | null): ProfileColumns {
    const data: ProfileColumns = {};
    if (input.email !== undefined) {
      Object.assign(data, input.email === null ? { email: null, emailNormalized: null } : normalizeEmail(input.email));
    }
    if (input.phone !== undefined) data.phone = input.phone === null ? null : normalizePhone(input.phone, phoneRegion(phoneCountry, 'phoneCountry', deps.defaultPhoneRegion));
    if (input.username !== undefined) {
      Object.assign(data, input.username === null ? { username: null, usernameNormalized: null } : normalizeUsername(input.username));
    }
    for (const field of ['givenName', 'familyName', 'displayName'] as const) {
      const v = input[field];
      if (v !== undefined) data[field] = v === null ? null : checkName(field, v);
    }
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

  /** A verification choice or a phone country needs the address it is for, in the same input. */
  function checkOptionsHaveAddress(data: ProfileColumns, options: AddressOptions) {
    assertThat(!options.emailVerification || data.emailNormalized, () => new InvalidInputError('emailVerification', 'emailVerification needs an email in the same input.'));
    assertThat(!options.phoneVerification || data.phone, () => new InvalidInputError('phoneVerification', 'phoneVerification needs a phone in the same input.'));
    assertThat(!options.phoneCountry || data.phone, () => new InvalidInputError('phoneCountry', 'phoneCountry needs a phone in the same input.'));
  }

  /** The plans of the addresses being written (null: that address is not), and their verification columns added to `data`. */
  function planAddresses(data: ProfileColumns, before: User | null, options: AddressOptions, now: Date) {
    const plans: { email: AddressPlan | null; phone: AddressPlan | null } = { email: null, phone: null };
    if (data.emailNormalized) {
      plans.email = deps.contacts.addressWrites.plan('email', before, data.emailNormalized, options.emailVerification ?? null, now);
      data.emailVerifiedAt = plans.email.verifiedAt;
    } else if ('emailNormalized' in data) {
      data.emailVerifiedAt = null;
    }
    if (data.phone) {
      plans.phone = deps.contacts.addressWrites.plan('phone', before, data.phone, options.phoneVerification ?? null, now);
      data.phoneVerifiedAt = plans.phone.verifiedAt;
    } else if ('phone' in data) {
      data.phoneVerifiedAt = null;
    }
    return plans;
  }

  /** Inside the transaction, after the row is written: the user.*_verified events of MARK_VERIFIED. */
  async function recordVerified(tx: Tx, user: User, plans: { email: AddressPlan | null; phone: AddressPlan | null }, meta: RequestMeta) {
    await plans.email?.recordIn(tx, user, meta);
    await plans.phone?.recordIn(tx, user, meta);
  }

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

  function prepareIdpRegistration(intent: IdpIntentRef): Promise<IdpRegistration> {
    assertThat(deps.idpRegistration, () => new InvalidInputError('idpIntent', 'This gateway registers no identity-provider accounts.'));
    return deps.idpRegistration.prepare(intent);
  }

  /**
   * The provider's email and names fill the profile fields the input leaves
   * out. The email is marked verified when the provider vouches for that very
   * address and the caller chose no verification of its own.
   */
  function withProviderProfile(input: ProfileInput, options: AddressOptions, registration: IdpRegistration) {
    const filled: ProfileInput = {
      ...input,
      email: input.email === undefined ? registration.email : input.email,
      givenName: input.givenName === undefined ? registration.givenName : input.givenName,
      familyName: input.familyName === undefined ? registration.familyName : input.familyName,
      displayName: input.displayName === undefined ? registration.displayName : input.displayName,
    };
    const vouched =
      registration.emailVerified && registration.email !== null && typeof filled.email === 'string' && filled.email.trim().toLowerCase() === registration.email.toLowerCase();
    return { input: filled, options: vouched && !options.emailVerification ? { ...options, emailVerification: 'MARK_VERIFIED' as const } : options };
  }

  /**
   * Creates a user. `andThen` runs in the same transaction (e.g. storing an
   * initial password), so both happen or neither. A verification choice
   * works as in setEmail/setPhone; its code is issued after the user is
   * committed. When a code cannot be delivered the user stays created, the
   * address unverified with no live code, and DeliveryFailedError carries the
   * user's id. With `options.idpIntent` the intent is checked first and
   * consumed, and its account linked, in the transaction that creates the
   * user. Throws InvalidInputError, AlreadyExistsError, and the intent's errors.
   */
  async function createUserAndVerifyAddresses(
    input: ProfileInput,
    options: AddressOptions,
    meta: RequestMeta,
    andThen?: (tx: Tx, user: User) => Promise<unknown>,
  ): Promise<UserWrite> {
    const registration = options.idpIntent ? await prepareIdpRegistration(options.idpIntent) : null;
    if (registration) ({ input, options } = withProviderProfile(input, options, registration));
    const data = profileData(input, options.phoneCountry);
    checkOptionsHaveAddress(data, options);
    if (givesMetadata(input)) Object.assign(data, metadataColumns(input, null));
    const { user, plans } = await inTransaction(async (tx) => {
      const plans = planAddresses(data, null, options, clock.now());
      const user = await store.insertUser(tx, data);
      await outbox.record(tx, { type: 'user.created', userId: user.id, data: { user: publicUser(user) } }, meta);
      await recordVerified(tx, user, plans, meta);
      await deps.onUserCreated?.(tx, user.id, meta);
      await registration?.link(tx, user.id, meta);
      await andThen?.(tx, user);
      return { user, plans };
    });
    return { user, ...(await deps.contacts.addressWrites.settle(user, plans)) };
  }

  /**
   * Changes profile fields. A changed email or phone is unverified unless its
   * verification choice says otherwise; the choice works as in setEmail/setPhone
   * (including the resend cooldown), and its code is issued after the change is
   * committed: on DeliveryFailedError or ResendCooldownError the change is kept.
   */
  async function updateUserAndVerifyAddresses(userId: string, input: ProfileInput, options: AddressOptions, meta: RequestMeta): Promise<UserWrite> {
    const data = profileData(input, options.phoneCountry);
    checkOptionsHaveAddress(data, options);
    const changes = Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined);
    // The common change (names, the username) reads nothing first and needs no address rule: one direct
    // write with its event, instead of a Prisma transaction costing several times the database's time.
    if (changes.every((k) => NAME_INPUTS.has(k))) {
      let notified = false;
      const user = await writing(() =>
        statements.updateUserNames(userId, data as NameColumns, clock.now(), (written) => {
          const event = outbox.statement({ type: 'user.updated', userId, data: { user: publicUser(written), changes } }, meta);
          notified = event.notified;
          return [event];
        }),
      );
      if (!user) throw new UserNotFoundError(userId);
      // The event's insert sent the relay's NOTIFY at commit (PostgreSQL): no second one.
      outbox.committed({ notified });
      return { user, email: null, phone: null };
    }
    const { user, plans } = await inTransaction(async (tx) => {
      // Metadata is a read-modify-write of the row (the limit counts the parts not given): hold it first.
      if (givesMetadata(input)) {
        const stored = await deps.metadata.lockUserMetadata(tx, userId);
        if (!stored) throw new UserNotFoundError(userId);
        Object.assign(data, metadataColumns(input, stored));
      }
      const before = await tx.user.findUnique({ where: { id: userId } });
      if (!before) throw new UserNotFoundError(userId);
      const plans = planAddresses(data, before, options, clock.now());
      const user = await store.updateUserProfile(tx, userId, data);
      await outbox.record(tx, { type: 'user.updated', userId, data: { user: publicUser(user), changes } }, meta);
      await recordVerified(tx, user, plans, meta);
      return { user, plans };
    });
    return { user, ...(await deps.contacts.addressWrites.settle(user, plans)) };
  }

  return {
    /**
     * A page of users (the `users` connection, with the selection and page
     * plugin-prisma asks for): text over email, username and names; state;
     * exact email; createdAt, lastLoginAt and lastActiveAt ranges; a scalar
     * at a path of publicMetadata; ordered by creation, email, last sign-in or
     * last activity with the id breaking ties. Throws
     * InvalidInputError for a range whose from is after its to.
     */
    async listUsers(page: UserPageQuery, filter?: UserListFilter | null, order?: UserListOrder | null): Promise<User[]> {
      return (await openUserList(filter)).page(page, order);
    },

    /**
     * A user by id with the caller's Prisma selection (plugin-prisma's
     * `query`), or null. A selection of the user's own columns only (the
     * common `me` and `user(id)`) is one prepared statement; relations and
     * counts go through Prisma.
     */
    async findUser<Q extends { include?: unknown; select?: unknown }>(id: string, query: Q, known?: User): Promise<User | null> {
      const q: { include?: unknown; select?: unknown } = { ...query };
      const empty = (part: unknown) => part === undefined || (typeof part === 'object' && part !== null && Object.keys(part).length === 0);
      // `known`: this user's row as read in this request already (with the caller's session), used when only columns are asked.
      if (Object.keys(q).every((k) => k === 'include' || k === 'select') && empty(q.include) && empty(q.select)) return known?.id === id ? known : statements.findUser(id);
      return deps.db.user.findUnique({ ...(q as object), where: { id } }) as Promise<User | null>;
    },

    /** How many users a list's filter matches (see UserList.count). */
    async countUsers(filter?: UserListFilter | null): Promise<UserCount> {
      return (await openUserList(filter)).count();
    },

    openUserList,

    createUserAndVerifyAddresses,
    updateUserAndVerifyAddresses,

    /** createUserAndVerifyAddresses without a verification choice: the addresses are stored unverified. */
    async createUser(input: ProfileInput, meta: RequestMeta, andThen?: (tx: Tx, user: User) => Promise<unknown>): Promise<User> {
      return (await createUserAndVerifyAddresses(input, {}, meta, andThen)).user;
    },

    /** updateUserAndVerifyAddresses without a verification choice: a changed address becomes unverified. */
    async updateUser(userId: string, input: ProfileInput, meta: RequestMeta): Promise<User> {
      return (await updateUserAndVerifyAddresses(userId, input, {}, meta)).user;
    },

    async deleteUser(userId: string, meta: RequestMeta): Promise<{ id: string }> {
      return inTransaction(async (tx) => {
        const user = await tx.user.findUnique({ where: { id: userId } });
        if (!user) throw new UserNotFoundError(userId);
        await deps.onUserDeleting?.(tx, userId, meta);
        if (!(await store.deleteUser(tx, userId))) throw new UserNotFoundError(userId);
        await outbox.record(tx, { type: 'user.deleted', userId, data: { user: publicUser(user) } }, meta);
        await deps.onUserDeleted?.(tx, userId, meta);
        return { id: userId };
      });
    },

    lockUser: (userId: string, meta: RequestMeta, reason?: string) => transition('lock', userId, meta, { reason }),
    unlockUser: (userId: string, meta: RequestMeta) => transition('unlock', userId, meta),
    deactivateUser: (userId: string, meta: RequestMeta) => transition('deactivate', userId, meta),
    reactivateUser: (userId: string, meta: RequestMeta) => transition('reactivate', userId, meta),
  };
}
