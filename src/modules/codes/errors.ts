/** Failures of single-use codes (verification, sign-in, reset, TOTP and backup codes). */
import { PortcullisError } from '../../kernel/errors.js';

/**
 * Two budgets can limit a code, and they are told apart: the attempts left
 * on the one issued code (one-time codes), and the account's lockout budget
 * (every code checked under the lockout policy). Null: that budget does not
 * apply, or is not told.
 */
export class IncorrectCodeError extends PortcullisError {
  static readonly code = 'INCORRECT_CODE';
  readonly code = IncorrectCodeError.code;
  readonly codeAttemptsLeft: number | null;
  readonly attemptsBeforeLock: number | null;
  constructor(left: { codeAttemptsLeft?: number | null; attemptsBeforeLock?: number | null } = {}) {
    super('The code is incorrect.');
    this.codeAttemptsLeft = left.codeAttemptsLeft ?? null;
    this.attemptsBeforeLock = left.attemptsBeforeLock ?? null;
  }
}

export class CodeExpiredError extends PortcullisError {
  static readonly code = 'CODE_EXPIRED';
  readonly code = CodeExpiredError.code;
  constructor() {
    super('The code has expired.');
  }
}

/**
 * Why a code counts as used. A TOTP code is not single-use by itself: it is
 * refused because its time step, or a later one, was already accepted (replay
 * protection), and the user's next code will work; saying so keeps people
 * from retyping the same code.
 */
export const CodeAlreadyUsedReason = ['CODE_ALREADY_USED', 'STEP_ALREADY_USED'] as const;
export type CodeAlreadyUsedReason = (typeof CodeAlreadyUsedReason)[number];

export class CodeAlreadyUsedError extends PortcullisError {
  static readonly code = 'CODE_ALREADY_USED';
  readonly code = CodeAlreadyUsedError.code;
  constructor(readonly reason: CodeAlreadyUsedReason = 'CODE_ALREADY_USED') {
    super(reason === 'STEP_ALREADY_USED' ? 'A code from this or a later time step was already accepted; wait for the next code.' : 'The code was already used.');
  }
}

/**
 * A new code was asked for within the resend cooldown of the last one, so
 * none was issued or sent. Not a failed attempt: nothing was guessed, and it
 * counts toward no lockout.
 */
export class ResendCooldownError extends PortcullisError {
  static readonly code = 'RESEND_COOLDOWN';
  readonly code = ResendCooldownError.code;
  constructor(readonly retryAfter: Date) {
    super(`A code was sent moments ago; a new one can be sent from ${retryAfter.toISOString()}.`);
  }
}
