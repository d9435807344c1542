import type { AuthMethod } from '../../kernel/db/models.js';
import type { SessionTokens } from '../sessions/service.js';
import { builder } from '../../graphql/builder.js';
import { adminOrSelf, affectedUser, publicOperation } from '../../graphql/helpers.js';
import { AuthMethodInterface } from '../auth-methods/schema.js';
import { errorTypes as E } from '../../graphql/errors.js';

const AuthenticatorTypeEnum = builder.enumType('WebAuthnAuthenticatorType', {
  description: 'What to register.',
  values: {
    PASSKEY: { description: 'A discoverable credential with user verification (a passkey on a phone, laptop or password manager).' },
    U2F: { description: 'A cross-platform, non-discoverable security key (a second factor).' },
  } as const,
});

/** Success types: what the mutation affected, re-read with the caller's selection. */
function optionsSuccess(name: string, description: string) {
  return builder.objectRef<{ options: unknown; expiresAt: Date }>(name).implement({
    description,
    fields: (t) => ({
      options: t.field({ type: 'JSON', description: 'Pass to @simplewebauthn/browser (optionsJSON) or navigator.credentials after decoding.', resolve: (r) => r.options }),
      expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the challenge in the options expires.' }),
    }),
  });
}

type CredentialResult = { userId: string; authMethodId: string; tokens?: SessionTokens | null };

/** The user and the credential a ceremony affected, re-read with the caller's selection; with `session`, the tokens of the session it opened. */
function credentialSuccess(name: string, description: string, options: { session?: boolean } = {}) {
  return builder.objectRef<CredentialResult>(name).implement({
    description,
    fields: (t) => ({
      user: affectedUser(t),
      authMethod: t.prismaField({
        type: AuthMethodInterface,
        description: options.session ? 'The passkey or security key used; its lastUsedAt is now.' : 'The passkey or security key (PasskeyMethod or U2fMethod).',
        resolve: (query, parent, _args, ctx) => ctx.db.authMethod.findUniqueOrThrow({ ...query, where: { id: parent.authMethodId } }),
      }),
      ...(options.session
        ? {
            accessToken: t.string({ nullable: true, description: 'A JWT for `Authorization: Bearer …`, as login returns; null only on a gateway built without sessions.', resolve: (r) => r.tokens?.accessToken ?? null }),
            tokenType: t.string({ nullable: true, description: 'Bearer, with an access token.', resolve: (r) => (r.tokens ? 'Bearer' : null) }),
            expiresAt: t.field({ type: 'DateTime', nullable: true, description: 'When the access token expires.', resolve: (r) => r.tokens?.expiresAt ?? null }),
            refreshToken: t.string({ nullable: true, description: 'Single-use; exchange it with refreshSession. Keep it secret.', resolve: (r) => r.tokens?.refreshToken ?? null }),
            sessionId: t.id({ nullable: true, description: 'The session opened by this sign-in.', resolve: (r) => r.tokens?.sessionId ?? null }),
            sessionExpiresAt: t.field({ type: 'DateTime', nullable: true, description: 'When the session ends.', resolve: (r) => r.tokens?.sessionExpiresAt ?? null }),
          }
        : {}),
    }),
  });
}

const toCredentialResult = (r: { user: { id: string }; authMethod: AuthMethod }) => ({ userId: r.user.id, authMethodId: r.authMethod.id });

const StartPasskeyRegistrationInput = builder.inputType('StartPasskeyRegistrationInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    authenticatorType: t.field({ type: AuthenticatorTypeEnum, defaultValue: 'PASSKEY' }),
  }),
});
const VerifyPasskeyRegistrationInput = builder.inputType('VerifyPasskeyRegistrationInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    response: t.field({ type: 'JSON', required: true, description: 'The RegistrationResponseJSON from @simplewebauthn/browser startRegistration().' }),
    name: t.string({ description: 'A name the user recognises ("YubiKey", "MacBook"); at most 100 characters.' }),
  }),
});
const StartPasskeyAuthenticationInput = builder.inputType('StartPasskeyAuthenticationInput', {
  fields: (t) => ({
    userId: t.id({ description: "Lists this user's credentials; leave out for a discoverable (username-less) sign-in." }),
  }),
});
const VerifyPasskeyAuthenticationInput = builder.inputType('VerifyPasskeyAuthenticationInput', {
  fields: (t) => ({
    response: t.field({ type: 'JSON', required: true, description: 'The AuthenticationResponseJSON from @simplewebauthn/browser startAuthentication().' }),
  }),
});
const CreatePasskeyRegistrationLinkInput = builder.inputType('CreatePasskeyRegistrationLinkInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    returnCode: t.boolean({
      defaultValue: false,
      description:
        'Return the code to deliver yourself instead. Default false: the gateway sends the link built from PORTCULLIS_PASSKEY_LINK_URL, by email to a verified email, else by SMS to a verified phone.',
    }),
  }),
});
const StartPasskeyRegistrationWithCodeInput = builder.inputType('StartPasskeyRegistrationWithCodeInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    code: t.string({ required: true, description: 'The code from createPasskeyRegistrationLink.' }),
    authenticatorType: t.field({ type: AuthenticatorTypeEnum, defaultValue: 'PASSKEY' }),
  }),
});
const VerifyPasskeyRegistrationWithCodeInput = builder.inputType('VerifyPasskeyRegistrationWithCodeInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    response: t.field({ type: 'JSON', required: true, description: 'The RegistrationResponseJSON from @simplewebauthn/browser startRegistration().' }),
    name: t.string({ description: 'A name the user recognises; at most 100 characters.' }),
  }),
});

const userStateErrors = [E.UserNotFoundError, E.UserLockedError, E.UserInactiveError];
const verifyRegistrationErrors = [...userStateErrors, E.WebAuthnVerificationError, E.AlreadyExistsError, E.InvalidInputError];
const codeErrors = [E.IncorrectCodeError, E.CodeExpiredError, E.CodeAlreadyUsedError, E.TooManyAttemptsError];

builder.mutationFields((t) => ({
  startPasskeyRegistration: t.field({
    type: optionsSuccess('StartPasskeyRegistrationSuccess', 'Creation options with a fresh, single-use challenge.'),
    authScopes: adminOrSelf('credentials:write', { session: true }),
    description:
      'Starts registering a passkey (discoverable, user verification required) or a U2F security key (cross-platform, non-discoverable) for a user. Finish with verifyPasskeyRegistration before the challenge expires.',
    errors: { types: [...userStateErrors, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: StartPasskeyRegistrationInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.webauthn.startPasskeyRegistration({ userId: String(input.userId), authenticatorType: input.authenticatorType }, ctx.meta),
  }),
  verifyPasskeyRegistration: t.field({
    type: credentialSuccess('VerifyPasskeyRegistrationSuccess', 'The credential is stored as a PASSKEY or U2F auth method.'),
    authScopes: adminOrSelf('credentials:write', { session: true }),
    description: 'Verifies the attestation for a challenge from startPasskeyRegistration and stores the credential. Records user.passkey_added.',
    errors: { types: [...verifyRegistrationErrors, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: VerifyPasskeyRegistrationInput, required: true }) },
    resolve: async (_root, { input }, ctx) =>
      toCredentialResult(await ctx.services.webauthn.verifyPasskeyRegistration({ userId: String(input.userId), response: input.response, name: input.name }, ctx.meta)),
  }),
  createPasskeyRegistrationLink: t.field({
    type: builder.objectRef<{ userId: string; code: string | null; expiresAt: Date; sentTo: string | null }>('CreatePasskeyRegistrationLinkSuccess').implement({
      description: 'A single-use registration code was issued (replacing any earlier one), and sent in a link or returned.',
      fields: (f) => ({
        user: affectedUser(f),
        issuedCode: f.exposeString('code', { nullable: true, description: 'The code, when returnCode was set. Shown once; only a hash is stored.' }),
        sentTo: f.exposeString('sentTo', { nullable: true, description: 'The masked email or phone the link was sent to; null with returnCode.' }),
        expiresAt: f.expose('expiresAt', { type: 'DateTime' }),
      }),
    }),
    authScopes: { admin: 'credentials:write' },
    description:
      'Issues a single-use, expiring code that lets the user register a passkey without signing in (startPasskeyRegistrationWithCode). ' +
      'By default the gateway sends it in a link built from PORTCULLIS_PASSKEY_LINK_URL ({code}, {userId}), by email to a verified email, else by SMS to a verified phone, honouring the resend cooldown; ' +
      'InvalidStateError when no link URL is configured, EmailNotVerifiedError when the user has neither address verified. With returnCode the code is returned instead: put it in a link such as /passkeys?user=<id>&code=<code>.',
    errors: { types: [...userStateErrors, E.InvalidInputError, E.InvalidStateError, E.EmailNotVerifiedError, E.ResendCooldownError, E.DeliveryFailedError] },
    args: { input: t.arg({ type: CreatePasskeyRegistrationLinkInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const link = await ctx.services.webauthn.createPasskeyRegistrationLink({ userId: String(input.userId), returnCode: input.returnCode ?? false });
      return { userId: link.user.id, code: link.code, expiresAt: link.expiresAt, sentTo: link.sentTo };
    },
  }),
  startPasskeyRegistrationWithCode: t.field({
    ...publicOperation,
    type: optionsSuccess('StartPasskeyRegistrationWithCodeSuccess', 'Creation options with a fresh, single-use challenge.'),
    description:
      'Public: starts a passkey registration with a code from createPasskeyRegistrationLink instead of a signed-in caller. The code is spent here; finish with verifyPasskeyRegistrationWithCode.',
    errors: { types: [...codeErrors, ...userStateErrors] },
    args: { input: t.arg({ type: StartPasskeyRegistrationWithCodeInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.webauthn.startPasskeyRegistrationWithCode({ userId: String(input.userId), code: input.code, authenticatorType: input.authenticatorType }),
  }),
  verifyPasskeyRegistrationWithCode: t.field({
    ...publicOperation,
    type: credentialSuccess('VerifyPasskeyRegistrationWithCodeSuccess', 'The credential is stored as a PASSKEY or U2F auth method.'),
    description: 'Public: finishes a registration begun by startPasskeyRegistrationWithCode. Records user.passkey_added.',
    errors: { types: verifyRegistrationErrors },
    args: { input: t.arg({ type: VerifyPasskeyRegistrationWithCodeInput, required: true }) },
    resolve: async (_root, { input }, ctx) =>
      toCredentialResult(
        await ctx.services.webauthn.verifyPasskeyRegistrationWithCode({ userId: String(input.userId), response: input.response, name: input.name }, ctx.meta),
      ),
  }),
  startPasskeyAuthentication: t.field({
    ...publicOperation,
    type: optionsSuccess('StartPasskeyAuthenticationSuccess', 'Request options with a fresh, single-use challenge.'),
    description: "Public: starts proving who a user is with a passkey or security key. With userId, the user's credentials are offered; without, the authenticator picks a discoverable passkey.",
    errors: { types: [...userStateErrors, E.InvalidStateError] },
    args: { input: t.arg({ type: StartPasskeyAuthenticationInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.webauthn.startPasskeyAuthentication({ userId: input.userId ? String(input.userId) : null }),
  }),
  verifyPasskeyAuthentication: t.field({
    ...publicOperation,
    type: credentialSuccess(
      'VerifyPasskeyAuthenticationSuccess',
      'The assertion is valid: the user proved who they are with this credential, and a session was opened for them.',
      { session: true },
    ),
    description:
      'Public: signs a user in with a passkey (in place of password plus second factor). Verifies the assertion (single-use challenge, origin, RP ID, signature, user verification for passkeys, signature counter), updates the credential\'s counter and lastUsedAt, and opens a session like login (user.logged_in). A counter that goes backwards is refused and recorded as user.passkey_counter_regressed.',
    errors: { types: [E.WebAuthnVerificationError, ...userStateErrors] },
    args: { input: t.arg({ type: VerifyPasskeyAuthenticationInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const signedIn = await ctx.services.webauthn.signInWithPasskey({ response: input.response }, ctx.meta);
      return { ...toCredentialResult(signedIn), tokens: signedIn.tokens };
    },
  }),
}));
