/** Failures of passkey and security-key ceremonies. */
import { PortcullisError } from '../../kernel/errors.js';

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
  static readonly code = 'WEBAUTHN_VERIFICATION_FAILED';
  readonly code = WebAuthnVerificationError.code;
  constructor(readonly reason: WebAuthnFailureReason) {
    super(`The WebAuthn response was refused (${reason.toLowerCase().replace(/_/g, ' ')}).`);
  }
}
