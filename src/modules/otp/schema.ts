import type { AuthMethod } from '../../kernel/db/models.js';
import type { OtpChannel, SendOtpResult } from './service.js';
import { builder } from '../../graphql/builder.js';
import { affectedUser } from '../../graphql/helpers.js';
import { AuthMethodInterface, OtpEmailMethod, OtpSmsMethod } from '../auth-methods/schema.js';
import { codeCheckErrors } from '../users/contacts.schema.js';
import { adminOrSelf } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';

export const OtpChannelEnum = builder.enumType('OtpChannel', {
  description: 'Where one-time sign-in codes go.',
  values: {
    SMS: { description: 'By SMS to the verified phone (an OTP_SMS factor).' },
    EMAIL: { description: 'By email to the verified address (an OTP_EMAIL factor).' },
  },
});

/** `user` and the affected factor, re-read with the caller's selection. */
function factorSuccess(name: string, description: string, methodType: typeof OtpSmsMethod | typeof OtpEmailMethod) {
  return builder.objectRef<{ userId: string; authMethodId: string }>(name).implement({
    description,
    fields: (t) => ({
      user: affectedUser(t),
      authMethod: t.prismaField({
        type: methodType,
        resolve: (query, parent, _args, ctx) => ctx.db.authMethod.findUniqueOrThrow({ ...query, where: { id: parent.authMethodId } }),
      }),
    }),
  });
}

function removedSuccess(name: string, description: string) {
  return builder.objectRef<{ userId: string; authMethodId: string }>(name).implement({
    description,
    fields: (t) => ({
      user: affectedUser(t),
      removedAuthMethodId: t.exposeID('authMethodId'),
    }),
  });
}

const UserIdInput = (name: string) => builder.inputType(name, { fields: (t) => ({ userId: t.id({ required: true }) }) });

const SendOtpInput = builder.inputType('SendOtpInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    channel: t.field({ type: OtpChannelEnum, required: true }),
    returnCode: t.boolean({ defaultValue: false, description: 'Return the code in the payload instead of sending it (custom delivery); skips the resend cooldown.' }),
  }),
});
const VerifyOtpInput = builder.inputType('VerifyOtpInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    channel: t.field({ type: OtpChannelEnum, required: true }),
    code: t.string({ required: true }),
  }),
});

const SendOtpSuccess = builder.objectRef<{ userId: string; channel: OtpChannel; result: SendOtpResult }>('SendOtpSuccess').implement({
  description: 'A sign-in code was issued; earlier codes for this channel no longer work.',
  fields: (t) => ({
    user: affectedUser(t),
    channel: t.field({ type: OtpChannelEnum, resolve: (p) => p.channel }),
    issuedCode: t.string({ nullable: true, description: 'The code: only with returnCode. It is never shown again.', resolve: (p) => p.result.code }),
    codeExpiresAt: t.field({ type: 'DateTime', resolve: (p) => p.result.expiresAt }),
    sentTo: t.string({ nullable: true, description: 'The masked address the code was sent to; null with returnCode.', resolve: (p) => p.result.sentTo }),
  }),
});

const VerifyOtpSuccess = builder.objectRef<{ userId: string; authMethod: AuthMethod }>('VerifyOtpSuccess').implement({
  description: 'The code is correct and now used up.',
  fields: (t) => ({
    user: affectedUser(t),
    authMethod: t.prismaField({
      type: AuthMethodInterface,
      description: 'The factor that was used; its lastUsedAt is now.',
      resolve: (query, parent, _args, ctx) => ctx.db.authMethod.findUniqueOrThrow({ ...query, where: { id: parent.authMethod.id } }),
    }),
  }),
});

const factorResult = (r: { user: { id: string }; authMethod: { id: string } }) => ({ userId: r.user.id, authMethodId: r.authMethod.id });
const removedResult = (r: { userId: string; removedAuthMethodId: string }) => ({ userId: r.userId, authMethodId: r.removedAuthMethodId });

builder.mutationFields((t) => ({
  addOtpSms: t.field({
    type: factorSuccess('AddOtpSmsSuccess', 'The user can now receive sign-in codes by SMS.', OtpSmsMethod),
    authScopes: adminOrSelf('credentials:write', { session: true }),
    description: 'Adds one-time codes by SMS as a second factor. The phone must be verified; one per user.',
    errors: { types: [E.UserNotFoundError, E.PhoneNotVerifiedError, E.InvalidStateError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: UserIdInput('AddOtpSmsInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => factorResult(await ctx.services.otpFactors.addOtpSms(String(input.userId), ctx.meta)),
  }),
  removeOtpSms: t.field({
    type: removedSuccess('RemoveOtpSmsSuccess', 'The SMS factor is removed; codes already sent no longer work.'),
    authScopes: adminOrSelf('credentials:write', { session: true }),
    description: 'Removes the OTP-by-SMS factor.',
    errors: { types: [E.UserNotFoundError, E.InvalidStateError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: UserIdInput('RemoveOtpSmsInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => removedResult(await ctx.services.otpFactors.removeOtpSms(String(input.userId), ctx.meta)),
  }),
  addOtpEmail: t.field({
    type: factorSuccess('AddOtpEmailSuccess', 'The user can now receive sign-in codes by email.', OtpEmailMethod),
    authScopes: adminOrSelf('credentials:write', { session: true }),
    description: 'Adds one-time codes by email as a second factor. The email must be verified; one per user.',
    errors: { types: [E.UserNotFoundError, E.EmailNotVerifiedError, E.InvalidStateError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: UserIdInput('AddOtpEmailInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => factorResult(await ctx.services.otpFactors.addOtpEmail(String(input.userId), ctx.meta)),
  }),
  removeOtpEmail: t.field({
    type: removedSuccess('RemoveOtpEmailSuccess', 'The email factor is removed; codes already sent no longer work.'),
    authScopes: adminOrSelf('credentials:write', { session: true }),
    description: 'Removes the OTP-by-email factor.',
    errors: { types: [E.UserNotFoundError, E.InvalidStateError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: UserIdInput('RemoveOtpEmailInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => removedResult(await ctx.services.otpFactors.removeOtpEmail(String(input.userId), ctx.meta)),
  }),
  sendOtp: t.field({
    type: SendOtpSuccess,
    // A returned code skips delivery: only admins may ask for it.
    authScopes: (root, args) => (args.input.returnCode ? { admin: 'credentials:verify' } : adminOrSelf('credentials:verify')(root, args)),
    description:
      "Issues a sign-in code on the user's SMS or email factor and sends it (or returns it with returnCode). A new code replaces the previous one; " +
      'resending within the cooldown is refused with ResendCooldownError (retryAfter).',
    errors: {
      types: [
        E.UserNotFoundError,
        E.UserLockedError,
        E.UserInactiveError,
        E.InvalidStateError,
        E.PhoneNotVerifiedError,
        E.EmailNotVerifiedError,
        E.ResendCooldownError,
        E.DeliveryFailedError,
        E.InvalidInputError,
      ],
    },
    args: { input: t.arg({ type: SendOtpInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const result = await ctx.services.otpFactors.sendOtp({ userId: String(input.userId), channel: input.channel, returnCode: input.returnCode ?? false }, ctx.meta);
      return { userId: result.user.id, channel: input.channel, result };
    },
  }),
  verifyOtp: t.field({
    type: VerifyOtpSuccess,
    authScopes: adminOrSelf('credentials:verify'),
    description: 'Checks a sign-in code sent by sendOtp; single use. Wrong codes count toward the code lockout policy.',
    errors: { types: codeCheckErrors },
    args: { input: t.arg({ type: VerifyOtpInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const result = await ctx.services.otpFactors.verifyOtp({ userId: String(input.userId), channel: input.channel, code: input.code }, ctx.meta);
      return { userId: result.user.id, authMethod: result.authMethod };
    },
  }),
}));
