/** Failures of passwords. */
import { PortcullisError } from '../../kernel/errors.js';

export class NoPasswordError extends PortcullisError {
  static readonly code = 'NO_PASSWORD';
  readonly code = NoPasswordError.code;
  constructor() {
    super('The user has no password.');
  }
}

export class IncorrectPasswordError extends PortcullisError {
  static readonly code = 'INCORRECT_PASSWORD';
  readonly code = IncorrectPasswordError.code;
  /** The account's lockout budget after this failure; null when no policy applies or it is not told (login). */
  constructor(readonly attemptsBeforeLock: number | null) {
    super('The password is incorrect.');
  }
}

export class WeakPasswordError extends PortcullisError {
  static readonly code = 'WEAK_PASSWORD';
  readonly code = WeakPasswordError.code;
  constructor(readonly reasons: string[]) {
    super(`The password is too weak: ${reasons.join('; ')}.`);
  }
}
