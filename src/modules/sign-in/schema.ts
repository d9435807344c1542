import type { SessionTokens } from '../sessions/service.js';
import type { MfaMethod } from './mfa.js';
import type { SignInTokens } from './login.js';
import { OtpChannelEnum } from '../otp/schema.js';
import { builder } from '../../graphql/builder.js';
import { affectedUser, selfViewer, publicOperation, type SchemaTypes } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';
import { sessionAndUserFields } from '../sessions/schema.js';

export const MfaMethodEnum = builder.enumType('MfaMethod', {
  description: 'A way to finish an MFA login, named like the AuthMethodKind of its factor.',
  values: {
    TOTP: { description: 'A code from an authenticator app.' },
    BACKUP_CODES: { description: 'One of the backup codes (consumed).' },
    OTP_SMS: { description: 'A one-time code sent by SMS (sendMfaOtp with channel SMS).' },
    OTP_EMAIL: { description: 'A one-time code sent by email (sendMfaOtp with channel EMAIL).' },
    PASSKEY: { description: 'A passkey or security key (PASSKEY or U2F): finish with completeMfaLoginWithPasskey.' },
  } as const satisfies Record<MfaMethod, unknown>,
});

export const DeviceInput = builder.inputType('DeviceInput', {
  description: "The end user's device. A back end signing users in passes its user's user agent and IP; left out, the request's own are used.",
  fields: (t) => ({
    name: t.string({ description: 'A readable name ("Ada\'s laptop"); default: the user agent.' }),
    userAgent: t.string(),
    ip: t.string({ description: 'IPv4 or IPv6.' }),
  }),
});

/** The fields every session-issuing success shares. */
const tokenFields = (t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, SessionTokens>) => ({
  accessToken: t.exposeString('accessToken', { description: 'A JWT for `Authorization: Bearer …`; verifiable with /.well-known/jwks.json.' }),
  tokenType: t.string({ description: 'Always Bearer.', resolve: () => 'Bearer' }),
  expiresAt: t.field({ type: 'DateTime', description: 'When the access token expires; refresh before.', resolve: (s) => s.expiresAt }),
  refreshToken: t.exposeString('refreshToken', { description: 'Opaque and single-use: refreshSession returns a new one each time. Keep it secret.' }),
  sessionExpiresAt: t.field({ type: 'DateTime', description: 'When the session ends; no refresh works after it.', resolve: (s) => s.sessionExpiresAt }),
  ...sessionAndUserFields(t),
});

const isTokens = (value: unknown) => typeof value === 'object' && value !== null && 'accessToken' in value;

function tokensType(name: string, description: string) {
  return builder.objectRef<SessionTokens>(name).implement({ description, isTypeOf: isTokens, fields: tokenFields });
}

/** A sign-in's tokens, and whether the password must change before anything else. */
export function signInType(name: string, description: string) {
  return builder.objectRef<SignInTokens & { kind?: 'session' }>(name).implement({
    description,
    isTypeOf: isTokens,
    fields: (t) => ({
      ...tokenFields(t),
      passwordMustChange: t.exposeBoolean('passwordMustChange', {
        description: "The user's password is flagged to change (User.passwordMustChange): have the user choose a new one (changePassword) before going on.",
      }),
    }),
  });
}

const LoginSuccess = signInType('LoginSuccess', 'Signed in: the tokens of a new session.');

export const MfaRequired = builder
  .objectRef<{ kind: 'mfa_required'; mfaToken: string; methods: MfaMethod[]; expiresAt: Date }>('MfaRequired')
  .implement({
    description: 'The first factor was right (a password, or an identity provider) and the user has a second factor: finish with completeMfaLogin (or a passkey) before mfaToken expires.',
    isTypeOf: (value) => typeof value === 'object' && value !== null && 'mfaToken' in value,
    fields: (t) => ({
      mfaToken: t.exposeString('mfaToken', { description: 'Single use, short-lived; not an access token.' }),
      methods: t.field({ type: [MfaMethodEnum], description: "The user's second factors, preferred first.", resolve: (m) => m.methods }),
      expiresAt: t.field({ type: 'DateTime', resolve: (m) => m.expiresAt }),
    }),
  });

const LoginInput = builder.inputType('LoginInput', {
  fields: (t) => ({
    identifier: t.string({ required: true, description: 'An email address or a username (case-insensitive).' }),
    password: t.string({ required: true }),
    device: t.field({ type: DeviceInput }),
    organizationId: t.id({
      description:
        'Sign in to this organization: the access tokens carry org_id, org_slug, org_roles and permissions (the user must be a member, else NotAMemberError). With MfaRequired it is kept for the completion.',
    }),
  }),
});

const CompleteMfaLoginInput = builder.inputType('CompleteMfaLoginInput', {
  fields: (t) => ({
    mfaToken: t.string({ required: true }),
    method: t.field({ type: MfaMethodEnum, required: true }),
    code: t.string({ required: true }),
    organizationId: t.id({ description: 'Sign in to this organization instead of the one login named (null: none).' }),
  }),
});

const CompleteMfaLoginWithPasskeyInput = builder.inputType('CompleteMfaLoginWithPasskeyInput', {
  fields: (t) => ({
    mfaToken: t.string({ required: true }),
    response: t.field({ type: 'JSON', required: true, description: 'The AuthenticationResponseJSON from the browser, answering a startPasskeyAuthentication challenge.' }),
    organizationId: t.id({ description: 'Sign in to this organization instead of the one login named (null: none).' }),
  }),
});

const RefreshSessionInput = builder.inputType('RefreshSessionInput', {
  fields: (t) => ({
    refreshToken: t.string({ required: true }),
    organizationId: t.id({
      description:
        "Switch the session to this organization (null: to none); absent: keep the session's. The new access token's organization claims are read afresh either way. A user who is not a member gets NotAMemberError and the refresh token stays unspent.",
    }),
  }),
});

const SendMfaOtpInput = builder.inputType('SendMfaOtpInput', {
  fields: (t) => ({
    mfaToken: t.string({ required: true }),
    channel: t.field({ type: OtpChannelEnum, required: true }),
  }),
});

const SendMfaOtpSuccess = builder
  .objectRef<{ expiresAt: Date; destination?: string | null; mfaTokenExpiresAt: Date }>('SendMfaOtpSuccess')
  .implement({
    description: 'A sign-in code is on its way; finish with completeMfaLogin(method: OTP_SMS or OTP_EMAIL).',
    fields: (t) => ({
      sentTo: t.string({ nullable: true, description: 'The masked address or number.', resolve: (s) => s.destination ?? null }),
      expiresAt: t.field({ type: 'DateTime', description: 'When the code expires.', resolve: (s) => s.expiresAt }),
      mfaTokenExpiresAt: t.field({ type: 'DateTime', resolve: (s) => s.mfaTokenExpiresAt }),
    }),
  });

const ReauthenticateOtpInput = builder.inputType('ReauthenticateOtpInput', {
  fields: (t) => ({
    channel: t.field({ type: OtpChannelEnum, required: true }),
    code: t.string({ required: true, description: 'The code sendOtp sent on that channel.' }),
  }),
});

const ReauthenticateInput = builder.inputType('ReauthenticateInput', {
  description: 'Exactly one proof of who you are.',
  fields: (t) => ({
    password: t.string({ description: 'The current password.' }),
    totpCode: t.string({ description: 'A code from the authenticator app, or a backup code (not one this same session generated).' }),
    otp: t.field({ type: ReauthenticateOtpInput, description: 'A sign-in code sent by sendOtp to your SMS or email factor.' }),
    passkeyResponse: t.field({ type: 'JSON', description: 'The AuthenticationResponseJSON answering a startPasskeyAuthentication challenge, made with one of your passkeys.' }),
  }),
});

const ReauthenticateSuccess = builder
  .objectRef<{ userId: string; authenticatedAt: Date; validUntil: Date }>('ReauthenticateSuccess')
  .implement({
    description: 'The session has proved a factor again: credential changes are allowed until validUntil.',
    fields: (t) => ({
      user: affectedUser(t),
      reauthenticatedAt: t.field({ type: 'DateTime', resolve: (r) => r.authenticatedAt }),
      validUntil: t.field({ type: 'DateTime', description: 'Until when credential changes need no new proof.', resolve: (r) => r.validUntil }),
    }),
  });

const stateErrors = [E.UserLockedError, E.UserInactiveError, E.TooManyAttemptsError];
const mfaTokenErrors = [E.InvalidTokenError, E.CodeExpiredError, E.CodeAlreadyUsedError];

builder.mutationFields((t) => ({
  login: t.errorUnionField({
    ...publicOperation,
    types: [LoginSuccess, MfaRequired, E.IncorrectPasswordError, ...stateErrors, E.InvalidInputError, E.NotAMemberError],
    union: { name: 'LoginResult', description: 'LoginSuccess, MfaRequired, or why not.' },
    description:
      'Signs a user in with an email or username and a password (public: no API key needed). An unknown identifier is answered exactly like a wrong password. Users with a second factor get MfaRequired. Records user.logged_in or user.login_failed.',
    args: { input: t.arg({ type: LoginInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const outcome = await ctx.services.login.login(input, ctx.meta);
      return outcome as never;
    },
  }),
  completeMfaLogin: t.field({
    ...publicOperation,
    type: signInType('CompleteMfaLoginSuccess', 'Signed in after the second factor: the tokens of a new session.'),
    description:
      'Finishes an MFA login with a TOTP code, a backup code, or a code sent by sendMfaOtp (public). A wrong code keeps the mfaToken usable until it expires; a right one consumes it.',
    errors: { types: [...mfaTokenErrors, E.IncorrectCodeError, E.NoTotpError, E.InvalidStateError, E.InvalidInputError, ...stateErrors, E.NotAMemberError] },
    args: { input: t.arg({ type: CompleteMfaLoginInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.login.completeMfaLogin(input, ctx.meta),
  }),
  completeMfaLoginWithPasskey: t.field({
    ...publicOperation,
    type: signInType('CompleteMfaLoginWithPasskeySuccess', 'Signed in after a passkey assertion: the tokens of a new session.'),
    description:
      "Finishes an MFA login with a passkey (public): start with startPasskeyAuthentication, then pass the browser's assertion here with the mfaToken. The credential must belong to the user who entered the password.",
    errors: { types: [...mfaTokenErrors, E.WebAuthnVerificationError, E.InvalidInputError, ...stateErrors, E.NotAMemberError] },
    args: { input: t.arg({ type: CompleteMfaLoginWithPasskeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.login.completeMfaLoginWithPasskey(input, ctx.meta),
  }),
  refreshSession: t.field({
    ...publicOperation,
    type: tokensType('RefreshSessionSuccess', 'A new access token and a new refresh token; the presented refresh token is spent.'),
    description:
      'Exchanges a refresh token for new tokens (public). Each refresh token works once: presenting a spent one revokes the whole session (theft detection), records user.refresh_token_reused and user.session_revoked (reason refresh_token_reused), and answers RefreshTokenReusedError, as does every later refresh of that session.',
    errors: { types: [E.RefreshTokenReusedError, E.InvalidTokenError, E.UserLockedError, E.UserInactiveError, E.NotAMemberError] },
    args: { input: t.arg({ type: RefreshSessionInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.sessions.refreshSession(input.refreshToken, ctx.meta, input.organizationId === undefined ? {} : { organizationId: input.organizationId }),
  }),
  reauthenticate: t.field({
    type: ReauthenticateSuccess,
    authScopes: selfViewer('credentials:verify', { session: true }),
    description:
      "Proves a factor again for the caller's own session (access token callers only). Adding or removing a factor, generating backup codes, setting email or phone and registering a passkey need a proof within PORTCULLIS_REAUTH_MAX_AGE_SECONDS (sign-in counts); they answer ReauthenticationRequiredError otherwise. Wrong proofs count towards the lockout. Records user.reauthenticated.",
    errors: {
      types: [
        E.IncorrectPasswordError,
        E.NoPasswordError,
        E.IncorrectCodeError,
        E.CodeAlreadyUsedError,
        E.CodeExpiredError,
        E.NoTotpError,
        E.InvalidStateError,
        E.WebAuthnVerificationError,
        E.InvalidInputError,
        E.InvalidTokenError,
        E.UserNotFoundError,
        ...stateErrors,
      ],
    },
    args: { input: t.arg({ type: ReauthenticateInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      if (ctx.viewer.kind !== 'user' || !ctx.viewer.sessionId) throw new Error('unreachable: reauthenticate is scoped to access token callers');
      return ctx.services.login.reauthenticate(ctx.viewer.userId, ctx.viewer.sessionId, input, ctx.meta);
    },
  }),
  sendMfaOtp: t.field({
    ...publicOperation,
    type: SendMfaOtpSuccess,
    description:
      'Sends a sign-in code to the SMS or email factor of the user an mfaToken belongs to (public). Within the resend cooldown it sends nothing and answers ResendCooldownError (retryAfter); the code already sent still works.',
    errors: {
      types: [
        ...mfaTokenErrors,
        E.InvalidInputError,
        E.InvalidStateError,
        E.PhoneNotVerifiedError,
        E.EmailNotVerifiedError,
        E.DeliveryFailedError,
        E.ResendCooldownError,
        E.UserLockedError,
        E.UserInactiveError,
      ],
    },
    args: { input: t.arg({ type: SendMfaOtpInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.login.sendMfaOtp(input, ctx.meta),
  }),
}));
