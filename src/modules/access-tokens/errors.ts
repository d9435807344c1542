/** Failures of API keys and personal access tokens (graphql/errors.ts registers them). */
import { PortcullisError } from '../../kernel/errors.js';

/** A key gives only what it holds: no key makes a key (or a token) more powerful than itself. */
export class ScopeNotHeldError extends PortcullisError {
  static readonly code = 'SCOPE_NOT_HELD';
  readonly code = ScopeNotHeldError.code;
  constructor(readonly scope: string) {
    super(`The caller does not hold the scope ${scope}, so it cannot give it.`);
  }
}
