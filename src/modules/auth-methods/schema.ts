import { AuthMethodKind } from '../../kernel/db/models.js';
import { authMethodTypes } from './kinds.js';
import { maskEmail, maskPhone } from '../../kernel/masking.js';
import { builder } from '../../graphql/builder.js';
import { adminOrViewer, affectedUser } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';

export const AuthMethodKindEnum = builder.enumType(AuthMethodKind, { name: 'AuthMethodKind' });

export const AuthMethodInterface = builder.prismaInterface('AuthMethod', {
  name: 'AuthMethod',
  description: 'A credential or second factor of a user.',
  interfaces: [builder.nodeInterfaceRef()],
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.expose('kind', { type: AuthMethodKindEnum }),
    verified: t.exposeBoolean('verified', { description: 'False while a registration is pending.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
  }),
  resolveType: (method) => authMethodTypes[method.kind].typename,
});

const variant = (kind: AuthMethodKind, description: string, fields?: Parameters<typeof builder.prismaNode<'AuthMethod'>>[1]['fields']) =>
  builder.prismaNode('AuthMethod', {
    variant: authMethodTypes[kind].typename,
    description,
    interfaces: [AuthMethodInterface],
    id: { field: 'id' },
    nullable: true,
    findUnique: (id) => ({ id, kind }),
    fields,
  });

export const PasswordMethod = variant('PASSWORD', 'A password, stored as an argon2id hash.');
export const TotpMethod = variant('TOTP', 'A TOTP authenticator app (RFC 6238).', (t) => ({
  verifiedAt: t.expose('verifiedAt', { type: 'DateTime', nullable: true, description: 'When the registration was confirmed with a first code (verifyTotpRegistration); null while it is pending.' }),
}));
export const BackupCodesMethod = variant('BACKUP_CODES', 'Single-use backup codes.', (t) => ({
  remaining: t.int({
    description: 'Unused backup codes left.',
    select: { user: { select: { _count: { select: { backupCodes: { where: { usedAt: null } } } } } } },
    resolve: (m) => m.user._count.backupCodes,
  }),
}));
export const OtpSmsMethod = variant('OTP_SMS', 'One-time codes by SMS to the verified phone.', (t) => ({
  phone: t.string({ nullable: true, description: 'Masked, e.g. +1 ••• ••• 0123.', select: { user: { select: { phone: true } } }, resolve: (m) => maskPhone(m.user.phone) }),
}));
export const OtpEmailMethod = variant('OTP_EMAIL', 'One-time codes by email to the verified address.', (t) => ({
  email: t.string({ nullable: true, description: 'Masked, e.g. j•••@example.com.', select: { user: { select: { email: true } } }, resolve: (m) => maskEmail(m.user.email) }),
}));

const webauthnFields = (t: Parameters<NonNullable<Parameters<typeof variant>[2]>>[0]) => ({
  name: t.exposeString('name', { nullable: true }),
  deviceType: t.string({ nullable: true, select: { data: true }, resolve: (m) => ((m.data as Record<string, unknown> | null)?.deviceType as string) ?? null }),
  backedUp: t.boolean({ select: { data: true }, resolve: (m) => Boolean((m.data as Record<string, unknown> | null)?.backedUp) }),
});
export const PasskeyMethod = variant('PASSKEY', 'A passkey: a discoverable WebAuthn credential with user verification.', webauthnFields);
export const U2fMethod = variant('U2F', 'A security key: a cross-platform, non-discoverable WebAuthn credential.', webauthnFields);

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
    user: affectedUser(t, 'The user, as it is now.'),
  }),
});

const stateErrors = [E.UserNotFoundError, E.UserLockedError, E.UserInactiveError, E.TooManyAttemptsError];

builder.mutationFields((t) => ({
  removeAuthMethod: t.field({
    type: RemoveAuthMethodSuccess,
    authScopes: adminOrViewer('credentials:write', { session: true }),
    description: "Removes any auth method (password, TOTP, backup codes, OTP, passkey, security key) and records that kind's removal event. A user may remove only their own; their TOTP only with a current code.",
    errors: { types: [E.NotFoundError, E.InvalidInputError, E.IncorrectCodeError, E.CodeAlreadyUsedError, E.NoTotpError, E.InvalidTokenError, ...stateErrors, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: RemoveAuthMethodInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      if (ctx.viewer.kind !== 'user') return ctx.services.authMethods.removeAuthMethod(String(input.id), ctx.meta);
      if (!ctx.viewer.sessionId) throw new Error('unreachable: personal access tokens are refused (they have no session to re-authenticate)');
      return ctx.services.login.removeOwnAuthMethod(ctx.viewer.userId, ctx.viewer.sessionId, String(input.id), input.code, ctx.meta);
    },
  }),
}));
