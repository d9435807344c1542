import { builder } from '../../graphql/builder.js';
import { adminOrViewer, adminOrSelf, selfViewer, toUserResult, affectedUser, type SchemaTypes } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';
import { UserRef } from '../users/schema.js';
import type { SessionRevokedReason } from './events.js';
import { checkedUserOf } from './auth-strategy.js';

const SessionRevokedReasonEnum = builder.enumType('SessionRevokedReason', {
  description: 'Why a session ended. The user.session_revoked event carries the same value in lower case (refresh_token_reused).',
  values: {
    LOGOUT: { value: 'logout', description: 'logout ended it (with everywhere: true, every session of the user).' },
    REVOKED: { value: 'revoked', description: 'revokeSession ended it.' },
    REVOKED_ALL: { value: 'revoked_all', description: 'revokeAllSessions ended it.' },
    PASSWORD_CHANGED: { value: 'password_changed', description: 'A password change, reset or setPassword ended it.' },
    REFRESH_TOKEN_REUSED: { value: 'refresh_token_reused', description: 'A spent refresh token of the session was presented again: someone else may hold a copy.' },
  } satisfies { [R in SessionRevokedReason as Uppercase<R>]: { value: R; description: string } },
});

export const SessionRef = builder.prismaNode('Session', {
  description: 'A signed-in device: its access tokens are short-lived JWTs, its refresh token rotates on every use.',
  id: { field: 'id' },
  nullable: true,
  fields: (t) => ({
    device: t.exposeString('device', { nullable: true, description: 'A readable name given at sign-in, else the user agent.' }),
    ip: t.exposeString('ip', { nullable: true, description: 'The address the session was opened or last refreshed from.' }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastSeenAt: t.expose('lastSeenAt', { type: 'DateTime', description: 'Last refresh or authenticated request (to the minute).' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the session ends unless revoked before.' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    revokedReason: t.field({
      type: SessionRevokedReasonEnum,
      nullable: true,
      description: 'Why the session ended; null while it is live.',
      resolve: (s) => s.revokedReason as SessionRevokedReason | null,
    }),
    current: t.boolean({
      description: "True for the session of the access token making this request.",
      resolve: (s, _args, ctx) => ctx.viewer.kind === 'user' && ctx.viewer.sessionId === s.id,
    }),
    user: t.relation('user'),
  }),
});

builder.prismaObjectField(UserRef, 'sessions', (t) =>
  t.relation('sessions', {
    description: 'Live sessions (not revoked, not expired), newest first.',
    query: (_args, ctx) => ({ where: ctx.services.sessions.liveSessionsWhere(), orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
  }),
);

builder.queryField('me', (t) =>
  t.prismaField({
    type: 'User',
    nullable: true,
    description: 'The signed-in user (access token callers); null for API keys.',
    authScopes: adminOrViewer('users:read'),
    resolve: (query, _root, _args, ctx) => {
      if (ctx.viewer.kind === 'user') return ctx.services.users.findUser(ctx.viewer.userId, query, checkedUserOf(ctx.viewer));
      // Nothing to read for an API key; reading the selection marks it used (the development check otherwise fails the request).
      void { ...query };
      return null;
    },
  }),
);

/** The session and user a result is about, re-read with the caller's selection. */
export const sessionAndUserFields = (t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, { sessionId: string; userId: string }>) => ({
  session: t.prismaField({
    type: 'Session',
    resolve: (query, parent, _args, ctx) => ctx.db.session.findUniqueOrThrow({ ...query, where: { id: parent.sessionId } }),
  }),
  user: affectedUser(t),
});

const SessionSuccess = (name: string, description: string) =>
  builder.objectRef<{ sessionId: string; userId: string }>(name).implement({ description, fields: (t) => sessionAndUserFields(t) });

const RevokeSessionInput = builder.inputType('RevokeSessionInput', {
  fields: (t) => ({ id: t.id({ required: true, description: 'The session (ses_…).' }) }),
});
const RevokeAllSessionsInput = builder.inputType('RevokeAllSessionsInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    keepCurrent: t.boolean({ defaultValue: false, description: "Keep the caller's own session (a user signing out everywhere else)." }),
  }),
});

const RevokeAllSessionsSuccess = builder.objectRef<{ userId: string; revokedCount: number }>('RevokeAllSessionsSuccess').implement({
  description: "The user's sessions are revoked: their refresh and access tokens stop working at once.",
  fields: (t) => ({
    revokedCount: t.exposeInt('revokedCount'),
    user: affectedUser(t),
  }),
});

const LogoutInput = builder.inputType('LogoutInput', {
  fields: (t) => ({
    everywhere: t.boolean({ defaultValue: false, description: "Also end every other session of the signed-in user (sign out on all devices)." }),
  }),
});

const SigningAlgorithm = builder.enumType('SigningAlgorithm', {
  description: 'EdDSA (Ed25519) or ES256 (P-256).',
  values: ['EdDSA', 'ES256'] as const,
});

const RotateSigningKeyInput = builder.inputType('RotateSigningKeyInput', {
  fields: (t) => ({
    algorithm: t.field({ type: SigningAlgorithm, description: 'The new key\'s algorithm; default PORTCULLIS_SIGNING_ALG.' }),
  }),
});

const RotateSigningKeySuccess = builder.objectRef<{ kid: string; retiredKid: string }>('RotateSigningKeySuccess').implement({
  description: 'A new key signs new access tokens; the retired one stays in the JWKS until its tokens have expired.',
  fields: (t) => ({
    signingKeyId: t.exposeString('kid', { description: 'The kid of the new current key.' }),
    retiredSigningKeyId: t.exposeString('retiredKid', { description: 'The kid of the key it replaced.' }),
  }),
});

builder.mutationFields((t) => ({
  logout: t.field({
    type: SessionSuccess('LogoutSuccess', 'The session is revoked: its refresh token and access tokens stop working at once.'),
    authScopes: selfViewer('sessions:write', { session: true }),
    description: "Ends the caller's own session (access token callers only). Records user.session_revoked.",
    errors: { types: [E.NotFoundError] },
    args: { input: t.arg({ type: LogoutInput, description: 'Optional: { everywhere: true } ends the other sessions too.' }) },
    resolve: (_root, { input }, ctx) => {
      if (ctx.viewer.kind !== 'user' || !ctx.viewer.sessionId) throw new Error('unreachable: logout is scoped to access token callers');
      return ctx.services.sessions.logout(ctx.viewer.sessionId, ctx.meta, { everywhere: input?.everywhere ?? false });
    },
  }),
  revokeSession: t.field({
    type: SessionSuccess('RevokeSessionSuccess', 'The session is revoked.'),
    authScopes: adminOrViewer('sessions:write'),
    description: 'Revokes one session: an admin any, a user only their own (another user\'s is NOT_FOUND). Records user.session_revoked.',
    errors: { types: [E.NotFoundError] },
    args: { input: t.arg({ type: RevokeSessionInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.sessions.revokeSession(String(input.id), ctx.meta, { ownerId: ctx.viewer.kind === 'user' ? ctx.viewer.userId : undefined }),
  }),
  revokeAllSessions: t.field({
    type: RevokeAllSessionsSuccess,
    authScopes: adminOrSelf('sessions:write'),
    description: 'Revokes every live session of a user (for example after a suspected compromise). Records user.session_revoked for each.',
    errors: { types: [E.UserNotFoundError] },
    args: { input: t.arg({ type: RevokeAllSessionsInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const userId = String(input.userId);
      const except = input.keepCurrent && ctx.viewer.kind === 'user' ? ctx.viewer.sessionId : undefined;
      const revokedCount = await ctx.services.sessions.revokeAllSessions(userId, ctx.meta, { exceptSessionId: except });
      return { ...toUserResult({ id: userId }), revokedCount };
    },
  }),
  rotateSigningKey: t.field({
    type: RotateSigningKeySuccess,
    authScopes: { admin: 'signing_keys:manage' },
    description: 'Makes a new signing key current. Tokens signed by the old key stay valid until they expire; the JWKS publishes both until then.',
    errors: { types: [] },
    args: { input: t.arg({ type: RotateSigningKeyInput, description: 'Optional: the new key\'s algorithm.' }) },
    resolve: (_root, { input }, ctx) => ctx.services.signingKeys.rotateSigningKey(input?.algorithm ?? undefined),
  }),
}));

