import type { SetContactResult } from './contacts.service.js';
import { maskEmail, maskPhone } from '../../kernel/masking.js';
import { builder } from '../../graphql/builder.js';
import { adminOrSelf, toUserResult, userSuccess, affectedUser } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';

export const ContactVerificationEnum = builder.enumType('ContactVerification', {
  description: 'How a new email or phone is verified.',
  values: {
    SEND_CODE: { description: 'Deliver a verification code to the address (by email or SMS).' },
    RETURN_CODE: { description: 'Return the code in the success payload instead of sending it, for custom delivery flows.' },
    MARK_VERIFIED: { description: 'Trust the caller: the address is verified at once (admin import).' },
  },
});

builder.prismaObjectFields('User', (t) => ({
  emailMasked: t.string({
    nullable: true,
    description: 'The email for display without revealing it, e.g. j•••@example.com.',
    select: { email: true },
    resolve: (u) => maskEmail(u.email),
  }),
  phoneMasked: t.string({
    nullable: true,
    description: 'The phone for display without revealing it, e.g. +1 ••• ••• 0123.',
    select: { phone: true },
    resolve: (u) => maskPhone(u.phone),
  }),
}));

/** A success type with the user and the code-related facts of a set or resend. */
function contactSuccess(name: string, description: string, options: { code: boolean }) {
  return builder.objectRef<{ userId: string; result: SetContactResult }>(name).implement({
    description,
    fields: (t) => ({
      user: affectedUser(t),
      ...(options.code
        ? {
            issuedCode: t.string({
              nullable: true,
              description: 'The verification code: only with RETURN_CODE. Deliver it to the user yourself; it is never shown again.',
              resolve: (p) => p.result.code,
            }),
          }
        : {}),
      codeExpiresAt: t.field({ type: 'DateTime', nullable: true, description: 'When the issued code expires; null when no code was issued.', resolve: (p) => p.result.expiresAt }),
      sentTo: t.string({ nullable: true, description: 'The masked address the code was sent to; null when nothing was sent.', resolve: (p) => p.result.sentTo }),
    }),
  });
}

const contactResult = (result: SetContactResult) => ({ userId: result.user.id, result });

/** Users may only ask for a code to be sent to themselves; returning the code or skipping verification is for admins. */
const setContactScopes = (root: unknown, args: { input: { userId: string | number; verification?: string | null } }) =>
  (args.input.verification ?? 'SEND_CODE') === 'SEND_CODE' ? adminOrSelf('users:write', { session: true })(root, args) : { admin: 'users:write' as const };

const SetEmailInput = builder.inputType('SetEmailInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    email: t.string({ required: true }),
    verification: t.field({ type: ContactVerificationEnum, defaultValue: 'SEND_CODE' }),
  }),
});
const SetPhoneInput = builder.inputType('SetPhoneInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    phone: t.string({ required: true, description: 'Any common format; a number without +country is read in `country`, else the configured default region. Stored as E.164.' }),
    country: t.string({ description: 'ISO 3166-1 alpha-2 code (US, DE) of a national number; default PORTCULLIS_DEFAULT_PHONE_REGION. A number with +country keeps its own.' }),
    verification: t.field({ type: ContactVerificationEnum, defaultValue: 'SEND_CODE' }),
  }),
});
const codeInput = (name: string) =>
  builder.inputType(name, {
    fields: (t) => ({ userId: t.id({ required: true }), code: t.string({ required: true }) }),
  });
const userIdInput = (name: string) => builder.inputType(name, { fields: (t) => ({ userId: t.id({ required: true }) }) });

/** What checking a one-time code can answer (verifyEmail, verifyPhone, verifyOtp). */
export const codeCheckErrors = [
  E.UserNotFoundError,
  E.IncorrectCodeError,
  E.CodeExpiredError,
  E.CodeAlreadyUsedError,
  E.TooManyAttemptsError,
  E.UserLockedError,
  E.UserInactiveError,
  E.InvalidStateError,
];
const resendErrors = [E.UserNotFoundError, E.UserLockedError, E.UserInactiveError, E.InvalidStateError, E.ResendCooldownError, E.DeliveryFailedError];

builder.mutationFields((t) => ({
  setEmail: t.field({
    type: contactSuccess('SetEmailSuccess', 'The email is set; see `issuedCode`, `sentTo` and `user.emailVerified`.', { code: true }),
    authScopes: setContactScopes,
    description:
      'Sets the email of a user. A different address is unverified until verifyEmail; per `verification` a code is sent, returned, or the address is marked verified. ' +
      'Setting the address the user already has verified changes nothing. Sending honours the resend cooldown; on DeliveryFailedError or ResendCooldownError the address is saved unverified: use resendEmailCode (from retryAfter).',
    errors: { types: [E.UserNotFoundError, E.InvalidInputError, E.AlreadyExistsError, E.DeliveryFailedError, E.ResendCooldownError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: SetEmailInput, required: true }) },
    resolve: async (_root, { input }, ctx) =>
      contactResult(
        await ctx.services.contacts.setEmail({ userId: String(input.userId), email: input.email, verification: input.verification ?? 'SEND_CODE' }, ctx.meta),
      ),
  }),
  verifyEmail: t.field({
    type: userSuccess('VerifyEmailSuccess', 'The email is verified.'),
    authScopes: adminOrSelf('users:write'),
    description:
      'Checks a code sent for the current email. Wrong codes count toward the code lockout policy. ' +
      'With no email, or one already verified, answers InvalidStateError (state NO_EMAIL or EMAIL_VERIFIED) and counts nothing.',
    errors: { types: codeCheckErrors },
    args: { input: t.arg({ type: codeInput('VerifyEmailInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => toUserResult(await ctx.services.contacts.verifyEmail({ userId: String(input.userId), code: input.code }, ctx.meta)),
  }),
  resendEmailCode: t.field({
    type: contactSuccess('ResendEmailCodeSuccess', 'A fresh code was sent; earlier codes no longer work.', { code: false }),
    authScopes: adminOrSelf('users:write'),
    description: 'Sends a fresh verification code to the unverified email. Refused with ResendCooldownError (retryAfter) within the resend cooldown.',
    errors: { types: resendErrors },
    args: { input: t.arg({ type: userIdInput('ResendEmailCodeInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => contactResult(await ctx.services.contacts.resendEmailCode({ userId: String(input.userId) })),
  }),
  setPhone: t.field({
    type: contactSuccess('SetPhoneSuccess', 'The phone is set; see `issuedCode`, `sentTo` and `user.phoneVerified`.', { code: true }),
    authScopes: setContactScopes,
    description:
      'Sets the phone of a user, normalised to E.164. A different number is unverified until verifyPhone; per `verification` a code is sent by SMS, returned, or the number is marked verified. ' +
      'Sending honours the resend cooldown; on DeliveryFailedError or ResendCooldownError the number is saved unverified: use resendPhoneCode (from retryAfter).',
    errors: { types: [E.UserNotFoundError, E.InvalidInputError, E.DeliveryFailedError, E.ResendCooldownError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: SetPhoneInput, required: true }) },
    resolve: async (_root, { input }, ctx) =>
      contactResult(
        await ctx.services.contacts.setPhone({ userId: String(input.userId), phone: input.phone, country: input.country, verification: input.verification ?? 'SEND_CODE' }, ctx.meta),
      ),
  }),
  verifyPhone: t.field({
    type: userSuccess('VerifyPhoneSuccess', 'The phone is verified.'),
    authScopes: adminOrSelf('users:write'),
    description:
      'Checks a code sent for the current phone. Wrong codes count toward the code lockout policy. ' +
      'With no phone, or one already verified, answers InvalidStateError (state NO_PHONE or PHONE_VERIFIED) and counts nothing.',
    errors: { types: codeCheckErrors },
    args: { input: t.arg({ type: codeInput('VerifyPhoneInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => toUserResult(await ctx.services.contacts.verifyPhone({ userId: String(input.userId), code: input.code }, ctx.meta)),
  }),
  resendPhoneCode: t.field({
    type: contactSuccess('ResendPhoneCodeSuccess', 'A fresh code was sent; earlier codes no longer work.', { code: false }),
    authScopes: adminOrSelf('users:write'),
    description: 'Sends a fresh verification code by SMS to the unverified phone. Refused with ResendCooldownError (retryAfter) within the resend cooldown.',
    errors: { types: resendErrors },
    args: { input: t.arg({ type: userIdInput('ResendPhoneCodeInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => contactResult(await ctx.services.contacts.resendPhoneCode({ userId: String(input.userId) })),
  }),
}));
