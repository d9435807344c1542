/**
 * Shared shapes of mutations: every mutation takes one `input:` of its own
 * `<Name>Input` type and returns `<Name>Result` = `<Name>Success | errors…`.
 */
import type { User } from '../kernel/db/models.js';
import type { NeededScope } from '../modules/access-tokens/scopes.js';
import { builder } from './builder.js';

export type SchemaTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/**
 * The affected user of a success payload, re-read with the caller's selection
 * so nested fields (auth methods, events…) resolve like anywhere else.
 */
export function affectedUser<Parent extends { userId: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>, description?: string) {
  return t.prismaField({
    type: 'User',
    description,
    resolve: (query, parent, _args, ctx) => ctx.db.user.findUniqueOrThrow({ ...query, where: { id: parent.userId } }),
  });
}

/** A success type exposing the affected user under `user`. */
export function userSuccess(name: string, description: string) {
  return builder.objectRef<{ userId: string }>(name).implement({ description, fields: (t) => ({ user: affectedUser(t) }) });
}

export const toUserResult = (user: Pick<User, 'id'>) => ({ userId: user.id });

type ViewerLike = { viewer: { kind: string; userId?: string } };
const viewerId = (ctx: ViewerLike) => (ctx.viewer.kind === 'user' ? (ctx.viewer.userId ?? '') : '');

/**
 * Whether a personal access token may run a self-service operation: yes with
 * the field's scope, or never (`session: true`) where the operation needs a
 * session, such as a credential or contact change (it needs a recent
 * re-authentication, which only a session can show).
 */
export interface SelfOptions {
  session?: boolean;
}
const selfScope = (scope: NeededScope, options: SelfOptions): NeededScope | null => (options.session ? null : scope);

/** API keys holding `scope` act on anyone (input.userId); a signed-in user on themselves. */
export const adminOrSelf =
  (scope: NeededScope, options: SelfOptions = {}) =>
  (_root: unknown, args: { input: { userId: string | number } }) => ({ admin: scope, self: { userId: String(args.input.userId), scope: selfScope(scope, options) } });
/** Only the signed-in user, on their own account (no API key). */
export const selfViewer =
  (scope: NeededScope, options: SelfOptions = {}) =>
  (_root: unknown, _args: unknown, ctx: ViewerLike) => ({ self: { userId: viewerId(ctx), scope: selfScope(scope, options) } });
/** API keys holding `scope`, or the signed-in user (operations on the caller's own account, without a userId). */
export const adminOrViewer =
  (scope: NeededScope, options: SelfOptions = {}) =>
  (_root: unknown, _args: unknown, ctx: ViewerLike) => ({ admin: scope, self: { userId: viewerId(ctx), scope: selfScope(scope, options) } });
/** API keys holding `scope`, or this user (a field of the User type, e.g. me { roles }). */
export const adminOrThisUser = (scope: NeededScope) => (user: { id: string }) => ({ admin: scope, self: { userId: user.id, scope } });

/** The input field naming the user a mutation acts on. */
export const userIdField = (t: PothosSchemaTypes.InputFieldBuilder<SchemaTypes, 'InputObject'>) => t.id({ required: true, description: 'The user to act on.' });

/** An input of its own name holding only `userId`. */
export const userIdInput = (name: string) => builder.inputType(name, { fields: (t) => ({ userId: userIdField(t) }) });

/** An input of its own name holding `userId` and a `code`. */
export const userCodeInput = (name: string, description: string) =>
  builder.inputType(name, { fields: (t) => ({ userId: userIdField(t), code: t.string({ required: true, description }) }) });

/**
 * Field options of an operation anyone may call without a key or token: the
 * sign-in operations, and those authorized by a secret in their input (a
 * registration code, a WebAuthn challenge). The gateway reads this mark from
 * the schema to let anonymous callers through and to rate-limit them.
 */
export const publicOperation = { extensions: { public: true } } as const;
