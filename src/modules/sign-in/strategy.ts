/**
 * How sign-in proves who the user is, contributed by the credential modules
 * (Kratos' login strategies): the password module the first factor; TOTP,
 * one-time codes and passkeys each a second factor. Sign-in, the MFA step-up
 * and reauthenticate pick the strategy by the method a caller names, so a
 * new factor is a strategy in its own module, not an edit here.
 */
import type { RequestMeta } from '../../kernel/events/outbox.js';
import { inSpan } from '../../kernel/tracing.js';
import type { AuthMethodKind } from '../../kernel/db/models.js';
import type { UserKey } from '../lockout/service.js';
import type { LoginMethod } from '../sessions/service.js';
import type { MfaMethod } from './mfa.js';

/** What login asks of a password check besides the verdict (the password service's verifyPassword options). */
export interface PasswordCheckOptions {
  /** Also read, with the attempt's reservation, whether the user holds a verified auth method of these kinds. */
  anyVerified?: readonly AuthMethodKind[];
  /** Told the user's id as soon as it is known (a user named by identifier), failures included. */
  identified?: (userId: string) => void;
}

/**
 * The first factor: checks a password with lockout counting (an unknown user
 * costs a dummy hash). The user is named by id, or by a normalized email or
 * username (then an unknown one is UserNotFoundError).
 */
export interface PasswordStrategy {
  verifyPassword(user: string | UserKey, password: string, meta: RequestMeta, options?: PasswordCheckOptions): Promise<{ user: { id: string }; holdsVerified: boolean | null }>;
}

/** A second factor answering one or more MFA methods. */
export interface SecondFactorStrategy {
  methods: readonly MfaMethod[];
  /** Checks a code for one of its methods and says what was proven; throws its module's errors. `notBackupCodesOf`: see reauthenticate. */
  verifyCode?(userId: string, method: MfaMethod, code: string, meta: RequestMeta, options?: { notBackupCodesOf?: string }): Promise<LoginMethod>;
  /** Sends a code for one of its methods (one-time codes by SMS or email). */
  sendCode?(userId: string, method: MfaMethod, meta: RequestMeta): Promise<{ expiresAt: Date; destination: string | null }>;
  /** Verifies a signed assertion (passkeys) and names its user. */
  verifyAssertion?(response: unknown, meta: RequestMeta): Promise<{ userId: string }>;
}

export interface SignInStrategies {
  password: PasswordStrategy;
  secondFactors: readonly SecondFactorStrategy[];
}

/** The strategy answering a method, and the capability asked of it; undefined when none does. */
export function strategyFor<K extends 'verifyCode' | 'sendCode' | 'verifyAssertion'>(
  strategies: SignInStrategies,
  method: MfaMethod,
  capability: K,
): (SecondFactorStrategy & Required<Pick<SecondFactorStrategy, K>>) | undefined {
  return strategies.secondFactors.find((s) => s.methods.includes(method) && s[capability]) as never;
}

/** The strategies with each check in a `credential.verify` span naming the kind of credential (with tracing on). */
export function tracedStrategies(strategies: SignInStrategies): SignInStrategies {
  const { password, secondFactors } = strategies;
  const check = <T>(kind: string, fn: () => Promise<T>) => inSpan('credential.verify', { 'credential.kind': kind }, fn);
  return {
    password: { verifyPassword: (user, secret, meta, options) => check('password', () => password.verifyPassword(user, secret, meta, options)) },
    secondFactors: secondFactors.map((factor) => ({
      ...factor,
      ...(factor.verifyCode && {
        verifyCode: (userId: string, method: MfaMethod, code: string, meta: RequestMeta, options?: { notBackupCodesOf?: string }) =>
          check(method.toLowerCase(), () => factor.verifyCode!(userId, method, code, meta, options)),
      }),
      ...(factor.verifyAssertion && { verifyAssertion: (response: unknown, meta: RequestMeta) => check('passkey', () => factor.verifyAssertion!(response, meta)) }),
    })),
  };
}
