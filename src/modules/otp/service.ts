/**
 * One-time codes by SMS or email as a second factor. A factor can be added
 * only for a verified address, one of each kind per user (the AuthMethod
 * `slot` is unique). Codes are sent to the address as it is when sending, and
 * bound to it: a code sent to a number the user no longer has is refused.
 *
 * `verifyOtp` is the core the sign-in flow calls for MFA.
 */
import type { Db } from '../../kernel/db/client.js';
import { isUniqueViolation } from '../../kernel/db/client.js';
import type { AuthMethod, AuthMethodKind, User } from '../../kernel/db/models.js';
import type { Channel } from '../../kernel/delivery/index.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import { authMethodSlot } from '../auth-methods/kinds.js';
import type { Clock } from '../../kernel/clock.js';
import { localeOf, type CodeDelivery } from '../codes/code-delivery.js';
import { assertThat, InvalidInputError, InvalidStateError, NotFoundError, UserNotFoundError } from '../../kernel/errors.js';
import { EmailNotVerifiedError, PhoneNotVerifiedError } from '../users/errors.js';
import type { AuthMethodService } from '../auth-methods/service.js';
import type { LockoutService } from '../lockout/service.js';
import type { ReauthGuard } from '../sessions/service.js';
import { maskEmail, maskPhone } from '../../kernel/masking.js';
import type { OneTimeCodeService } from '../codes/one-time-codes.js';
import { publicUser } from '../users/events.js';
import { createOtpStore } from './store.js';

export type OtpChannel = 'SMS' | 'EMAIL';

interface FactorKind {
  kind: Extract<AuthMethodKind, 'OTP_SMS' | 'OTP_EMAIL'>;
  label: string;
  purpose: 'otp_sms' | 'otp_email';
  channel: Channel;
  /** The verified address codes go to and are bound to; null when there is none. */
  verifiedKey(user: User): string | null;
  addressOf(user: User): string | null;
  notVerified(): Error;
  mask(address: string | null): string | null;
  events: { added: 'user.otp_sms_added' | 'user.otp_email_added' };
}

const factors: Record<OtpChannel, FactorKind> = {
  SMS: {
    kind: 'OTP_SMS',
    label: 'OTP by SMS',
    purpose: 'otp_sms',
    channel: 'sms',
    verifiedKey: (u) => (u.phoneVerifiedAt ? u.phone : null),
    addressOf: (u) => u.phone,
    notVerified: () => new PhoneNotVerifiedError(),
    mask: maskPhone,
    events: { added: 'user.otp_sms_added' },
  },
  EMAIL: {
    kind: 'OTP_EMAIL',
    label: 'OTP by email',
    purpose: 'otp_email',
    channel: 'email',
    verifiedKey: (u) => (u.emailVerifiedAt ? u.emailNormalized : null),
    addressOf: (u) => u.email,
    notVerified: () => new EmailNotVerifiedError(),
    mask: maskEmail,
    events: { added: 'user.otp_email_added' },
  },
};

const slotOf = (userId: string, factor: FactorKind) => authMethodSlot(userId, factor.kind);

export interface SendOtpResult {
  user: User;
  authMethod: AuthMethod;
  /** Only with returnCode. */
  code: string | null;
  expiresAt: Date;
  /** The masked address the code was sent to; null with returnCode. */
  sentTo: string | null;
}

export type OtpFactorService = ReturnType<typeof createOtpFactorService>;

export function createOtpFactorService(deps: {
  db: Db;
  outbox: Outbox;
  clock: Clock;
  codes: OneTimeCodeService;
  lockout: LockoutService;
  codeDelivery: CodeDelivery;
  reauth: ReauthGuard;
  authMethods: AuthMethodService;
}) {
  const { db, outbox, clock, codes, lockout, codeDelivery } = deps;
  const store = createOtpStore({ db });

  async function addFactor(channel: OtpChannel, userId: string, meta: RequestMeta): Promise<{ user: User; authMethod: AuthMethod }> {
    await deps.reauth.assertRecentAuthentication(meta);
    const factor = factors[channel];
    try {
      return await outbox.transaction(async (tx) => {
        const user = await tx.user.findUnique({ where: { id: userId } });
        if (!user) throw new UserNotFoundError(userId);
        if (!factor.verifiedKey(user)) throw factor.notVerified();
        const authMethod = await store.insertOtpFactor(tx, userId, factor.kind);
        await outbox.record(tx, { type: factor.events.added, userId, data: { user: publicUser(user), authMethod: { id: authMethod.id, kind: factor.kind } } }, meta);
        return { user, authMethod };
      });
    } catch (error) {
      // The unique slot, not a read-then-write check, is what makes "one per user" hold under races.
      if (isUniqueViolation(error)) throw new InvalidStateError(`The user already has ${factor.label}.`);
      throw error;
    }
  }

  /** The shortcut for removeAuthMethod on the user's factor of this channel. */
  async function removeFactor(channel: OtpChannel, userId: string, meta: RequestMeta): Promise<{ userId: string; removedAuthMethodId: string }> {
    const factor = factors[channel];
    const user = await db.user.findUnique({ where: { id: userId }, select: { id: true } });
    if (!user) throw new UserNotFoundError(userId);
    const method = await db.authMethod.findUnique({ where: { slot: slotOf(userId, factor) }, select: { id: true } });
    const noFactor = () => new InvalidStateError(`The user has no ${factor.label}.`);
    if (!method) throw noFactor();
    try {
      await deps.authMethods.removeAuthMethod(method.id, meta);
    } catch (error) {
      // Removed meanwhile by another request.
      if (error instanceof NotFoundError) throw noFactor();
      throw error;
    }
    return { userId, removedAuthMethodId: method.id };
  }

  async function findFactor(userId: string, factor: FactorKind): Promise<AuthMethod> {
    const method = await db.authMethod.findUnique({ where: { slot: slotOf(userId, factor) } });
    if (!method) throw new InvalidStateError(`The user has no ${factor.label}.`);
    return method;
  }

  return {
    /** Adds OTP by SMS; the phone must be verified (PhoneNotVerifiedError), one per user (InvalidStateError). */
    addOtpSms: (userId: string, meta: RequestMeta) => addFactor('SMS', userId, meta),
    /** Adds OTP by email; the email must be verified (EmailNotVerifiedError), one per user (InvalidStateError). */
    addOtpEmail: (userId: string, meta: RequestMeta) => addFactor('EMAIL', userId, meta),
    removeOtpSms: (userId: string, meta: RequestMeta) => removeFactor('SMS', userId, meta),
    removeOtpEmail: (userId: string, meta: RequestMeta) => removeFactor('EMAIL', userId, meta),

    /**
     * Issues a sign-in code on the user's factor and sends it (or returns it
     * with returnCode, which also skips the resend cooldown). Throws
     * UserNotFoundError, UserLockedError, UserInactiveError, InvalidStateError
     * (no such factor), PhoneNotVerifiedError/EmailNotVerifiedError,
     * ResendCooldownError and DeliveryFailedError. With `meta` of a
     * user acting on themselves, returnCode is refused (InvalidInputError).
     */
    async sendOtp(input: { userId: string; channel: OtpChannel; returnCode?: boolean }, meta?: RequestMeta): Promise<SendOtpResult> {
      // A returned code skips delivery, so it proves nothing about the caller: never to the user themselves.
      assertThat(!(input.returnCode && meta?.actor.type === 'user'), () => new InvalidInputError('returnCode', 'returnCode is for management callers.'));
      const factor = factors[input.channel];
      const user = await lockout.assertCanAct(input.userId);
      const authMethod = await findFactor(user.id, factor);
      const key = factor.verifiedKey(user);
      const address = factor.addressOf(user);
      if (!key || !address) throw factor.notVerified();
      const returnCode = input.returnCode ?? false;
      const issued = await codeDelivery.issueAndDeliver({
        userId: user.id,
        purpose: factor.purpose,
        target: key,
        channel: factor.channel,
        to: address,
        template: 'otp_sign_in',
        locale: localeOf(user),
        returnCode,
        ignoreCooldown: returnCode,
      });
      return { user, authMethod, code: issued.code, expiresAt: issued.expiresAt, sentTo: returnCode ? null : factor.mask(address) };
    },

    /**
     * Checks a sign-in code sent by sendOtp, under the code lockout policy, and
     * marks the factor used. The MFA step of sign-in calls this. Throws
     * UserNotFoundError, InvalidStateError (no such factor), IncorrectCodeError,
     * CodeExpiredError, CodeAlreadyUsedError, TooManyAttemptsError, UserLockedError, UserInactiveError.
     */
    async verifyOtp(input: { userId: string; channel: OtpChannel; code: string }, meta: RequestMeta): Promise<{ user: User; authMethod: AuthMethod }> {
      const factor = factors[input.channel];
      const exists = await db.user.count({ where: { id: input.userId } });
      if (!exists) throw new UserNotFoundError(input.userId);
      const method = await findFactor(input.userId, factor);
      const { user } = await codeDelivery.checkCode({
        userId: input.userId,
        purpose: factor.purpose,
        code: input.code,
        expectedTarget: factor.verifiedKey,
        meta,
      });
      const lastUsedAt = clock.now();
      // Removed between the check and now: the factor no longer vouches for anything.
      if (!(await store.markOtpFactorUsed(method.id, lastUsedAt))) throw new InvalidStateError(`The user has no ${factor.label}.`);
      return { user, authMethod: { ...method, lastUsedAt } };
    },
  };
}
