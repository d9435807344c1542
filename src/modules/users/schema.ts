import { UserState } from '../../kernel/db/models.js';
import { builder } from '../../graphql/builder.js';
import { adminOrThisUser, affectedUser, toUserResult, userSuccess } from '../../graphql/helpers.js';
import { AuthMethodInterface } from '../auth-methods/schema.js';
import { errorTypes as E } from '../../graphql/errors.js';
import { UserEventTypeEnum, eventTypeWhere } from '../events/schema.js';
import { SECOND_FACTORS } from '../sign-in/mfa.js';
import { passwordHashLimits } from '../password/hash-limits.js';
import { ContactVerificationEnum } from './contacts.schema.js';
import { GraphQLError } from 'graphql';
import { InvalidInputError } from '../../kernel/errors.js';
import type { UserCount, UserList, UserListFilter as UserFilterShape, UserWrite } from './service.js';
import { IdpIntentInput } from '../identity-providers/intent-input.schema.js';

export const UserStateEnum = builder.enumType(UserState, {
  name: 'UserState',
  description: 'ACTIVE; INACTIVE: deactivated by an admin, data kept; LOCKED: by an admin or by the lockout policy.',
});

export const UserRef = builder.prismaNode('User', {
  description: 'A person known to the gateway.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    email: t.exposeString('email', { nullable: true }),
    emailVerified: t.boolean({ select: { emailVerifiedAt: true }, resolve: (u) => u.emailVerifiedAt !== null }),
    emailVerifiedAt: t.expose('emailVerifiedAt', { type: 'DateTime', nullable: true }),
    phone: t.exposeString('phone', { nullable: true, description: 'E.164, e.g. +14155550123.' }),
    phoneVerified: t.boolean({ select: { phoneVerifiedAt: true }, resolve: (u) => u.phoneVerifiedAt !== null }),
    phoneVerifiedAt: t.expose('phoneVerifiedAt', { type: 'DateTime', nullable: true }),
    username: t.exposeString('username', { nullable: true }),
    givenName: t.exposeString('givenName', { nullable: true }),
    familyName: t.exposeString('familyName', { nullable: true }),
    displayName: t.exposeString('displayName', { nullable: true }),
    state: t.expose('state', { type: UserStateEnum }),
    lockedReason: t.exposeString('lockedReason', { nullable: true, description: 'Why the user is locked: "admin" or the policy that locked it.' }),
    lockedUntil: t.expose('lockedUntil', { type: 'DateTime', nullable: true, description: 'When a policy lock ends; null while locked means until an admin unlocks.' }),
    hasPassword: t.boolean({
      select: { _count: { select: { authMethods: { where: { kind: 'PASSWORD' } } } } },
      resolve: (u) => u._count.authMethods > 0,
    }),
    passwordChangedAt: t.expose('passwordChangedAt', { type: 'DateTime', nullable: true }),
    passwordMustChange: t.exposeBoolean('passwordMustChange', {
      description: 'The password is flagged to change (createUser, setPassword or an import with mustChange): login and completeMfaLogin say so; changePassword clears it.',
    }),
    lastLoginAt: t.expose('lastLoginAt', { type: 'DateTime', nullable: true }),
    lastLoginDevice: t.exposeString('lastLoginDevice', { nullable: true }),
    lastActiveAt: t.expose('lastActiveAt', {
      type: 'DateTime',
      nullable: true,
      description:
        "The user's last active UTC day, to the day: when it first signed in or refreshed a session that day (later activity the same day does not move it). Null when no activity was recorded.",
    }),
    mfaEnabled: t.boolean({
      description: 'True when the user has a verified second factor.',
      select: { _count: { select: { authMethods: { where: { kind: { in: [...SECOND_FACTORS] }, verified: true } } } } },
      resolve: (u) => u._count.authMethods > 0,
    }),
    metadata: t.expose('publicMetadata', {
      type: 'JSON',
      nullable: true,
      authScopes: adminOrThisUser('users:read'),
      deprecationReason: 'Renamed publicMetadata (null here is {} there); this alias goes in the next release.',
      description: 'publicMetadata under its old name.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    authMethods: t.relation('authMethods', { type: AuthMethodInterface, query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] } }),
    events: t.prismaConnection(
      {
        type: 'Event',
        cursor: 'id',
        authScopes: adminOrThisUser('events:read'),
        description: "The user's event log, oldest first: API keys holding events:read, or the user itself.",
        args: { types: t.arg({ type: [UserEventTypeEnum], required: false }) },
        resolve: (query, user, args, ctx) =>
          ctx.db.event.findMany({ ...query, where: { userId: user.id, ...eventTypeWhere(args.types) }, orderBy: { seq: 'asc' } }),
      },
    ),
  }),
});

const UserOrderField = builder.enumType('UserOrderField', {
  values: {
    CREATED_AT: { description: 'When the user was created.' },
    EMAIL: { description: 'The email, compared case-insensitively; users without one come last in both directions.' },
    LAST_LOGIN_AT: { description: 'The last successful sign-in (User.lastLoginAt); users who never signed in come last in both directions.' },
    LAST_ACTIVE_AT: { description: 'The last active day (User.lastActiveAt); users never active come last in both directions.' },
  } as const,
});
export const OrderDirection = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });

const UserOrder = builder.inputType('UserOrder', {
  description: 'The order of a user list. Rows equal in the field are ordered by id in the same direction, so pages never skip or repeat a user.',
  fields: (t) => ({
    field: t.field({ type: UserOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

const DateTimeRange = builder.inputType('DateTimeRange', {
  description: 'Instants from `from` (inclusive) up to `to` (exclusive): [from, to). Either end may be left out for an open range; from after to is refused with BAD_USER_INPUT.',
  fields: (t) => ({
    from: t.field({ type: 'DateTime', description: 'The earliest instant in the range (inclusive).' }),
    to: t.field({ type: 'DateTime', description: 'The first instant after the range (exclusive).' }),
  }),
});

const UserMetadataFilter = builder.inputType('UserMetadataFilter', {
  description: 'Users whose publicMetadata holds `equals` at `path`.',
  fields: (t) => ({
    path: t.string({
      required: true,
      description: 'Keys of publicMetadata joined by dots, e.g. "plan" or "billing.tier": 1 to 8 keys of letters, digits, _ and -. Arrays are not entered.',
    }),
    equals: t.field({
      type: 'JSON',
      required: true,
      description: 'A JSON scalar: a string, a number or a boolean, compared as JSON ("1" is not 1, "true" is not true).',
    }),
  }),
});

const UserFilter = builder.inputType('UserFilter', {
  description: 'Every field given must match (AND).',
  fields: (t) => ({
    query: t.string({
      description:
        'Text matched against email, username and names (case-insensitive), anywhere in them. With a query, totalCount stops at 1,000 (see totalCountExact).',
    }),
    state: t.field({ type: UserStateEnum }),
    email: t.string({ description: 'Exact email, compared case-insensitively.' }),
    createdAt: t.field({ type: DateTimeRange, description: 'Users created in this range: from inclusive, to exclusive.' }),
    lastLoginAt: t.field({
      type: DateTimeRange,
      description:
        'Users whose last successful sign-in (lastLoginAt: password, MFA or passkey sign-in; not a refresh) is in this range: from inclusive, to exclusive. Users who never signed in match no range, even one with neither end.',
    }),
    lastActiveAt: t.field({
      type: DateTimeRange,
      description:
        'Users whose lastActiveAt (the first sign-in or refresh of their last active day) is in this range: from inclusive, to exclusive. To the day: a range starting at midnight UTC finds every user active since. Users never active match no range, even one with neither end.',
    }),
    metadata: t.field({ type: UserMetadataFilter, description: 'Users whose publicMetadata holds a scalar at a path.' }),
  }),
});

/**
 * One `users` field's list, opened once for its page and its count (the
 * search index is asked once): keyed by its arguments object, which
 * plugin-prisma hands to both.
 */
const userLists = new WeakMap<object, Promise<UserList>>();
function userList(args: { filter?: UserFilterShape | null }, ctx: { services: { users: { openUserList(filter?: UserFilterShape | null): Promise<UserList> } } }) {
  let list = userLists.get(args);
  if (!list) {
    list = asInputError(() => ctx.services.users.openUserList(args.filter));
    userLists.set(args, list);
  }
  return list;
}

/**
 * The count of one `users` field, asked once: totalCount and totalCountExact
 * both read it. Keyed by the field's response path (graphql-js passes the very
 * object to the fields below it), so aliased `users` fields each have their own.
 */
const userCounts = new WeakMap<object, Promise<UserCount>>();

/** A query has no result union: the service's InvalidInputError (a bad filter) becomes a GraphQL input error naming the field. */
async function asInputError<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof InvalidInputError) throw new GraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT', field: error.field } });
    throw error;
  }
}

builder.queryFields((t) => ({
  user: t.prismaField({
    type: 'User',
    nullable: true,
    authScopes: { admin: 'users:read' },
    description: 'A user by id; null when there is none.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => ctx.services.users.findUser(String(args.id), query),
  }),
  users: t.prismaConnection(
    {
      type: 'User',
      cursor: 'id',
      authScopes: { admin: 'users:read' },
      description: 'Users, filtered and ordered; a Relay connection.',
      args: {
        filter: t.arg({ type: UserFilter }),
        orderBy: t.arg({ type: UserOrder }),
      },
      resolve: async (query, _root, args, ctx) => (await userList(args, ctx)).page(query, args.orderBy),
      totalCount: (_conn, args, ctx, info) => {
        let count = userCounts.get(info.path);
        if (!count) {
          count = userList(args, ctx).then((list) => list.count());
          userCounts.set(info.path, count);
        }
        return count.then((c) => c.count);
      },
    },
    {
      fields: (c) => ({
        totalCountExact: c.boolean({
          description:
            'False when totalCount stopped counting: with filter.query, more than 1,000 users match and totalCount is 1,000 (a lower bound). True otherwise: totalCount is the number of users the filter matches.',
          resolve: async (connection, _args, _ctx, info) => {
            // The cast: plugin-prisma puts its totalCount callback on the connection object, which the type does not name.
            await (connection as unknown as { totalCount: () => Promise<number> }).totalCount();
            return (await userCounts.get(info.path.prev!)!).exact;
          },
        }),
      }),
    },
  ),
}));

const profileFields = (t: PothosSchemaTypes.InputFieldBuilder<PothosSchemaTypes.ExtendDefaultTypes<{}>, 'InputObject'>) => ({
  email: t.string(),
  phone: t.string({ description: 'Any common format; a number without +country is read in phoneCountry, else the configured default region. Stored as E.164.' }),
  username: t.string(),
  givenName: t.string(),
  familyName: t.string(),
  displayName: t.string(),
  metadata: t.field({
    type: 'JSON' as never,
    deprecationReason: 'Renamed publicMetadata; this alias goes in the next release.',
    description: 'publicMetadata under its old name: replaces it; null clears it.',
  }),
});

/** The metadata a new user starts with (updateUserMetadata changes it later). */
const createMetadataFields = (t: PothosSchemaTypes.InputFieldBuilder<PothosSchemaTypes.ExtendDefaultTypes<{}>, 'InputObject'>) => ({
  publicMetadata: t.field({ type: 'JSON' as never, description: 'A JSON object the user may read (see updateUserMetadata for the limits).' }),
  privateMetadata: t.field({ type: 'JSON' as never, description: 'A JSON object for API keys only.' }),
  unsafeMetadata: t.field({ type: 'JSON' as never, description: 'A JSON object the user may read and write itself.' }),
});

/** How createUser and updateUser read and verify addresses; a verification left out issues nothing, so existing clients send no mail. */
const addressFields = (t: PothosSchemaTypes.InputFieldBuilder<PothosSchemaTypes.ExtendDefaultTypes<{}>, 'InputObject'>) => ({
  emailVerification: t.field({
    type: ContactVerificationEnum as never,
    description:
      'How the email given here is verified, as in setEmail. Left out: a new or changed email is stored unverified and no code is issued (resendEmailCode sends one later). A code is issued once the write is committed.',
  }),
  phoneVerification: t.field({
    type: ContactVerificationEnum as never,
    description: 'How the phone given here is verified, as in setPhone. Left out: a new or changed phone is stored unverified and no code is issued (resendPhoneCode sends one later).',
  }),
  phoneCountry: t.string({
    description: 'ISO 3166-1 alpha-2 code (US, DE) of a phone given here without +country, as the country of setPhone; default PORTCULLIS_DEFAULT_PHONE_REGION.',
  }),
});

/** A success payload with the user and the codes its verification choices returned. */
function userWriteSuccess(name: string, description: string) {
  return builder.objectRef<UserWrite & { userId: string }>(name).implement({
    description,
    fields: (t) => ({
      user: affectedUser(t),
      issuedCode: t.string({
        nullable: true,
        description: 'The email verification code: only with emailVerification RETURN_CODE. Deliver it yourself; it is never shown again.',
        resolve: (p) => p.email?.code ?? null,
      }),
      issuedPhoneCode: t.string({
        nullable: true,
        description: 'The phone verification code: only with phoneVerification RETURN_CODE. Deliver it yourself; it is never shown again.',
        resolve: (p) => p.phone?.code ?? null,
      }),
    }),
  });
}
const toUserWriteResult = (write: UserWrite) => ({ ...write, userId: write.user.id });

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({
    ...profileFields(t as never),
    ...createMetadataFields(t as never),
    ...addressFields(t as never),
    password: t.string({ description: 'An initial password, checked against the password policy and stored as an argon2id hash.' }),
    passwordHash: t.string({
      description: `Instead of password: a hash imported from another system (argon2 PHC, bcrypt $2a$/$2b$/$2y$, Django pbkdf2_sha256) within the cost limits (${passwordHashLimits}); upgraded to argon2id at the first successful verification.`,
    }),
    passwordMustChange: t.boolean({ description: 'The user must choose a new password at next sign-in.' }),
    idpIntent: t.field({
      type: IdpIntentInput as never,
      description:
        "Register the account an identity-provider intent brought back, and link it, in the same transaction (the intent is used up). The provider's email and names fill the fields left out; the email is marked verified when the provider vouches for that very address and no emailVerification is given.",
    }),
  }),
});
const UpdateUserInput = builder.inputType('UpdateUserInput', {
  description: 'Fields left out are unchanged; null clears a field.',
  fields: (t) => ({ userId: t.id({ required: true }), ...profileFields(t as never), ...addressFields(t as never) }),
});
const UserIdInput = (name: string, extra?: 'reason') =>
  builder.inputType(name, {
    fields: (t) => ({
      userId: t.id({ required: true }),
      ...(extra === 'reason' ? { reason: t.string({ description: 'Kept with the lock and in the user.locked event.' }) } : {}),
    }),
  });

const writeErrors = [E.UserNotFoundError, E.AlreadyExistsError, E.InvalidInputError];

builder.mutationFields((t) => ({
  createUser: t.field({
    type: userWriteSuccess('CreateUserSuccess', 'The user was created; see `issuedCode` and `issuedPhoneCode` for returned verification codes.'),
    authScopes: { admin: 'users:write' },
    description:
      'Creates a user, optionally with a password or an imported password hash, or from an identity-provider intent (idpIntent: registered and linked at once). Emails and usernames are unique, compared case-insensitively. ' +
      'emailVerification and phoneVerification verify the addresses as setEmail/setPhone do; left out, they are stored unverified and nothing is sent. ' +
      'When a code cannot be delivered the user is still created, its address unverified with no live code: DeliveryFailedError carries its userId.',
    errors: {
      types: [
        E.AlreadyExistsError,
        E.InvalidInputError,
        E.WeakPasswordError,
        E.DeliveryFailedError,
        E.IdpIntentInvalidError,
        E.IdpIntentExpiredError,
        E.IdpIntentAlreadyUsedError,
        E.IdpIntentFailedError,
        E.InvalidStateError,
      ],
    },
    args: { input: t.arg({ type: CreateUserInput, required: true }) },
    resolve: async (_root, { input: { password, passwordHash, passwordMustChange, emailVerification, phoneVerification, phoneCountry, idpIntent, ...profile } }, ctx) => {
      const storePassword = await ctx.services.passwords.initialPassword({ password, passwordHash, mustChange: passwordMustChange }, ctx.meta);
      const intent = idpIntent as { intentId: string | number; token: string } | null | undefined;
      return toUserWriteResult(
        await ctx.services.users.createUserAndVerifyAddresses(
          profile,
          { emailVerification, phoneVerification, phoneCountry, idpIntent: intent ? { intentId: String(intent.intentId), token: intent.token } : null },
          ctx.meta,
          storePassword,
        ),
      );
    },
  }),
  updateUser: t.field({
    type: userWriteSuccess('UpdateUserSuccess', 'The user was updated; see `issuedCode` and `issuedPhoneCode` for returned verification codes.'),
    authScopes: { admin: 'users:write' },
    description:
      'Changes profile fields. A changed email or phone becomes unverified unless emailVerification or phoneVerification says otherwise (as in setEmail/setPhone); left out, nothing is sent. ' +
      'On DeliveryFailedError or ResendCooldownError the change is kept, the address unverified: use resendEmailCode or resendPhoneCode.',
    errors: { types: [...writeErrors, E.DeliveryFailedError, E.ResendCooldownError] },
    args: { input: t.arg({ type: UpdateUserInput, required: true }) },
    resolve: async (_root, { input: { userId, emailVerification, phoneVerification, phoneCountry, ...patch } }, ctx) =>
      toUserWriteResult(await ctx.services.users.updateUserAndVerifyAddresses(String(userId), patch, { emailVerification, phoneVerification, phoneCountry }, ctx.meta)),
  }),
  deleteUser: t.field({
    type: builder.objectRef<{ id: string }>('DeleteUserSuccess').implement({
      description: 'The user is gone from every query; the event log keeps user.deleted.',
      fields: (f) => ({ deletedUserId: f.exposeID('id') }),
    }),
    authScopes: { admin: 'users:write' },
    description:
      "Deletes a user and their credentials. The user leaves its organizations as removeOrganizationMember does (organization.member_removed with via user_deleted); while it is the last member of one holding the owner permission, nothing is deleted (LastOwnerError).",
    errors: { types: [E.UserNotFoundError, E.LastOwnerError] },
    args: { input: t.arg({ type: UserIdInput('DeleteUserInput'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.users.deleteUser(String(input.userId), ctx.meta),
  }),
  lockUser: t.field({
    type: userSuccess('LockUserSuccess', 'The user is locked.'),
    authScopes: { admin: 'users:write' },
    description: 'Locks an active user until an admin unlocks them.',
    errors: { types: [E.UserNotFoundError, E.InvalidStateError] },
    args: { input: t.arg({ type: UserIdInput('LockUserInput', 'reason'), required: true }) },
    resolve: async (_root, { input }, ctx) =>
      toUserResult(await ctx.services.users.lockUser(String(input.userId), ctx.meta, (input as { reason?: string | null }).reason ?? undefined)),
  }),
  unlockUser: t.field({
    type: userSuccess('UnlockUserSuccess', 'The user is active again.'),
    authScopes: { admin: 'users:write' },
    description: 'Unlocks a locked user and resets their failed-attempt counters.',
    errors: { types: [E.UserNotFoundError, E.InvalidStateError] },
    args: { input: t.arg({ type: UserIdInput('UnlockUserInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => toUserResult(await ctx.services.users.unlockUser(String(input.userId), ctx.meta)),
  }),
  deactivateUser: t.field({
    type: userSuccess('DeactivateUserSuccess', 'The user is deactivated.'),
    authScopes: { admin: 'users:write' },
    description: 'Deactivates an active or locked user; their data is kept.',
    errors: { types: [E.UserNotFoundError, E.InvalidStateError] },
    args: { input: t.arg({ type: UserIdInput('DeactivateUserInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => toUserResult(await ctx.services.users.deactivateUser(String(input.userId), ctx.meta)),
  }),
  reactivateUser: t.field({
    type: userSuccess('ReactivateUserSuccess', 'The user is active again.'),
    authScopes: { admin: 'users:write' },
    description: 'Reactivates a deactivated user.',
    errors: { types: [E.UserNotFoundError, E.InvalidStateError] },
    args: { input: t.arg({ type: UserIdInput('ReactivateUserInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => toUserResult(await ctx.services.users.reactivateUser(String(input.userId), ctx.meta)),
  }),
}));
