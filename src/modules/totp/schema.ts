import type { VerifiedCodeKind } from './service.js';
import { builder } from '../../graphql/builder.js';
import { adminOrSelf, affectedUser, userCodeInput, userIdInput, type SchemaTypes } from '../../graphql/helpers.js';
import { BackupCodesMethod, TotpMethod } from '../auth-methods/schema.js';
import { errorTypes as E } from '../../graphql/errors.js';

/** The affected user, re-read with the caller's selection. */
const userField = (t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, { userId: string }>) => affectedUser(t, 'The user, as it is now.');

const VerifiedCodeKindEnum = builder.enumType('VerifiedCodeKind', {
  description: 'Which kind of code verifyTotp accepted, named like the AuthMethodKind it belongs to.',
  values: { TOTP: { description: 'A code from the TOTP authenticator.' }, BACKUP_CODES: { description: 'A backup code, now used up.' } } as const,
});


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

const stateErrors = [E.UserNotFoundError, E.UserLockedError, E.UserInactiveError, E.TooManyAttemptsError];

builder.mutationFields((t) => ({
  startTotpRegistration: t.field({
    type: StartTotpRegistrationSuccess,
    authScopes: adminOrSelf('credentials:write', { session: true }),
    description: 'Starts registering a TOTP authenticator (one per user); starting again replaces a pending one.',
    errors: { types: [E.UserNotFoundError, E.UserLockedError, E.UserInactiveError, E.InvalidStateError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: userIdInput('StartTotpRegistrationInput'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.totp.startTotpRegistration(String(input.userId), ctx.meta),
  }),
  verifyTotpRegistration: t.field({
    type: VerifyTotpRegistrationSuccess,
    authScopes: adminOrSelf('credentials:write', { session: true }),
    description: 'Activates the pending TOTP authenticator with a first valid code. Records user.totp_added.',
    errors: { types: [...stateErrors, E.NoTotpError, E.IncorrectCodeError, E.InvalidStateError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: userCodeInput('VerifyTotpRegistrationInput', 'A code from the authenticator app.'), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { authMethodId } = await ctx.services.totp.verifyTotpRegistration(String(input.userId), input.code, ctx.meta);
      return { authMethodId, userId: String(input.userId) };
    },
  }),
  verifyTotp: t.field({
    type: VerifyTotpSuccess,
    authScopes: { admin: 'credentials:verify' },
    description:
      "Checks a TOTP code or a backup code (Clerk's verify_totp). A TOTP time step is accepted once; a backup code is consumed. Failures count towards the lockout policy.",
    errors: { types: [E.UserNotFoundError, E.NoTotpError, E.IncorrectCodeError, E.CodeAlreadyUsedError, E.UserLockedError, E.UserInactiveError, E.TooManyAttemptsError] },
    args: { input: t.arg({ type: userCodeInput('VerifyTotpInput', 'A 6-digit TOTP code or a backup code.'), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const r = await ctx.services.totp.verifyTotp(String(input.userId), input.code, ctx.meta);
      return { userId: r.user.id, kind: r.kind, backupCodesRemaining: r.backupCodesRemaining };
    },
  }),
  generateBackupCodes: t.field({
    type: GenerateBackupCodesSuccess,
    authScopes: adminOrSelf('credentials:write', { session: true }),
    description: 'Generates new backup codes (returned once) and invalidates earlier ones. Records user.backup_codes_generated.',
    errors: { types: [E.UserNotFoundError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: userIdInput('GenerateBackupCodesInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => ({
      userId: String(input.userId),
      ...(await ctx.services.backupCodes.generateBackupCodes(String(input.userId), ctx.meta)),
    }),
  }),
}));
