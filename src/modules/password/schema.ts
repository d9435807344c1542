import { passwordHashLimits } from './hash-limits.js';
import { builder } from '../../graphql/builder.js';
import { adminOrSelf, affectedUser, toUserResult, userIdField, userSuccess, type SchemaTypes } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';

/** The affected user, re-read with the caller's selection. */
const userField = (t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, { userId: string }>) => affectedUser(t, 'The user, as it is now.');

const SetPasswordInput = builder.inputType('SetPasswordInput', {
  description: 'Exactly one of password and passwordHash.',
  fields: (t) => ({
    userId: userIdField(t),
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
    userId: userIdField(t),
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
    userId: userIdField(t),
    returnCode: t.boolean({
      defaultValue: false,
      description: 'Return the code in the result instead of sending it, for flows that deliver it themselves.',
    }),
  }),
});

const VerifyPasswordInput = builder.inputType('VerifyPasswordInput', {
  fields: (t) => ({ userId: userIdField(t), password: t.string({ required: true }) }),
});

const RequestPasswordResetSuccess = builder
  .objectRef<{ userId: string; expiresAt: Date; resetCode: string | null; sentTo: string | null }>('RequestPasswordResetSuccess')
  .implement({
    description: 'A reset code was issued; an earlier one no longer works.',
    fields: (t) => ({
      user: userField(t),
      expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
      issuedCode: t.exposeString('resetCode', { nullable: true, description: 'The code for changePassword(resetCode), only when returnCode was true.' }),
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

const stateErrors = [E.UserNotFoundError, E.UserLockedError, E.UserInactiveError, E.TooManyAttemptsError];

builder.mutationFields((t) => ({
  setPassword: t.field({
    type: userSuccess('SetPasswordSuccess', 'The password is set.'),
    authScopes: { admin: 'credentials:write' },
    description: "Sets or replaces a password, or imports a hash from another system. Ends every session of the user. Records user.password_changed with sessionsRevoked.",
    errors: { types: [E.UserNotFoundError, E.WeakPasswordError, E.InvalidInputError] },
    args: { input: t.arg({ type: SetPasswordInput, required: true }) },
    resolve: async (_root, { input: { userId, ...password } }, ctx) =>
      toUserResult(await ctx.services.passwords.setPassword(String(userId), password, ctx.meta)),
  }),
  changePassword: t.field({
    type: userSuccess('ChangePasswordSuccess', 'The password is changed.'),
    authScopes: adminOrSelf('credentials:write', { session: true }),
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
    authScopes: { admin: 'credentials:write' },
    description:
      "Issues a single-use password reset code with an expiry, for changePassword(resetCode), and sends it to the user's verified email (else verified phone); with returnCode it is returned instead. " +
      'Within the resend cooldown of the last code it issues nothing and answers ResendCooldownError (retryAfter).',
    errors: { types: [E.UserNotFoundError, E.UserLockedError, E.UserInactiveError, E.EmailNotVerifiedError, E.DeliveryFailedError, E.ResendCooldownError] },
    args: { input: t.arg({ type: RequestPasswordResetInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const r = await ctx.services.passwords.requestPasswordReset(String(input.userId), { returnCode: input.returnCode }, ctx.meta);
      return { userId: r.user.id, expiresAt: r.expiresAt, resetCode: r.code, sentTo: r.sentTo };
    },
  }),
  verifyPassword: t.field({
    type: VerifyPasswordSuccess,
    authScopes: { admin: 'credentials:verify' },
    description:
      "Checks a user's password (Clerk's verify_password). Failures count towards the lockout policy; the answer takes as long whether or not the user exists.",
    errors: { types: [E.UserNotFoundError, E.NoPasswordError, E.IncorrectPasswordError, E.UserLockedError, E.UserInactiveError, E.TooManyAttemptsError] },
    args: { input: t.arg({ type: VerifyPasswordInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { user } = await ctx.services.passwords.verifyPassword(String(input.userId), input.password, ctx.meta);
      return { userId: user.id, mustChange: user.passwordMustChange };
    },
  }),
}));
