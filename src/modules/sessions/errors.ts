/** Failures of sessions and their tokens. */
import { PortcullisError } from '../../kernel/errors.js';

/** A refresh or MFA token that is unknown, expired, revoked or reused: the client must sign in again. */
export class InvalidTokenError extends PortcullisError {
  static readonly code = 'INVALID_TOKEN';
  readonly code = InvalidTokenError.code;
  constructor(readonly tokenKind: string) {
    super(`The ${tokenKind} is invalid, expired or revoked; sign in again.`);
  }
}

/**
 * A refresh token presented after it was already used: two parties hold it
 * (OAuth 2.0 Security BCP, refresh token rotation), so the whole session was
 * revoked. Also the answer to any later refresh of that session, so the
 * legitimate client learns why it must sign in again.
 */
export class RefreshTokenReusedError extends PortcullisError {
  static readonly code = 'REFRESH_TOKEN_REUSED';
  readonly code = RefreshTokenReusedError.code;
  constructor() {
    super('The session was revoked because one of its refresh tokens was used twice (someone else may hold a copy); sign in again.');
  }
}

/**
 * A user changing their own credentials with a session that has not proved a
 * factor recently: call `reauthenticate`, then retry. A stolen access token
 * alone must not be able to add or remove factors.
 */
export class ReauthenticationRequiredError extends PortcullisError {
  static readonly code = 'REAUTHENTICATION_REQUIRED';
  readonly code = ReauthenticationRequiredError.code;
  constructor(readonly maxAgeSeconds: number) {
    super(`This change needs a recent sign-in: prove a factor with reauthenticate (valid for ${maxAgeSeconds} s), then retry.`);
  }
}

/**
 * A sign-in or refresh named an organization the user is not a member of
 * (or one that does not exist: the answer does not tell them apart).
 */
export class NotAMemberError extends PortcullisError {
  static readonly code = 'NOT_A_MEMBER';
  readonly code = NotAMemberError.code;
  constructor(readonly organizationId: string) {
    super('The user is not a member of this organization.');
  }
}

/**
 * A session asked to open only while its user holds no second factor found
 * one (enrolled after the sign-in looked): the sign-in must ask for it. A
 * signal between services, never an answer to a client.
 */
export class SecondFactorHeldError extends Error {
  constructor() {
    super('The user holds a second factor now: the sign-in must ask for it.');
    this.name = 'SecondFactorHeldError';
  }
}
