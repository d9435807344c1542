/**
 * Sign-in: identifier + password, then (for users with a second factor) an
 * MFA step-up, ending in a session.
 *
 * Enumeration: an unknown identifier, a user without a password and a wrong
 * password all get the same IncorrectPasswordError (without the attempts
 * counter, which only a real user has), and all cost one password hash: the
 * unknown case verifies against the password service's dummy hash.
 * A locked or deactivated user is still told so (the lockout would reveal it
 * anyway); that is the usual trade-off, and only after a policy lock.
 *
 * Password and code checks, attempt counting and lockout belong to the
 * credentials services; this module only orchestrates them.
 */
import { isIP } from 'node:net';
import type { Db } from '../../kernel/db/client.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { EventPayloads, Outbox } from '../catalog.js';
import type { Clock } from '../../kernel/clock.js';
import { InvalidInputError, NotFoundError, TooManyAttemptsError, UserInactiveError, UserLockedError, UserNotFoundError } from '../../kernel/errors.js';
import { CodeAlreadyUsedError, IncorrectCodeError } from '../codes/errors.js';
import { IncorrectPasswordError, NoPasswordError } from '../password/errors.js';
import { SECOND_FACTORS, type MfaMethod, type MfaService } from './mfa.js';
import { strategyFor, type SignInStrategies } from './strategy.js';
import type { AuthMethodService } from '../auth-methods/service.js';
import type { RateLimiter } from '../../kernel/rate-limiter.js';
import { failureLabel, type Counter } from '../../kernel/metrics.js';
import type { OtpChannel } from '../otp/service.js';
import type { UserKey } from '../lockout/service.js';
import { SecondFactorHeldError } from '../sessions/errors.js';
import type { LoginMethod, SessionDevice, SessionService, SessionTokens } from '../sessions/service.js';

export interface LoginInput {
  /** An email address or a username, compared case-insensitively. */
  identifier: string;
  password: string;
  device?: SessionDevice | null;
  /** Sign in to this organization: the session's access tokens speak for it (the user must be a member). */
  organizationId?: string | null;
}

/** One proof of who the user is, for reauthenticate: exactly one member is given. */
export interface ReauthenticationProof {
  password?: string | null;
  /** A TOTP code, or a backup code not minted by this same session. */
  totpCode?: string | null;
  /** A sign-in code sent by sendOtp on the user's SMS or email factor. */
  otp?: { channel: OtpChannel; code: string } | null;
  /** A WebAuthn assertion answering a startPasskeyAuthentication challenge, made with one of the user's credentials. */
  passkeyResponse?: unknown;
}

/** A new session's tokens, and whether the user's password is flagged to change. */
export type SignInTokens = SessionTokens & { passwordMustChange: boolean };

export type LoginOutcome =
  | ({ kind: 'session' } & SignInTokens)
  | { kind: 'mfa_required'; userId: string; mfaToken: string; methods: MfaMethod[]; expiresAt: Date };

/** The method a step-up is counted under when it fails (a success counts the method the code turned out to be). */
const STEP_UP_METHOD: Record<MfaMethod, LoginMethod> = { TOTP: 'totp', BACKUP_CODES: 'backup_code', OTP_SMS: 'otp_sms', OTP_EMAIL: 'otp_email', PASSKEY: 'passkey' };

/** The MFA method of a one-time code channel (OtpChannel names the channel, MfaMethod the factor). */
const OTP_METHOD_OF = { SMS: 'OTP_SMS', EMAIL: 'OTP_EMAIL' } as const satisfies Record<OtpChannel, MfaMethod>;

/** A user id that never exists: login checks unknown identifiers against it, so they cost a dummy hash. */
const NO_SUCH_USER = 'usr_00000000000000000000000000';

/** The device a session is opened from: as given by the calling app, else the request's own. Throws InvalidInputError. */
export function sessionDevice(given: SessionDevice | null | undefined, meta: RequestMeta): SessionDevice {
  const ip = given?.ip?.trim() || meta.ip || null;
  if (given?.ip && !isIP(given.ip.trim())) throw new InvalidInputError('device.ip', 'Not an IPv4 or IPv6 address.');
  const userAgent = given?.userAgent?.trim() || meta.userAgent || null;
  const name = given?.name?.trim() || null;
  if (name && name.length > 200) throw new InvalidInputError('device.name', 'A device name has at most 200 characters.');
  return { name, ip, userAgent };
}

export type LoginService = ReturnType<typeof createLoginService>;

export function createLoginService(deps: {
  db: Db;
  clock: Clock;
  outbox: Outbox;
  sessions: SessionService;
  mfa: MfaService;
  /** How each factor is proven: contributed by the credential modules (sign-in/strategy.ts). */
  strategies: SignInStrategies;
  /** Removes an auth method (auth-methods: the one removal path). */
  authMethods: Pick<AuthMethodService, 'removeAuthMethod'>;
  /** Attempts per identifier and minute from any address: spraying one account from many addresses. */
  identifierLimiter: RateLimiter | null;
  /** Counts sign-in attempts by method and outcome (portcullis_sign_ins_total). */
  signIns?: Counter<'method' | 'outcome'>;
}) {
  const { db, outbox, sessions, mfa, strategies } = deps;

  /** Counts one sign-in attempt however it ends: a failure under `method` and its error code, a success as `success` says. */
  async function counted<T>(method: string, attempt: () => Promise<T>, success: (result: T) => { method?: string; outcome?: string } = () => ({})): Promise<T> {
    let result: T;
    try {
      result = await attempt();
    } catch (error) {
      deps.signIns?.inc({ method, outcome: failureLabel(error) });
      throw error;
    }
    const counted = success(result);
    deps.signIns?.inc({ method: counted.method ?? method, outcome: counted.outcome ?? 'success' });
    return result;
  }

  /** The strategy that checks codes for a method; a method without one is a mistake of the caller. */
  function codeStrategy(method: MfaMethod, field: string) {
    const strategy = strategyFor(strategies, method, 'verifyCode');
    if (!strategy) throw new InvalidInputError(field, `A ${method} step is not finished with a code.`);
    return strategy;
  }

  /** The strategy that verifies signed assertions (passkeys). */
  function assertionStrategy() {
    const strategy = strategyFor(strategies, 'PASSKEY', 'verifyAssertion');
    if (!strategy) throw new InvalidInputError('response', 'Passkeys are not available.');
    return strategy;
  }

  const deviceOf = sessionDevice;

  /** The unique column an identifier names its user by (normalized); null for one no user can hold. */
  function userKey(normalized: string): UserKey | null {
    if (!normalized || normalized.length > 254) return null;
    return { column: normalized.includes('@') ? 'emailNormalized' : 'usernameNormalized', value: normalized };
  }

  /** The organization an MFA completion signs in to: its own input's, else the one login named. */
  const organizationOf = (input: { organizationId?: string | null }, challenge: { organizationId: string | null }) =>
    input.organizationId !== undefined ? input.organizationId : challenge.organizationId;

  async function recordLoginFailed(userId: string, data: EventPayloads['user.login_failed'], meta: RequestMeta) {
    await outbox.append({ type: 'user.login_failed', userId, data }, meta);
  }

  async function login(input: LoginInput, meta: RequestMeta): Promise<LoginOutcome> {
    const device = deviceOf(input.device, meta);
    const password = typeof input.password === 'string' ? input.password : '';
    const normalized = (input.identifier ?? '').trim().toLowerCase();
    // Counted for unknown identifiers too, before any hash: the answer must not tell them apart.
    const wait = await deps.identifierLimiter?.consume(normalized);
    if (wait) throw new TooManyAttemptsError(new Date(deps.clock.now().getTime() + wait * 1000));
    const key = userKey(normalized);
    if (!key) {
      // Same work as a real check: the password service hashes against its dummy.
      await strategies.password.verifyPassword(NO_SUCH_USER, password, meta).catch(() => undefined);
      throw new IncorrectPasswordError(null);
    }
    // One statement finds the user, reserves the attempt and reads whether a
    // second factor is held: an unknown identifier is UserNotFoundError, after
    // the same dummy hash.
    let userId: string | null = null;
    let verified: Awaited<ReturnType<typeof strategies.password.verifyPassword>>;
    try {
      verified = await strategies.password.verifyPassword(key, password, meta, { anyVerified: SECOND_FACTORS, identified: (id) => (userId = id) });
    } catch (error) {
      if (error instanceof IncorrectPasswordError || error instanceof NoPasswordError || error instanceof UserNotFoundError) {
        if (!(error instanceof UserNotFoundError) && userId) await recordLoginFailed(userId, { reason: 'incorrect_password' }, meta);
        throw new IncorrectPasswordError(null);
      }
      if (userId && (error instanceof UserLockedError || error instanceof UserInactiveError)) {
        await recordLoginFailed(userId, { reason: error instanceof UserLockedError ? 'locked' : 'inactive' }, meta);
      }
      throw error;
    }
    const id = verified.user.id;
    const organizationId = input.organizationId ?? null;
    let methods = verified.holdsVerified ? await mfa.availableMethods(id) : [];
    if (methods.length === 0) {
      try {
        // The session opens only while the user still holds no second factor: one enrolled since the read is asked for.
        return { kind: 'session', ...(await sessions.createSession(id, device, meta, 'password', organizationId, { unlessHolding: SECOND_FACTORS })) };
      } catch (error) {
        if (!(error instanceof SecondFactorHeldError)) throw error;
      }
      methods = await mfa.availableMethods(id);
      // Removed again meanwhile: what the factors are now decides, as for any sign-in.
      if (methods.length === 0) return { kind: 'session', ...(await sessions.createSession(id, device, meta, 'password', organizationId)) };
    }
    const challenge = await mfa.createChallenge(id, device, organizationId);
    return { kind: 'mfa_required', userId: id, methods, ...challenge };
  }

  async function completeMfaLogin(
    input: { mfaToken: string; method: MfaMethod; code: string; organizationId?: string | null },
    meta: RequestMeta,
    verifiedAs: (method: LoginMethod) => void,
  ): Promise<SignInTokens> {
    const challenge = await mfa.peekChallenge(input.mfaToken);
    const { userId } = challenge;
    if (input.method === 'PASSKEY') {
      throw new InvalidInputError('method', 'A passkey step-up is finished with completeMfaLoginWithPasskey, not with a code.');
    }
    const available = await mfa.availableMethods(userId);
    if (!available.includes(input.method)) throw new InvalidInputError('method', 'This user has no such second factor.');
    let method: LoginMethod;
    try {
      method = await codeStrategy(input.method, 'method').verifyCode(userId, input.method, input.code, meta);
    } catch (error) {
      if (error instanceof IncorrectCodeError || error instanceof CodeAlreadyUsedError) {
        await recordLoginFailed(userId, { reason: 'incorrect_code', method: input.method }, meta);
      }
      throw error;
    }
    verifiedAs(method);
    await mfa.consumeChallenge(input.mfaToken);
    return sessions.createSession(userId, challenge.device, meta, method, organizationOf(input, challenge));
  }

  async function completeMfaLoginWithPasskey(input: { mfaToken: string; response?: unknown; organizationId?: string | null }, meta: RequestMeta): Promise<SignInTokens> {
    const challenge = await mfa.peekChallenge(input.mfaToken);
    const { userId } = await assertionStrategy().verifyAssertion(input.response, meta);
    if (userId !== challenge.userId) {
      await recordLoginFailed(challenge.userId, { reason: 'passkey_of_another_user', method: 'PASSKEY' }, meta);
      throw new InvalidInputError('response', "The passkey does not belong to this sign-in's user.");
    }
    await mfa.consumeChallenge(input.mfaToken);
    return sessions.createSession(userId, challenge.device, meta, 'passkey', organizationOf(input, challenge));
  }

  return {
    deviceOf,

    /**
     * Checks the identifier and password. Returns a session, or an MFA
     * challenge when the user has a verified second factor. Throws
     * IncorrectPasswordError (also for unknown identifiers), UserLockedError,
     * UserInactiveError, TooManyAttemptsError or InvalidInputError.
     */
    login(input: LoginInput, meta: RequestMeta): Promise<LoginOutcome> {
      return counted('password', () => login(input, meta), (outcome) => ({ outcome: outcome.kind === 'session' ? 'success' : 'mfa_required' }));
    },

    /**
     * Finishes an MFA login with a TOTP code, a backup code, or a one-time
     * code sent by SMS or email. A wrong code leaves the MFA token usable
     * (within its lifetime and the lockout's code limit); a success consumes
     * it. Throws InvalidTokenError, CodeExpiredError, CodeAlreadyUsedError
     * (token or code reused), IncorrectCodeError, InvalidInputError (a method
     * the user does not have), UserLockedError, UserInactiveError,
     * TooManyAttemptsError.
     */
    completeMfaLogin(input: { mfaToken: string; method: MfaMethod; code: string }, meta: RequestMeta): Promise<SignInTokens> {
      let used: LoginMethod | undefined;
      return counted(STEP_UP_METHOD[input.method] ?? 'other', () => completeMfaLogin(input, meta, (method) => (used = method)), () => ({ method: used }));
    },

    /**
     * Finishes an MFA login with a passkey: the assertion answers a challenge
     * from startPasskeyAuthentication and must be made with a credential of
     * the user the MFA token belongs to. Throws what completeMfaLogin throws
     * about the token, InvalidInputError for another user's credential, and
     * the WebAuthn service's verification errors.
     */
    completeMfaLoginWithPasskey(input: { mfaToken: string; response?: unknown }, meta: RequestMeta): Promise<SignInTokens> {
      return counted('passkey', () => completeMfaLoginWithPasskey(input, meta));
    },

    /**
     * A user proves a factor again, so that their session may change
     * credentials for the next reauthMaxAgeSeconds. Wrong proofs count
     * towards the lockout like any other. A backup code minted by this same
     * session does not count: a stolen access token must not be able to mint
     * its own proof. Throws the verifiers' errors, InvalidInputError (not
     * exactly one proof, a passkey of another user) and InvalidTokenError (the
     * session ended meanwhile).
     */
    async reauthenticate(userId: string, sessionId: string, proof: ReauthenticationProof, meta: RequestMeta) {
      const given = (['password', 'totpCode', 'otp', 'passkeyResponse'] as const).filter((k) => proof[k] !== undefined && proof[k] !== null);
      if (given.length !== 1) throw new InvalidInputError('input', 'Give exactly one of password, totpCode, otp and passkeyResponse.');
      let method: LoginMethod;
      if (proof.password != null) {
        await strategies.password.verifyPassword(userId, proof.password, meta);
        method = 'password';
      } else if (proof.totpCode != null) {
        method = await codeStrategy('TOTP', 'totpCode').verifyCode(userId, 'TOTP', proof.totpCode, meta, { notBackupCodesOf: sessionId });
      } else if (proof.otp != null) {
        const otpMethod = OTP_METHOD_OF[proof.otp.channel];
        method = await codeStrategy(otpMethod, 'otp').verifyCode(userId, otpMethod, proof.otp.code, meta);
      } else {
        const verified = await assertionStrategy().verifyAssertion(proof.passkeyResponse, meta);
        if (verified.userId !== userId) throw new InvalidInputError('passkeyResponse', 'The passkey does not belong to this user.');
        method = 'passkey';
      }
      return { userId, method, ...(await sessions.markReauthenticated(sessionId, userId, method, meta)) };
    },

    /**
     * A user removes one of their own auth methods. Another user's method is
     * NotFoundError (ids cannot be probed). Like every credential change it
     * needs a recent authentication of the session; removing an active TOTP
     * also takes a current TOTP or backup code (the seed API's x-otp header),
     * which counts as that re-authentication.
     */
    async removeOwnAuthMethod(userId: string, sessionId: string, authMethodId: string, code: string | null | undefined, meta: RequestMeta) {
      const method = await db.authMethod.findUnique({ where: { id: authMethodId }, select: { userId: true, kind: true, verified: true } });
      if (!method || method.userId !== userId) throw new NotFoundError('auth method');
      // A pending registration has no working code yet; an active authenticator does.
      if (method.kind === 'TOTP' && method.verified && !code) {
        throw new InvalidInputError('code', 'Removing the authenticator needs a current code from it (or a backup code).');
      }
      if (code) await this.reauthenticate(userId, sessionId, { totpCode: code }, meta);
      return deps.authMethods.removeAuthMethod(authMethodId, meta);
    },

    /** Sends a sign-in code by SMS or email to the user an MFA token belongs to. */
    async sendMfaOtp(input: { mfaToken: string; channel: OtpChannel }, meta: RequestMeta) {
      const { userId, expiresAt } = await mfa.peekChallenge(input.mfaToken);
      const method = OTP_METHOD_OF[input.channel];
      const available = await mfa.availableMethods(userId);
      if (!available.includes(method)) throw new InvalidInputError('channel', 'This user has no such second factor.');
      const strategy = strategyFor(strategies, method, 'sendCode');
      if (!strategy) throw new InvalidInputError('channel', 'Codes cannot be sent on this channel.');
      const sent = await strategy.sendCode(userId, method, meta);
      return { ...sent, mfaTokenExpiresAt: expiresAt };
    },
  };
}
