/**
 * Expected failures: one class per outcome, each with a stable code. The schema
 * turns them into union members; they are never top-level GraphQL errors.
 * Messages are for people and never contain a secret, a code or a hash.
 */
export const ErrorCode = {
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  NO_PASSWORD: 'NO_PASSWORD',
  INCORRECT_PASSWORD: 'INCORRECT_PASSWORD',
  USER_LOCKED: 'USER_LOCKED',
  USER_INACTIVE: 'USER_INACTIVE',
  NO_TOTP: 'NO_TOTP',
  INCORRECT_CODE: 'INCORRECT_CODE',
  CODE_EXPIRED: 'CODE_EXPIRED',
  CODE_ALREADY_USED: 'CODE_ALREADY_USED',
  TOO_MANY_ATTEMPTS: 'TOO_MANY_ATTEMPTS',
  PHONE_NOT_VERIFIED: 'PHONE_NOT_VERIFIED',
  EMAIL_NOT_VERIFIED: 'EMAIL_NOT_VERIFIED',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  INVALID_INPUT: 'INVALID_INPUT',
  WEAK_PASSWORD: 'WEAK_PASSWORD',
  INVALID_STATE: 'INVALID_STATE',
  NOT_FOUND: 'NOT_FOUND',
  INVALID_TOKEN: 'INVALID_TOKEN',
  DELIVERY_FAILED: 'DELIVERY_FAILED',
  WEBAUTHN_VERIFICATION_FAILED: 'WEBAUTHN_VERIFICATION_FAILED',
  REAUTHENTICATION_REQUIRED: 'REAUTHENTICATION_REQUIRED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export abstract class PortcullisError extends Error {
  abstract readonly code: ErrorCode;
}

export class UserNotFoundError extends PortcullisError {
  readonly code = ErrorCode.USER_NOT_FOUND;
  constructor(readonly userId?: string) {
    super('No user has this id.');
  }
}

export class NotFoundError extends PortcullisError {
  readonly code = ErrorCode.NOT_FOUND;
  constructor(what = 'object') {
    super(`No ${what} has this id.`);
  }
}

export class InvalidStateError extends PortcullisError {
  readonly code = ErrorCode.INVALID_STATE;
  constructor(
    message: string,
    readonly state?: string,
  ) {
    super(message);
  }
}

export class AlreadyExistsError extends PortcullisError {
  readonly code = ErrorCode.ALREADY_EXISTS;
  constructor(readonly field: string) {
    super(`Another user already has this ${field}.`);
  }
}

export class InvalidInputError extends PortcullisError {
  readonly code = ErrorCode.INVALID_INPUT;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export class UserLockedError extends PortcullisError {
  readonly code = ErrorCode.USER_LOCKED;
  constructor(readonly lockedUntil: Date | null) {
    super(lockedUntil ? `The user is locked until ${lockedUntil.toISOString()}.` : 'The user is locked.');
  }
}

export class UserInactiveError extends PortcullisError {
  readonly code = ErrorCode.USER_INACTIVE;
  constructor() {
    super('The user is deactivated.');
  }
}

export class NoPasswordError extends PortcullisError {
  readonly code = ErrorCode.NO_PASSWORD;
  constructor() {
    super('The user has no password.');
  }
}

export class IncorrectPasswordError extends PortcullisError {
  readonly code = ErrorCode.INCORRECT_PASSWORD;
  constructor(readonly remainingAttempts: number | null) {
    super('The password is incorrect.');
  }
}

export class WeakPasswordError extends PortcullisError {
  readonly code = ErrorCode.WEAK_PASSWORD;
  constructor(readonly reasons: string[]) {
    super(`The password is too weak: ${reasons.join('; ')}.`);
  }
}

export class NoTotpError extends PortcullisError {
  readonly code = ErrorCode.NO_TOTP;
  constructor() {
    super('The user has no verified TOTP authenticator.');
  }
}

export class IncorrectCodeError extends PortcullisError {
  readonly code = ErrorCode.INCORRECT_CODE;
  constructor(readonly remainingAttempts: number | null) {
    super('The code is incorrect.');
  }
}

export class CodeExpiredError extends PortcullisError {
  readonly code = ErrorCode.CODE_EXPIRED;
  constructor() {
    super('The code has expired.');
  }
}

export class CodeAlreadyUsedError extends PortcullisError {
  readonly code = ErrorCode.CODE_ALREADY_USED;
  constructor() {
    super('The code was already used.');
  }
}

export class TooManyAttemptsError extends PortcullisError {
  readonly code = ErrorCode.TOO_MANY_ATTEMPTS;
  constructor(readonly retryAfter: Date | null) {
    super('Too many attempts.');
  }
}

export class PhoneNotVerifiedError extends PortcullisError {
  readonly code = ErrorCode.PHONE_NOT_VERIFIED;
  constructor() {
    super('The user has no verified phone number.');
  }
}

export class EmailNotVerifiedError extends PortcullisError {
  readonly code = ErrorCode.EMAIL_NOT_VERIFIED;
  constructor() {
    super('The user has no verified email address.');
  }
}

export class DeliveryFailedError extends PortcullisError {
  readonly code = ErrorCode.DELIVERY_FAILED;
  constructor(readonly channel: string) {
    super(`The message could not be delivered by ${channel}.`);
  }
}

/** A refresh or MFA token that is unknown, expired, revoked or reused: the client must sign in again. */
export class InvalidTokenError extends PortcullisError {
  readonly code = ErrorCode.INVALID_TOKEN;
  constructor(readonly tokenKind: string) {
    super(`The ${tokenKind} is invalid, expired or revoked; sign in again.`);
  }
}

/**
 * A user changing their own credentials with a session that has not proved a
 * factor recently: call `reauthenticate`, then retry. A stolen access token
 * alone must not be able to add or remove factors.
 */
export class ReauthenticationRequiredError extends PortcullisError {
  readonly code = ErrorCode.REAUTHENTICATION_REQUIRED;
  constructor(readonly maxAgeSeconds: number) {
    super(`This change needs a recent sign-in: prove a factor with reauthenticate (valid for ${maxAgeSeconds} s), then retry.`);
  }
}

/** Why a WebAuthn ceremony was refused: stable values, safe to show (nothing secret). */
export const WebAuthnFailureReason = [
  'CHALLENGE_NOT_FOUND',
  'CHALLENGE_EXPIRED',
  'CHALLENGE_ALREADY_USED',
  'CREDENTIAL_NOT_FOUND',
  'ORIGIN_MISMATCH',
  'RP_ID_MISMATCH',
  'USER_VERIFICATION_REQUIRED',
  'SIGNATURE_INVALID',
  'COUNTER_REGRESSED',
  'MALFORMED_RESPONSE',
] as const;
export type WebAuthnFailureReason = (typeof WebAuthnFailureReason)[number];

export class WebAuthnVerificationError extends PortcullisError {
  readonly code = ErrorCode.WEBAUTHN_VERIFICATION_FAILED;
  constructor(readonly reason: WebAuthnFailureReason) {
    super(`The WebAuthn response was refused (${reason.toLowerCase().replace(/_/g, ' ')}).`);
  }
}

/** Asserts a rule inside a service, so a path that skips the schema stays safe. */
export function assertThat(condition: unknown, error: () => Error): asserts condition {
  if (!condition) throw error();
}
