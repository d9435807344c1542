/** Failures of single-use codes (verification, sign-in, reset, TOTP and backup codes). */
import { PortcullisError } from '../../kernel/errors.js';

export class IncorrectCodeError extends PortcullisError {
  static readonly code = 'INCORRECT_CODE';
  readonly code = IncorrectCodeError.code;
  constructor(readonly remainingAttempts: number | null) {
    super('The code is incorrect.');
  }
}

export class CodeExpiredError extends PortcullisError {
  static readonly code = 'CODE_EXPIRED';
  readonly code = CodeExpiredError.code;
  constructor() {
    super('The code has expired.');
  }
}

export class CodeAlreadyUsedError extends PortcullisError {
  static readonly code = 'CODE_ALREADY_USED';
  readonly code = CodeAlreadyUsedError.code;
  constructor() {
    super('The code was already used.');
  }
}
