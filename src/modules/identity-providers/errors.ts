/** Failures of identity providers, their intents and links (graphql/errors.ts registers them). */
import { PortcullisError } from '../../kernel/errors.js';

/**
 * Why a trip to a provider failed: the `error` the failure URL receives and
 * IdpIntentFailedError's reason. Stable values, safe to show.
 */
export const IdpFailureReason = [
  /** The provider answered with an error (the user cancelled: access_denied). */
  'PROVIDER_ERROR',
  /** The provider could not be reached, answered too slowly or with a server error. */
  'PROVIDER_UNAVAILABLE',
  /** The provider refused the code exchange (a code of another flow, a wrong client secret). */
  'EXCHANGE_FAILED',
  /** The ID token failed its checks: signature, issuer, audience, expiry or nonce. */
  'ID_TOKEN_INVALID',
  /** Another answer of the provider did not match what was sent (its issuer, the state, the subject). */
  'RESPONSE_INVALID',
  /** The provider's profile had no usable subject. */
  'PROFILE_INVALID',
  /** The provider was disabled while the user was away at it. */
  'PROVIDER_DISABLED',
] as const;
export type IdpFailureReason = (typeof IdpFailureReason)[number];

/** No intent has this id and token (either may be wrong: the answer does not tell which). */
export class IdpIntentInvalidError extends PortcullisError {
  static readonly code = 'IDP_INTENT_INVALID';
  readonly code = IdpIntentInvalidError.code;
  constructor() {
    super('No identity-provider intent has this id and token.');
  }
}

export class IdpIntentExpiredError extends PortcullisError {
  static readonly code = 'IDP_INTENT_EXPIRED';
  readonly code = IdpIntentExpiredError.code;
  constructor() {
    super('The identity-provider intent has expired: start a new one.');
  }
}

/** The intent was consumed already (a sign-in, a registration or a link): it works once. */
export class IdpIntentAlreadyUsedError extends PortcullisError {
  static readonly code = 'IDP_INTENT_ALREADY_USED';
  readonly code = IdpIntentAlreadyUsedError.code;
  constructor() {
    super('The identity-provider intent was used already: start a new one.');
  }
}

/** The trip to the provider failed; nothing came back to use. */
export class IdpIntentFailedError extends PortcullisError {
  static readonly code = 'IDP_INTENT_FAILED';
  readonly code = IdpIntentFailedError.code;
  constructor(readonly reason: IdpFailureReason) {
    super(`The sign-in at the identity provider failed (${reason.toLowerCase().replace(/_/g, ' ')}).`);
  }
}

/** The provider's account is linked to no user: register it (createUser with idpIntent) or link it (linkIdpIntent). */
export class IdpNotLinkedError extends PortcullisError {
  static readonly code = 'IDP_NOT_LINKED';
  readonly code = IdpNotLinkedError.code;
  constructor(readonly linkCandidateUserId: string | null) {
    super('No user is linked to this account of the identity provider.');
  }
}

/** The provider did not answer in time, or not usably (discovery, token, userinfo). Nothing was written. */
export class IdpUnavailableError extends PortcullisError {
  static readonly code = 'IDP_UNAVAILABLE';
  readonly code = IdpUnavailableError.code;
  constructor() {
    super('The identity provider could not be reached or gave no usable answer; try again later.');
  }
}

/** Removing the link would leave the user no way to sign in (no password, passkey or other link). */
export class LastSignInMethodError extends PortcullisError {
  static readonly code = 'LAST_SIGN_IN_METHOD';
  readonly code = LastSignInMethodError.code;
  constructor() {
    super("This is the user's last way to sign in: give them a password, a passkey or another link first.");
  }
}

/** The provider still has links: deleting it would take a sign-in method from their users. */
export class IdentityProviderInUseError extends PortcullisError {
  static readonly code = 'IDENTITY_PROVIDER_IN_USE';
  readonly code = IdentityProviderInUseError.code;
  constructor(readonly links: number) {
    super(`The identity provider has ${links} linked account(s): disable it, or delete it with force to remove the links too.`);
  }
}
