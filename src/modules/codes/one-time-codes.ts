/**
 * Single-use codes for a purpose (email or phone verification, sign-in OTP,
 * password reset, registration links). Only a keyed hash is stored; each
 * code expires, allows a few attempts, and is consumed on success. One live
 * code per user and purpose: issuing a new one replaces the old (the `slot`
 * column is unique), and a resend cooldown stops code flooding.
 *
 * Races: attempts are reserved by a conditional increment and consumption is a
 * conditional update, so two requests with the same code cannot both succeed.
 */
import type { Db } from '../../kernel/db/client.js';
import type { Clock } from '../../kernel/clock.js';
import { constantTimeEqual, hashCode, randomDigits } from '../../kernel/crypto.js';
import { TooManyAttemptsError } from '../../kernel/errors.js';
import { CodeAlreadyUsedError, CodeExpiredError, IncorrectCodeError, ResendCooldownError } from './errors.js';
import { createCodeStore } from './store.js';

export interface CodePolicy {
  length: number;
  ttlSeconds: number;
  maxAttempts: number;
  resendCooldownSeconds: number;
}

export interface IssueOptions {
  userId: string;
  purpose: string;
  /** What the code proves (an email or phone); returned by verify. */
  target?: string | null;
  ttlSeconds?: number;
  /** Produces the code; default: `length` random digits. */
  generate?: () => string;
  /** Skip the resend cooldown (e.g. an admin asking for the code in the response). */
  ignoreCooldown?: boolean;
}

export type OneTimeCodeService = ReturnType<typeof createOneTimeCodeService>;

export function createOneTimeCodeService(deps: { db: Db; clock: Clock; key: Buffer; policy: CodePolicy }) {
  const { db, clock, key, policy } = deps;
  const store = createCodeStore(deps);
  const slotOf = (userId: string, purpose: string) => `${userId}:${purpose}`;
  // The hash is bound to the user and purpose: a code cannot be replayed elsewhere.
  const hashFor = (userId: string, purpose: string, code: string) => hashCode(key, code.trim().toUpperCase(), slotOf(userId, purpose));

  return {
    /** Issues a code and returns it in the clear, once, for delivery. Throws ResendCooldownError within the cooldown. */
    async issueCode(options: IssueOptions): Promise<{ code: string; expiresAt: Date }> {
      const now = clock.now();
      const slot = slotOf(options.userId, options.purpose);
      if (!options.ignoreCooldown && policy.resendCooldownSeconds > 0) {
        const previous = await db.oneTimeCode.findUnique({ where: { slot }, select: { createdAt: true } });
        const readyAt = previous ? previous.createdAt.getTime() + policy.resendCooldownSeconds * 1000 : 0;
        if (readyAt > now.getTime()) throw new ResendCooldownError(new Date(readyAt));
      }
      const code = options.generate?.() ?? randomDigits(policy.length);
      const expiresAt = new Date(now.getTime() + (options.ttlSeconds ?? policy.ttlSeconds) * 1000);
      await store.replaceCodeInSlot({
        userId: options.userId,
        purpose: options.purpose,
        slot,
        target: options.target ?? null,
        codeHash: hashFor(options.userId, options.purpose, code),
        maxAttempts: policy.maxAttempts,
        expiresAt,
        createdAt: now,
      });
      return { code, expiresAt };
    },

    /**
     * Checks and consumes a code. Returns the target it was issued for.
     * Throws IncorrectCodeError (with attempts left), CodeExpiredError,
     * CodeAlreadyUsedError or TooManyAttemptsError.
     */
    async consumeCode(userId: string, purpose: string, code: string): Promise<{ target: string | null }> {
      const slot = slotOf(userId, purpose);
      const row = await db.oneTimeCode.findUnique({ where: { slot } });
      if (!row) throw new IncorrectCodeError();
      if (row.consumedAt) throw new CodeAlreadyUsedError();
      if (row.expiresAt <= clock.now()) throw new CodeExpiredError();
      // Reserve an attempt on this very code (a replaced code has another hash).
      if (!(await store.reserveCodeAttempt(row))) {
        const now = await db.oneTimeCode.findUnique({ where: { slot } });
        if (now?.consumedAt && now.codeHash === row.codeHash) throw new CodeAlreadyUsedError();
        if (now && now.codeHash !== row.codeHash) throw new IncorrectCodeError();
        throw new TooManyAttemptsError(null);
      }
      if (!constantTimeEqual(hashFor(userId, purpose, code), row.codeHash)) {
        const after = await db.oneTimeCode.findUnique({ where: { id: row.id }, select: { attempts: true } });
        throw new IncorrectCodeError({ codeAttemptsLeft: Math.max(0, row.maxAttempts - (after?.attempts ?? row.maxAttempts)) });
      }
      if (!(await store.consumeCodeOnce(row, clock.now()))) throw new CodeAlreadyUsedError();
      return { target: row.target };
    },

    /** Withdraws the live code for a purpose (e.g. when its delivery failed). */
    async revokeCode(userId: string, purpose: string): Promise<void> {
      await store.deleteCodeInSlot(slotOf(userId, purpose));
    },
  };
}
