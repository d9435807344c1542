/**
 * The two halves every code-based flow shares (contact verification, sign-in
 * OTP): issue a code and deliver it without leaving it half-issued, and check
 * a code under the lockout policy, bound to the address it was sent to.
 */
import type { User } from '../../kernel/db/models.js';
import type { Channel, Delivery, TemplateName } from '../../kernel/delivery/index.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import { TooManyAttemptsError } from '../../kernel/errors.js';
import { CodeAlreadyUsedError, CodeExpiredError, IncorrectCodeError } from './errors.js';
import type { LockoutService } from '../lockout/service.js';
import type { OneTimeCodeService } from './one-time-codes.js';

export interface IssueAndDeliver {
  userId: string;
  purpose: string;
  /** What the code proves (normalised address); verification compares against it. Null: nothing beyond the user. */
  target: string | null;
  channel: Channel;
  /** The address as the sender needs it (display form of the email, E.164 phone). */
  to: string;
  template: TemplateName;
  locale?: string | null;
  /** Hand the code back instead of sending it. */
  returnCode: boolean;
  ignoreCooldown: boolean;
  /** The code's lifetime (default the one-time code policy's) and its generator (default digits). */
  ttlSeconds?: number;
  generate?: () => string;
  /** Builds the link the message carries around the code (passkey_registration_link). */
  link?: (code: string) => string;
}

export interface CheckCode {
  userId: string;
  purpose: string;
  code: string;
  /** The address the code must have been issued for, from the user read when the attempt began; null: none qualifies. */
  expectedTarget: (user: User) => string | null;
  meta: RequestMeta;
}

const codeFailures = [IncorrectCodeError, CodeExpiredError, CodeAlreadyUsedError, TooManyAttemptsError];

/** A user's preferred language for messages, when their public metadata names one (`{"locale": "de"}`). */
export function localeOf(user: User): string | null {
  const locale = (user.publicMetadata as Record<string, unknown> | null)?.locale;
  return typeof locale === 'string' ? locale : null;
}

export type CodeDelivery = ReturnType<typeof createCodeDelivery>;

export function createCodeDelivery(deps: { codes: OneTimeCodeService; lockout: LockoutService; delivery: Delivery; ttlSeconds: number }) {
  const { codes, lockout, delivery } = deps;
  return {
    /**
     * Issues a code (replacing the previous one for the purpose) and delivers it,
     * or returns it when `returnCode`. A failed delivery revokes the code and
     * throws DeliveryFailedError: no code is left live that nobody received.
     */
    async issueAndDeliver(options: IssueAndDeliver): Promise<{ code: string | null; expiresAt: Date }> {
      const { code, expiresAt } = await codes.issueCode({
        userId: options.userId,
        purpose: options.purpose,
        target: options.target,
        ignoreCooldown: options.ignoreCooldown,
        ttlSeconds: options.ttlSeconds,
        generate: options.generate,
      });
      if (options.returnCode) return { code, expiresAt };
      const params = { code, ttlSeconds: options.ttlSeconds ?? deps.ttlSeconds, ...(options.link ? { link: options.link(code) } : {}) };
      try {
        await delivery.send({ channel: options.channel, to: options.to, template: options.template, params, locale: options.locale });
      } catch (error) {
        await codes.revokeCode(options.userId, options.purpose);
        throw error;
      }
      return { code: null, expiresAt };
    },

    /**
     * Checks and consumes a code. The attempt is reserved against the user's
     * code lockout counter before the code is compared; every failure counts
     * (a wrong, expired, replayed or exhausted code), a success resets it.
     * A code issued for another address than the expected one is a wrong code.
     * Returns the user as read when the attempt began, and the code's target.
     */
    async checkCode(options: CheckCode): Promise<{ user: User; target: string }> {
      const attempt = await lockout.beginAttempt(options.userId, 'code');
      let target: string | null;
      try {
        ({ target } = await codes.consumeCode(options.userId, options.purpose, options.code));
        const expected = options.expectedTarget(attempt.user);
        // Bound to its address: a code sent to an old address cannot verify the new one.
        if (target === null || expected === null || target !== expected) throw new IncorrectCodeError({ codeAttemptsLeft: 0 });
      } catch (error) {
        if (!codeFailures.some((cls) => error instanceof cls)) throw error;
        const outcome = await attempt.failed(options.meta);
        // Both budgets apply here: the code's own attempts and the account's lockout.
        if (error instanceof IncorrectCodeError) throw new IncorrectCodeError({ codeAttemptsLeft: error.codeAttemptsLeft, attemptsBeforeLock: outcome.attemptsBeforeLock });
        throw error;
      }
      await attempt.succeeded();
      return { user: attempt.user, target };
    },
  };
}
