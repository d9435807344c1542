import { AlreadyExistsError, DeliveryFailedError, InvalidInputError, InvalidStateError, NotFoundError, PortcullisError, TooManyAttemptsError, UserInactiveError, UserLockedError, UserNotFoundError } from '../kernel/errors.js';
import { CodeAlreadyUsedError, CodeExpiredError, IncorrectCodeError, ResendCooldownError, type CodeAlreadyUsedReason } from '../modules/codes/errors.js';
import { EmailNotVerifiedError, PhoneNotVerifiedError } from '../modules/users/errors.js';
import { IncorrectPasswordError, NoPasswordError, WeakPasswordError } from '../modules/password/errors.js';
import { InvalidTokenError, NotAMemberError, ReauthenticationRequiredError, RefreshTokenReusedError } from '../modules/sessions/errors.js';
import { NoTotpError } from '../modules/totp/errors.js';
import { WebAuthnFailureReason, WebAuthnVerificationError } from '../modules/passkeys/errors.js';
import {
  PermissionInUseError,
  RoleInUseError,
  RoleScopeMismatchError,
  InvitationAlreadyAcceptedError,
  InvitationEmailMismatchError,
  InvitationExpiredError,
  InvitationNotFoundError,
  InvitationRevokedError,
  LastOwnerError,
  OrganizationRoleRequiredError,
} from '../modules/organizations/errors.js';
import {
  IdentityProviderInUseError,
  IdpFailureReason,
  IdpIntentAlreadyUsedError,
  IdpIntentExpiredError,
  IdpIntentFailedError,
  IdpIntentInvalidError,
  IdpNotLinkedError,
  IdpUnavailableError,
  LastSignInMethodError,
} from '../modules/identity-providers/errors.js';
import { ScopeNotHeldError } from '../modules/access-tokens/errors.js';
import { builder } from './builder.js';

/** Every error class, the kernel's and the modules'; each is a GraphQL type below, and its code an ErrorCode value. */
const errorClasses = [
  UserNotFoundError,
  NotFoundError,
  InvalidStateError,
  AlreadyExistsError,
  InvalidInputError,
  UserLockedError,
  UserInactiveError,
  TooManyAttemptsError,
  DeliveryFailedError,
  NoPasswordError,
  IncorrectPasswordError,
  WeakPasswordError,
  NoTotpError,
  IncorrectCodeError,
  CodeExpiredError,
  CodeAlreadyUsedError,
  ResendCooldownError,
  PhoneNotVerifiedError,
  EmailNotVerifiedError,
  InvalidTokenError,
  RefreshTokenReusedError,
  ReauthenticationRequiredError,
  WebAuthnVerificationError,
  NotAMemberError,
  RoleInUseError,
  PermissionInUseError,
  RoleScopeMismatchError,
  LastOwnerError,
  OrganizationRoleRequiredError,
  InvitationNotFoundError,
  InvitationExpiredError,
  InvitationRevokedError,
  InvitationAlreadyAcceptedError,
  InvitationEmailMismatchError,
  IdpIntentInvalidError,
  IdpIntentExpiredError,
  IdpIntentAlreadyUsedError,
  IdpIntentFailedError,
  IdpNotLinkedError,
  IdpUnavailableError,
  LastSignInMethodError,
  IdentityProviderInUseError,
  ScopeNotHeldError,
];
const errorCodes = errorClasses.map((cls) => cls.code);
for (const code of errorCodes) if (errorCodes.indexOf(code) !== errorCodes.lastIndexOf(code)) throw new Error(`error code ${code} is used by two error classes`);

export const ErrorCodeEnum = builder.enumType('ErrorCode', {
  description: 'Stable codes of expected failures. Values are added, never renamed.',
  values: errorCodes,
});

export const WebAuthnFailureReasonEnum = builder.enumType('WebAuthnFailureReason', {
  description: 'Why a passkey or security key response was refused.',
  values: WebAuthnFailureReason,
});

export const IdpFailureReasonEnum = builder.enumType('IdpFailureReason', {
  description: "Why a trip to an identity provider failed: IdpIntentFailedError's reason, and the `error` its failure URL receives.",
  values: {
    PROVIDER_ERROR: { description: 'The provider answered with an error (the user cancelled, or it refused the request).' },
    PROVIDER_UNAVAILABLE: { description: 'The provider could not be reached, answered too slowly (PORTCULLIS_IDP_TIMEOUT_MS) or with a server error.' },
    EXCHANGE_FAILED: { description: 'The provider refused the code exchange (a code of another flow, a wrong client secret).' },
    ID_TOKEN_INVALID: { description: "The ID token failed its checks: signature, issuer, audience, expiry or nonce." },
    RESPONSE_INVALID: { description: 'Another answer of the provider did not match what was sent (its issuer, the state, the subject).' },
    PROFILE_INVALID: { description: "The provider's profile had no usable subject (check the provider's claimMapping)." },
    PROVIDER_DISABLED: { description: 'The provider was disabled while the user was away at it.' },
  } satisfies Record<IdpFailureReason, { description: string }>,
});

export const CodeAlreadyUsedReasonEnum = builder.enumType('CodeAlreadyUsedReason', {
  description: 'Why a code was refused as already used.',
  values: {
    CODE_ALREADY_USED: { description: 'The single-use code (or MFA token) was already spent: get a new one.' },
    STEP_ALREADY_USED: {
      description: "A TOTP code from this or a later time step was already accepted for the user (replay protection): the authenticator's next code will work.",
    },
  } satisfies Record<CodeAlreadyUsedReason, { description: string }>,
});

export const ErrorInterface = builder.interfaceRef<PortcullisError>('Error').implement({
  description: 'An expected failure, returned as a member of a mutation result union.',
  fields: (t) => ({
    code: t.field({ type: ErrorCodeEnum, resolve: (e: any) => e.code }),
    message: t.exposeString('message'),
  }),
});

/** One object type per error class; extra fields come from the class's public properties. */
/* eslint-disable @typescript-eslint/no-explicit-any -- Pothos' field-builder type for a class ref is not worth spelling out here */
function errorType<C extends new (...args: any[]) => PortcullisError>(
  cls: C,
  description: string,
  fields?: (t: any) => Record<string, any>,
): C {
  builder.objectType(cls as any, {
    name: cls.name,
    description,
    interfaces: [ErrorInterface],
    isTypeOf: (value: unknown) => value instanceof cls,
    fields: fields ?? (() => ({})),
  } as any);
  return cls;
}

/** The account's lockout budget, the same field wherever a failure spends it. */
const attemptsBeforeLockField = (t: any) =>
  t.int({
    nullable: true,
    description:
      "How many more failures of this kind the account may have before the lockout policy locks it (0: this failure locked it). Null when no lockout policy applies, or the answer does not tell (login).",
    resolve: (e: any) => e.attemptsBeforeLock,
  });
/* eslint-enable @typescript-eslint/no-explicit-any */

export const errorTypes = {
  UserNotFoundError: errorType(UserNotFoundError, 'No user has the given id (or it was deleted).'),
  NotFoundError: errorType(NotFoundError, 'The object named by the input does not exist.'),
  InvalidStateError: errorType(InvalidStateError, 'The operation is not allowed in the current state.', (t) => ({
    state: t.string({ nullable: true, resolve: (e: any) => e.state ?? null }),
  })),
  AlreadyExistsError: errorType(AlreadyExistsError, 'A unique value (an email, a username, a role or permission key) is taken.', (t) => ({
    field: t.exposeString('field'),
  })),
  InvalidInputError: errorType(InvalidInputError, 'An input field has a bad value.', (t) => ({
    field: t.exposeString('field'),
  })),
  UserLockedError: errorType(UserLockedError, 'The user is locked, by an admin or by the lockout policy.', (t) => ({
    lockedUntil: t.field({ type: 'DateTime', nullable: true, resolve: (e: any) => e.lockedUntil }),
  })),
  UserInactiveError: errorType(UserInactiveError, 'The user is deactivated.'),
  NoPasswordError: errorType(NoPasswordError, 'The user has no password.'),
  IncorrectPasswordError: errorType(IncorrectPasswordError, 'The password does not match.', (t) => ({
    attemptsBeforeLock: attemptsBeforeLockField(t),
  })),
  WeakPasswordError: errorType(WeakPasswordError, 'The password breaks the password policy.', (t) => ({
    reasons: t.stringList({ resolve: (e: any) => e.reasons }),
  })),
  NoTotpError: errorType(NoTotpError, 'The user has no verified TOTP authenticator.'),
  IncorrectCodeError: errorType(IncorrectCodeError, 'The code does not match. A one-time code has its own attempts (codeAttemptsLeft); codes checked under the lockout policy also spend the account\'s budget (attemptsBeforeLock).', (t) => ({
    codeAttemptsLeft: t.int({
      nullable: true,
      description:
        'Attempts left on this issued one-time code (verifyEmail, verifyPhone, verifyOtp, completeMfaLogin with SMS or EMAIL, reset and registration-link codes); at 0 it no longer works: request a new one. Null when no issued code was checked (TOTP, backup codes, or no live code).',
      resolve: (e: any) => e.codeAttemptsLeft,
    }),
    attemptsBeforeLock: attemptsBeforeLockField(t),
  })),
  CodeExpiredError: errorType(CodeExpiredError, 'The code has expired; request a new one.'),
  CodeAlreadyUsedError: errorType(CodeAlreadyUsedError, 'The code was already used (replay refused); see reason.', (t) => ({
    reason: t.field({ type: CodeAlreadyUsedReasonEnum, resolve: (e: any) => e.reason }),
  })),
  ResendCooldownError: errorType(
    ResendCooldownError,
    'A code was sent moments ago (the resend cooldown): no new one was issued or sent. Ask again from retryAfter; this counts toward no lockout.',
    (t) => ({ retryAfter: t.field({ type: 'DateTime', description: 'When a new code can be sent.', resolve: (e: any) => e.retryAfter }) }),
  ),
  TooManyAttemptsError: errorType(TooManyAttemptsError, 'Too many attempts; try again later.', (t) => ({
    retryAfter: t.field({ type: 'DateTime', nullable: true, resolve: (e: any) => e.retryAfter }),
  })),
  PhoneNotVerifiedError: errorType(PhoneNotVerifiedError, 'The user has no verified phone number.'),
  EmailNotVerifiedError: errorType(EmailNotVerifiedError, 'The user has no verified email address.'),
  DeliveryFailedError: errorType(DeliveryFailedError, 'The code could not be delivered.', (t) => ({
    channel: t.exposeString('channel'),
    userId: t.id({
      nullable: true,
      description:
        'createUser and updateUser keep their write when a code is not delivered: the id of the user (created or updated), whose address is saved unverified with no live code (resendEmailCode or resendPhoneCode sends one). Null for other operations.',
      resolve: (e: any) => e.userId,
    }),
  })),
  ReauthenticationRequiredError: errorType(
    ReauthenticationRequiredError,
    "The caller's session has not proved a factor recently enough for this change: call reauthenticate, then retry.",
    (t) => ({ maxAgeSeconds: t.int({ description: 'How recent the proof must be, in seconds.', resolve: (e: any) => e.maxAgeSeconds }) }),
  ),
  InvalidTokenError: errorType(InvalidTokenError, 'A refresh or MFA token is unknown, expired or revoked; sign in again.'),
  RefreshTokenReusedError: errorType(
    RefreshTokenReusedError,
    'A refresh token of this session was presented after it had been used, so two parties held it: the whole session was revoked (its refresh and access tokens stopped working). Every later refresh of the session answers this too. Sign in again.',
  ),
  NotAMemberError: errorType(
    NotAMemberError,
    'The user is not a member of the organization named (or there is no such organization: the answer does not tell). Nothing was issued or spent.',
    (t) => ({ organizationId: t.exposeID('organizationId') }),
  ),
  WebAuthnVerificationError: errorType(
    WebAuthnVerificationError,
    'The passkey or security key response was refused: see reason (a COUNTER_REGRESSED response suggests a cloned authenticator).',
    (t) => ({ reason: t.field({ type: WebAuthnFailureReasonEnum, resolve: (e: any) => e.reason }) }),
  ),
  RoleInUseError: errorType(RoleInUseError, 'The role is still held: take it from its users (removeUserRoles) and members first.', (t) => ({
    users: t.int({ description: 'Users holding it (GLOBAL roles).', resolve: (e: any) => e.users }),
    members: t.int({ description: 'Organization members holding it (ORGANIZATION roles).', resolve: (e: any) => e.members }),
  })),
  PermissionInUseError: errorType(PermissionInUseError, 'The permission is still in roles: take it out of them first (setRolePermissions).', (t) => ({
    roles: t.int({ description: 'Roles holding it.', resolve: (e: any) => e.roles }),
  })),
  RoleScopeMismatchError: errorType(RoleScopeMismatchError, 'A role of the other scope: GLOBAL roles go to users, ORGANIZATION roles to organization members.', (t) => ({
    roleId: t.id({ description: 'The first role of the wrong scope.', resolve: (e: any) => e.roleId }),
    expected: t.string({ description: 'The scope the operation takes: GLOBAL or ORGANIZATION.', resolve: (e: any) => e.expected }),
  })),
  LastOwnerError: errorType(
    LastOwnerError,
    'The change would leave an organization without a member holding the owner permission (PORTCULLIS_ORGANIZATION_OWNER_PERMISSION): give it to another member (or through another role) first.',
    (t) => ({
      permission: t.exposeString('permission', { description: 'The owner permission key.' }),
      organizationId: t.exposeID('organizationId', { description: 'The organization that would be left without an owner (the first one, when several would).' }),
    }),
  ),
  OrganizationRoleRequiredError: errorType(OrganizationRoleRequiredError, 'Some role ids name no role, or a GLOBAL one: members hold ORGANIZATION roles only.', (t) => ({
    roleIds: t.idList({ description: 'The refused role ids.', resolve: (e: any) => e.roleIds }),
  })),
  InvitationNotFoundError: errorType(InvitationNotFoundError, 'No invitation has this token.'),
  InvitationExpiredError: errorType(InvitationExpiredError, 'The invitation has expired; ask for a new one.'),
  InvitationRevokedError: errorType(InvitationRevokedError, 'The invitation was revoked.'),
  InvitationAlreadyAcceptedError: errorType(InvitationAlreadyAcceptedError, 'The invitation was accepted already (it works once).'),
  InvitationEmailMismatchError: errorType(InvitationEmailMismatchError, "The signed-in user's verified email is not the one the invitation was sent to (which is not revealed)."),
  IdpIntentInvalidError: errorType(IdpIntentInvalidError, 'No identity-provider intent has this id and token (which of the two is wrong is not told).'),
  IdpIntentExpiredError: errorType(IdpIntentExpiredError, 'The intent has expired (PORTCULLIS_IDP_INTENT_TTL_SECONDS after its start): start a new one.'),
  IdpIntentAlreadyUsedError: errorType(IdpIntentAlreadyUsedError, 'The intent was used already by a sign-in, a registration or a link: it works once.'),
  IdpIntentFailedError: errorType(IdpIntentFailedError, 'The trip to the identity provider failed; nothing came back to use. Start a new intent.', (t) => ({
    reason: t.field({ type: IdpFailureReasonEnum, resolve: (e: any) => e.reason }),
  })),
  IdpNotLinkedError: errorType(
    IdpNotLinkedError,
    "The provider's account is linked to no user. Register it (createUser with idpIntent) or link it to an existing user (linkIdpIntent); the intent is still usable.",
    (t) => ({
      linkCandidateUserId: t.id({
        nullable: true,
        description: "A user whose email is the provider's verified email (the provider's linkPolicy allowing): have them sign in, then link with linkIdpIntent. Null when none.",
        resolve: (e: any) => e.linkCandidateUserId,
      }),
    }),
  ),
  IdpUnavailableError: errorType(IdpUnavailableError, 'The identity provider could not be reached in time (PORTCULLIS_IDP_TIMEOUT_MS) or gave no usable answer. Nothing was written; try again.'),
  LastSignInMethodError: errorType(LastSignInMethodError, "It is the user's last way to sign in (no password, passkey or other link): add one first."),
  IdentityProviderInUseError: errorType(IdentityProviderInUseError, 'Accounts are linked to the provider: disable it instead, or delete with force to remove the links too.', (t) => ({
    links: t.int({ description: 'How many accounts are linked to it.', resolve: (e: any) => e.links }),
  })),
  ScopeNotHeldError: errorType(ScopeNotHeldError, 'The caller gives a scope it does not hold (an API key makes keys and tokens no stronger than itself, and revokes only keys no stronger than itself).', (t) => ({
    scope: t.exposeString('scope', { description: 'The first scope the caller lacks.' }),
  })),
};
