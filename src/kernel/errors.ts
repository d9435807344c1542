/**
 * Expected failures: one class per outcome, each with a stable code. The schema
 * turns them into union members; they are never top-level GraphQL errors.
 * Messages are for people and never contain a secret, a code or a hash.
 * Failures shared by every module live here; a module's own live in its
 * errors.ts (graphql/errors.ts registers them all; codes are unique).
 */
/** A stable UPPER_SNAKE code: the `code` of the Error interface (the GraphQL ErrorCode enum gathers every class's). */
export type ErrorCode = Uppercase<string>;

export abstract class PortcullisError extends Error {
  abstract readonly code: ErrorCode;
}

export class UserNotFoundError extends PortcullisError {
  static readonly code = 'USER_NOT_FOUND';
  readonly code = UserNotFoundError.code;
  constructor(readonly userId?: string) {
    super('No user has this id.');
  }
}

export class NotFoundError extends PortcullisError {
  static readonly code = 'NOT_FOUND';
  readonly code = NotFoundError.code;
  constructor(what = 'object') {
    super(`No ${what} has this id.`);
  }
}

export class InvalidStateError extends PortcullisError {
  static readonly code = 'INVALID_STATE';
  readonly code = InvalidStateError.code;
  constructor(
    message: string,
    readonly state?: string,
  ) {
    super(message);
  }
}

export class AlreadyExistsError extends PortcullisError {
  static readonly code = 'ALREADY_EXISTS';
  readonly code = AlreadyExistsError.code;
  /** `what`: the kind of object that holds the value (default a user: "Another user already has this email."); `message` says it otherwise. */
  constructor(
    readonly field: string,
    what = 'user',
    message?: string,
  ) {
    super(message ?? `Another ${what} already has this ${field}.`);
  }
}

export class InvalidInputError extends PortcullisError {
  static readonly code = 'INVALID_INPUT';
  readonly code = InvalidInputError.code;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export class UserLockedError extends PortcullisError {
  static readonly code = 'USER_LOCKED';
  readonly code = UserLockedError.code;
  constructor(readonly lockedUntil: Date | null) {
    super(lockedUntil ? `The user is locked until ${lockedUntil.toISOString()}.` : 'The user is locked.');
  }
}

export class UserInactiveError extends PortcullisError {
  static readonly code = 'USER_INACTIVE';
  readonly code = UserInactiveError.code;
  constructor() {
    super('The user is deactivated.');
  }
}

export class TooManyAttemptsError extends PortcullisError {
  static readonly code = 'TOO_MANY_ATTEMPTS';
  readonly code = TooManyAttemptsError.code;
  constructor(readonly retryAfter: Date | null) {
    super('Too many attempts.');
  }
}

export class DeliveryFailedError extends PortcullisError {
  static readonly code = 'DELIVERY_FAILED';
  readonly code = DeliveryFailedError.code;
  /** `userId`: set where the operation's write is kept although the message failed (createUser, updateUser). */
  constructor(
    readonly channel: string,
    readonly userId: string | null = null,
  ) {
    super(`The message could not be delivered by ${channel}.`);
  }
}

/** Asserts a rule inside a service, so a path that skips the schema stays safe. */
export function assertThat(condition: unknown, error: () => Error): asserts condition {
  if (!condition) throw error();
}
