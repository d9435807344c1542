/** Failures about a user's addresses. */
import { PortcullisError } from '../../kernel/errors.js';

export class PhoneNotVerifiedError extends PortcullisError {
  static readonly code = 'PHONE_NOT_VERIFIED';
  readonly code = PhoneNotVerifiedError.code;
  constructor() {
    super('The user has no verified phone number.');
  }
}

export class EmailNotVerifiedError extends PortcullisError {
  static readonly code = 'EMAIL_NOT_VERIFIED';
  readonly code = EmailNotVerifiedError.code;
  constructor(message = 'The user has no verified email address.') {
    super(message);
  }
}
