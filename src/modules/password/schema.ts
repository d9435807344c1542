import type { AuthMethodKind } from '../../kernel/db/models.js';
import { passwordHashLimits } from './hash-limits.js';
import type { VerifiedCodeKind } from '../totp/service.js';
import { builder } from '../../graphql/builder.js';
import { adminOrSelf, adminOrViewer, toUserResult, userSuccess, affectedUser, type SchemaTypes } from '../../graphql/helpers.js';
import { AuthMethodKindEnum, BackupCodesMethod, TotpMethod } from '../auth-methods/schema.js';
import { errorTypes as E } from '../../graphql/errors.js';

/** The affected user, re-read with the caller's selection. */
const userField = (t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, { userId: string }>) =>
  affectedUser(t, 'The user, as it is now.');

const VerifiedCodeKindEnum = builder.enumType('VerifiedCodeKind', {
  description: 'Which kind of code verifyTotp accepted.',
  values: { TOTP: { description: 'A code from the TOTP authenticator.' }, BACKUP_CODE: { description: 'A backup code, now used up.' } } as const,
});

const userIdField = (t: PothosSchemaTypes.InputFieldBuilder<PothosSchemaTypes.ExtendDefaultTypes<{}>, 'InputObject'>) =>
  t.id({ required: true, description: 'The user to act on.' });

// ── Passwords ──────────────────────────────────────────────────────────────

const SetPasswordInput = builder.inputType('SetPasswordInput', {
  description: 'Exactly one of password and passwordHash.',
  fields: (t) => ({
    userId: userIdField(t as never),
    password: t.string({ description: 'The new password, checked against the password policy.' }),
    passwordHash: t.string({
      description: `A hash imported from another system: argon2 PHC (argon2id/i/d), bcrypt ($2a$, $2b$, $2y$) or Django pbkdf2_sha256, within the cost limits (${passwordHashLimits}). Upgraded to argon2id at the first successful verification.`,
    }),
    mustChange: t.boolean({ description: 'The user must choose a new password at next sign-in.', defaultValue: false }),
  }),
});

const ChangePasswordInput = builder.inputType('ChangePasswordInput', {
  description: 'The new password, proven by exactly one of currentPassword and resetCode.',
  fields: (t) => ({
    userId: userIdField(t as never),
    newPassword: t.string({ required: true }),
    currentPassword: t.string({ description: 'The current password (counts towards the lockout when wrong).' }),
    resetCode: t.string({ description: 'A code from requestPasswordReset (single use, expiring).' }),
    signOutEverywhere: t.boolean({
      defaultValue: false,
      description: "The user's other sessions always end; with true, the caller's own session ends too.",
    }),
  }),
});

const RequestPasswordResetInput = builder.inputType('RequestPasswordResetInput', {
  fields: (t) => ({
    userId: userIdField(t as never),
    returnCode: t.boolean({
      defaultValue: false,
      description: 'Return the code in the result instead of sending it, for flows that deliver it themselves.',
    }),
  }),
});

const VerifyPasswordInput = builder.inputType('VerifyPasswordInput', {
  fields: (t) => ({ userId: userIdField(t as never), password: t.string({ required: true }) }),
});

const RequestPasswordResetSuccess = builder
  .objectRef<{ userId: string; expiresAt: Date; resetCode: string | null; sentTo: string | null }>('RequestPasswordResetSuccess')
  .implement({
    description: 'A reset code was issued; an earlier one no longer works.',
    fields: (t) => ({
      user: userField(t),
      expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
      resetCode: t.exposeString('resetCode', { nullable: true, description: 'The code for changePassword, only when returnCode was true.' }),
      sentTo: t.exposeString('sentTo', { nullable: true, description: 'Where the code was sent, masked; null when it was returned instead.' }),
    }),
  });

const VerifyPasswordSuccess = builder.objectRef<{ userId: string; mustChange: boolean }>('VerifyPasswordSuccess').implement({
  description: 'The password is correct. The failed-attempt counter is reset.',
  fields: (t) => ({
    user: userField(t),
    mustChange: t.exposeBoolean('mustChange', { description: 'The user must choose a new password now.' }),
  }),
});

// ── TOTP and backup codes ──────────────────────────────────────────────────

const UserIdOnlyInput = (name: string) => builder.inputType(name, { fields: (t) => ({ userId: userIdField(t as never) }) });
const UserCodeInput = (name: string, description: string) =>
  builder.inputType(name, { fields: (t) => ({ userId: userIdField(t as never), code: t.string({ required: true, description }) }) });

const StartTotpRegistrationSuccess = builder
  .objectRef<{ authMethodId: string; secret: string; uri: string; qrCode: string }>('StartTotpRegistrationSuccess')
  .implement({
    description: 'A pending TOTP authenticator. Show the QR code (or the secret) once; activate with verifyTotpRegistration.',
    fields: (t) => ({
      authMethod: t.prismaField({
        type: TotpMethod,
        resolve: (query, parent, _args, ctx) => ctx.db.authMethod.findUniqueOrThrow({ ...query, where: { id: parent.authMethodId } }),
      }),
      secret: t.exposeString('secret', { description: 'The shared secret, base32 (RFC 4648), for manual entry.' }),
      uri: t.exposeString('uri', { description: 'The otpauth:// URI (issuer, account name, SHA1, 6 digits, 30 s).' }),
      qrCode: t.exposeString('qrCode', { description: 'The URI as a QR code: an SVG data URL.' }),
    }),
  });

const VerifyTotpRegistrationSuccess = builder.objectRef<{ authMethodId: string; userId: string }>('VerifyTotpRegistrationSuccess').implement({
  description: 'The TOTP authenticator is active.',
  fields: (t) => ({
    authMethod: t.prismaField({
      type: TotpMethod,
      resolve: (query, parent, _args, ctx) => ctx.db.authMethod.findUniqueOrThrow({ ...query, where: { id: parent.authMethodId } }),
    }),
    user: userField(t),
  }),
});

const VerifyTotpSuccess = builder
  .objectRef<{ userId: string; kind: VerifiedCodeKind; backupCodesRemaining: number }>('VerifyTotpSuccess')
  .implement({
    description: 'The code is valid and is now used.',
    fields: (t) => ({
      user: userField(t),
      kind: t.expose('kind', { type: VerifiedCodeKindEnum }),
      backupCodesRemaining: t.exposeInt('backupCodesRemaining', { description: 'Unused backup codes left.' }),
    }),
  });

const GenerateBackupCodesSuccess = builder.objectRef<{ userId: string; authMethodId: string; codes: string[] }>('GenerateBackupCodesSuccess').implement({
  description: 'New backup codes; earlier ones no longer work.',
  fields: (t) => ({
    codes: t.exposeStringList('codes', { description: 'The codes, shown this once; only their hashes are stored.' }),
    authMethod: t.prismaField({
      type: BackupCodesMethod,
      resolve: (query, parent, _args, ctx) => ctx.db.authMethod.findUniqueOrThrow({ ...query, where: { id: parent.authMethodId } }),
    }),
    user: userField(t),
  }),
});

const RemoveAuthMethodInput = builder.inputType('RemoveAuthMethodInput', {
  fields: (t) => ({
    id: t.id({ required: true, description: 'The auth method (am_…).' }),
    code: t.string({ description: 'A current TOTP or backup code: required when a user removes their own TOTP with an access token.' }),
  }),
});

const RemoveAuthMethodSuccess = builder.objectRef<{ userId: string; id: string; kind: AuthMethodKind }>('RemoveAuthMethodSuccess').implement({
  description: 'The auth method is gone.',
  fields: (t) => ({
    removedAuthMethodId: t.exposeID('id'),
    kind: t.expose('kind', { type: AuthMethodKindEnum }),
    user: userField(t),
  }),
});

const stateErrors = [E.UserNotFoundError, E.UserLockedError, E.UserInactiveError, E.TooManyAttemptsError];

builder.mutationFields((t) => ({
  setPassword: t.field({
    type: userSuccess('SetPasswordSuccess', 'The password is set.'),
    authScopes: { admin: true },
    description: "Sets or replaces a password, or imports a hash from another system. Ends every session of the user. Records user.password_changed with sessionsRevoked.",
    errors: { types: [E.UserNotFoundError, E.WeakPasswordError, E.InvalidInputError] },
    args: { input: t.arg({ type: SetPasswordInput, required: true }) },
    resolve: async (_root, { input: { userId, ...password } }, ctx) =>
      toUserResult(await ctx.services.passwords.setPassword(String(userId), password, ctx.meta)),
  }),
  changePassword: t.field({
    type: userSuccess('ChangePasswordSuccess', 'The password is changed.'),
    authScopes: adminOrSelf,
    description:
      "Changes a password, proven by the current password or by a reset code (that proof is the re-authentication). Ends the user's other sessions (the caller's own too with signOutEverywhere). Records user.password_changed with sessionsRevoked.",
    errors: {
      types: [
        ...stateErrors,
        E.NoPasswordError,
        E.IncorrectPasswordError,
        E.WeakPasswordError,
        E.IncorrectCodeError,
        E.CodeExpiredError,
        E.CodeAlreadyUsedError,
        E.InvalidInputError,
      ],
    },
    args: { input: t.arg({ type: ChangePasswordInput, required: true }) },
    resolve: async (_root, { input: { userId, ...change } }, ctx) =>
      toUserResult(await ctx.services.passwords.changePassword(String(userId), change, ctx.meta)),
  }),
  requestPasswordReset: t.field({
    type: RequestPasswordResetSuccess,
    authScopes: { admin: true },
    description:
      "Issues a single-use password reset code with an expiry, for changePassword(resetCode), and sends it to the user's verified email (else verified phone); with returnCode it is returned instead.",
    errors: { types: [...stateErrors, E.EmailNotVerifiedError, E.DeliveryFailedError] },
    args: { input: t.arg({ type: RequestPasswordResetInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const r = await ctx.services.passwords.requestPasswordReset(String(input.userId), { returnCode: input.returnCode }, ctx.meta);
      return { userId: r.user.id, expiresAt: r.expiresAt, resetCode: r.code, sentTo: r.sentTo };
    },
  }),
  verifyPassword: t.field({
    type: VerifyPasswordSuccess,
    authScopes: { admin: true },
    description:
      "Checks a user's password (Clerk's verify_password). Failures count towards the lockout policy; the answer takes as long whether or not the user exists.",
    errors: { types: [E.UserNotFoundError, E.NoPasswordError, E.IncorrectPasswordError, E.UserLockedError, E.UserInactiveError, E.TooManyAttemptsError] },
    args: { input: t.arg({ type: VerifyPasswordInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { user } = await ctx.services.passwords.verifyPassword(String(input.userId), input.password, ctx.meta);
      return { userId: user.id, mustChange: user.passwordMustChange };
    },
  }),
  startTotpRegistration: t.field({
    type: StartTotpRegistrationSuccess,
    authScopes: adminOrSelf,
    description: 'Starts registering a TOTP authenticator (one per user); starting again replaces a pending one.',
    errors: { types: [E.UserNotFoundError, E.UserLockedError, E.UserInactiveError, E.InvalidStateError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: UserIdOnlyInput('StartTotpRegistrationInput'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.totp.startTotpRegistration(String(input.userId), ctx.meta),
  }),
  verifyTotpRegistration: t.field({
    type: VerifyTotpRegistrationSuccess,
    authScopes: adminOrSelf,
    description: 'Activates the pending TOTP authenticator with a first valid code. Records user.totp_added.',
    errors: { types: [...stateErrors, E.NoTotpError, E.IncorrectCodeError, E.InvalidStateError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: UserCodeInput('VerifyTotpRegistrationInput', 'A code from the authenticator app.'), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { authMethodId } = await ctx.services.totp.verifyTotpRegistration(String(input.userId), input.code, ctx.meta);
      return { authMethodId, userId: String(input.userId) };
    },
  }),
  verifyTotp: t.field({
    type: VerifyTotpSuccess,
    authScopes: { admin: true },
    description:
      "Checks a TOTP code or a backup code (Clerk's verify_totp). A TOTP time step is accepted once; a backup code is consumed. Failures count towards the lockout policy.",
    errors: { types: [E.UserNotFoundError, E.NoTotpError, E.IncorrectCodeError, E.CodeAlreadyUsedError, E.UserLockedError, E.UserInactiveError, E.TooManyAttemptsError] },
    args: { input: t.arg({ type: UserCodeInput('VerifyTotpInput', 'A 6-digit TOTP code or a backup code.'), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const r = await ctx.services.totp.verifyTotp(String(input.userId), input.code, ctx.meta);
      return { userId: r.user.id, kind: r.kind, backupCodesRemaining: r.backupCodesRemaining };
    },
  }),
  generateBackupCodes: t.field({
    type: GenerateBackupCodesSuccess,
    authScopes: adminOrSelf,
    description: 'Generates new backup codes (returned once) and invalidates earlier ones. Records user.backup_codes_generated.',
    errors: { types: [E.UserNotFoundError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: UserIdOnlyInput('GenerateBackupCodesInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => ({
      userId: String(input.userId),
      ...(await ctx.services.backupCodes.generateBackupCodes(String(input.userId), ctx.meta)),
    }),
  }),
  removeAuthMethod: t.field({
    type: RemoveAuthMethodSuccess,
    authScopes: adminOrViewer,
    description: "Removes any auth method (password, TOTP, backup codes, OTP, passkey, security key) and records that kind's removal event. A user may remove only their own; their TOTP only with a current code.",
    errors: { types: [E.NotFoundError, E.InvalidInputError, E.IncorrectCodeError, E.CodeAlreadyUsedError, E.NoTotpError, E.InvalidTokenError, ...stateErrors, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: RemoveAuthMethodInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.viewer.kind === 'user'
        ? ctx.services.login.removeOwnAuthMethod(ctx.viewer.userId, ctx.viewer.sessionId, String(input.id), input.code, ctx.meta)
        : ctx.services.authMethods.removeAuthMethod(String(input.id), ctx.meta),
  }),
}));
