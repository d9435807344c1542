/** Failures of TOTP authenticators. */
import { PortcullisError } from '../../kernel/errors.js';

export class NoTotpError extends PortcullisError {
  static readonly code = 'NO_TOTP';
  readonly code = NoTotpError.code;
  constructor() {
    super('The user has no verified TOTP authenticator.');
  }
}
