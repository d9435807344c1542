/**
 * TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits, the parameters every
 * authenticator app supports) and verification of second-factor codes.
 *
 * - The secret is stored encrypted (AES-256-GCM, bound to its auth method id).
 * - Replay protection: the last accepted time step is kept in `counter`, and a
 *   code is accepted only by a conditional update `counter < step`, so a code
 *   (or an older one) can never be accepted twice, even by parallel requests.
 * - verifyTotp also accepts a backup code, which is consumed.
 * - Every attempt is reserved with the lockout's code counter before a code is checked.
 */
import { authenticator, hotp } from 'otplib';
import type { Db } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
import { isUniqueViolation } from '../../kernel/db/client.js';
import type { AuthMethodKind, User } from '../../kernel/db/models.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import { authMethodSlot, newAuthMethodId } from '../auth-methods/kinds.js';
import type { BackupCodeService } from './backup-codes.js';
import type { Clock } from '../../kernel/clock.js';
import { constantTimeEqual, decryptSecret, encryptSecret } from '../../kernel/crypto.js';
import { InvalidStateError } from '../../kernel/errors.js';
import { CodeAlreadyUsedError, IncorrectCodeError } from '../codes/errors.js';
import { NoTotpError } from './errors.js';
import type { LockoutService } from '../lockout/service.js';
import type { ReauthGuard } from '../sessions/service.js';
import { createTotpStore } from './store.js';

export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;

const hotpHex = hotp.clone({ encoding: 'hex' as never, digits: TOTP_DIGITS });

/** A new random secret: 20 bytes (the HMAC-SHA1 block RFC 4226 recommends), base32. */
export function generateTotpSecret(): string {
  return authenticator.generateSecret(20);
}

/** The RFC 6238 time step that contains `at`. */
export function totpStep(at: Date): number {
  return Math.floor(at.getTime() / 1000 / TOTP_STEP_SECONDS);
}

/** The code for a base32 secret at a time step (RFC 4226 HOTP with counter = step). */
export function totpCode(secretBase32: string, step: number, digits = TOTP_DIGITS): string {
  const generator = digits === TOTP_DIGITS ? hotpHex : hotp.clone({ encoding: 'hex' as never, digits });
  return generator.generate(authenticator.decode(secretBase32), step);
}

/**
 * The time step whose code equals `code`, within `window` steps either side
 * of `now`, or null. Every candidate is computed and compared in constant
 * time, so timing does not tell which step matched.
 */
export function matchTotpStep(secretBase32: string, code: string, now: Date, window: number): number | null {
  const candidate = code.replace(/\s/g, '');
  if (!/^\d+$/.test(candidate) || candidate.length !== TOTP_DIGITS) return null;
  const current = totpStep(now);
  let matched: number | null = null;
  // Newest first, so with a (practically impossible) double match the later step wins.
  for (let delta = window; delta >= -window; delta--) {
    if (constantTimeEqual(totpCode(secretBase32, current + delta), candidate)) matched ??= current + delta;
  }
  return matched;
}

/** The otpauth:// URI authenticator apps read from the QR code. */
export function totpUri(secretBase32: string, issuer: string, accountName: string): string {
  return authenticator.keyuri(accountName, issuer, secretBase32);
}

/** Which code verifyTotp accepted, named by the AuthMethodKind it belongs to. */
export type VerifiedCodeKind = Extract<AuthMethodKind, 'TOTP' | 'BACKUP_CODES'>;

export type TotpService = ReturnType<typeof createTotpService>;

export function createTotpService(deps: {
  db: Db;
  direct: DirectSql;
  outbox: Outbox;
  clock: Clock;
  key: Buffer;
  lockout: LockoutService;
  backupCodes: BackupCodeService;
  reauth: ReauthGuard;
  config: { issuer: string; accountName: 'email' | 'username' | 'id'; window: number };
}) {
  const { db, outbox, clock, key, lockout, backupCodes, config } = deps;
  const store = createTotpStore(deps);
  const slotOf = (userId: string) => authMethodSlot(userId, 'TOTP');

  const accountNameOf = (user: User) =>
    (config.accountName === 'email' ? user.email : config.accountName === 'username' ? user.username : null) ?? user.id;

  /** Creates or replaces the pending TOTP method; refuses when a verified one exists. */
  async function savePending(userId: string, secret: string): Promise<string> {
    const existing = await db.authMethod.findUnique({ where: { slot: slotOf(userId) }, select: { id: true, verified: true } });
    if (existing?.verified) throw new InvalidStateError('The user already has a TOTP authenticator; remove it first.', 'TOTP_ACTIVE');
    if (existing) {
      if (await store.replacePendingTotpSecret(existing.id, encryptSecret(key, secret, existing.id), clock.now())) return existing.id;
      throw new InvalidStateError('The TOTP registration was completed meanwhile.', 'TOTP_ACTIVE');
    }
    const id = newAuthMethodId('TOTP');
    await store.insertPendingTotp({ id, userId, slot: slotOf(userId), secret: encryptSecret(key, secret, id), createdAt: clock.now() });
    return id;
  }

  return {
    /** Starts (or restarts) a registration: returns the secret, its URI and a QR code, once. A user needs a recent authentication. */
    async startTotpRegistration(userId: string, meta: RequestMeta): Promise<{ authMethodId: string; secret: string; uri: string; qrCode: string }> {
      await deps.reauth.assertRecentAuthentication(meta);
      const user = await lockout.assertCanAct(userId);
      const secret = generateTotpSecret();
      let authMethodId: string;
      try {
        authMethodId = await savePending(userId, secret);
      } catch (error) {
        // A parallel start created the row first: replace its secret with ours.
        if (!isUniqueViolation(error)) throw error;
        authMethodId = await savePending(userId, secret);
      }
      const uri = totpUri(secret, config.issuer, accountNameOf(user));
      const svg = await (await import('qrcode')).default.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      return { authMethodId, secret, uri, qrCode: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
    },

    /** Activates the pending TOTP method with a first valid code; that code's step counts as used. */
    async verifyTotpRegistration(userId: string, code: string, meta: RequestMeta): Promise<{ authMethodId: string }> {
      await deps.reauth.assertRecentAuthentication(meta);
      const method = await db.authMethod.findUnique({ where: { slot: slotOf(userId) } });
      if (!method?.secret) {
        await lockout.assertCanAct(userId);
        throw new NoTotpError();
      }
      if (method.verified) throw new InvalidStateError('The TOTP authenticator is already active.', 'TOTP_ACTIVE');
      const attempt = await lockout.beginAttempt(userId, 'code');
      const step = matchTotpStep(decryptSecret(key, method.secret, method.id), code, clock.now(), config.window);
      if (step === null) {
        const { attemptsBeforeLock } = await attempt.failed(meta);
        throw new IncorrectCodeError({ attemptsBeforeLock });
      }
      await attempt.succeeded();
      const secret = method.secret;
      const done = await db.$transaction(async (tx) => {
        const activated = await store.activatePendingTotp(tx, method.id, secret, step, clock.now());
        if (activated) await outbox.record(tx, { type: 'user.totp_added', userId, data: { authMethodId: method.id } }, meta);
        return activated;
      });
      if (!done) throw new InvalidStateError('The TOTP registration changed meanwhile; start again.', 'TOTP_CHANGED');
      outbox.committed();
      return { authMethodId: method.id };
    },

    /**
     * Verifies a TOTP code or a backup code. Throws UserNotFoundError,
     * NoTotpError (neither TOTP nor backup codes), IncorrectCodeError,
     * CodeAlreadyUsedError (STEP_ALREADY_USED: a replayed TOTP step; CODE_ALREADY_USED:
     * a used backup code), UserLockedError, UserInactiveError,
     * TooManyAttemptsError. `notBackupCodesOf`: backup codes minted by that
     * session count as incorrect (re-authentication of that session).
     */
    async verifyTotp(
      userId: string,
      code: string,
      meta: RequestMeta,
      options: { notBackupCodesOf?: string } = {},
    ): Promise<{ user: User; kind: VerifiedCodeKind; backupCodesRemaining: number }> {
      const methods = await store.findVerifiedCodeFactors(userId);
      const totp = methods.find((m) => m.kind === 'TOTP');
      const hasBackup = methods.some((m) => m.kind === 'BACKUP_CODES');
      if (!totp && !hasBackup) {
        await lockout.assertCanAct(userId);
        throw new NoTotpError();
      }
      const attempt = await lockout.beginAttempt(userId, 'code');
      const now = clock.now();
      const step = totp?.secret ? matchTotpStep(decryptSecret(key, totp.secret, totp.id), code, now, config.window) : null;

      if (totp && step !== null) {
        // Replay protection: the step is taken only if no later or equal one was,
        // atomically with the event and the counter's reset.
        const accepted = await attempt.succeededIf(store.takeTotpStep(totp.id, step, now), {
          event: { type: 'user.totp_verified', userId, data: { kind: 'TOTP' } },
          meta,
        });
        if (!accepted) {
          // A correct code whose step (or a later one) was already used: a replay. It counts as a failure.
          await attempt.failed(meta);
          await outbox.append({ type: 'user.totp_verification_failed', userId, data: { reason: 'replay' } }, meta);
          throw new CodeAlreadyUsedError('STEP_ALREADY_USED');
        }
        return { user: attempt.user, kind: 'TOTP', backupCodesRemaining: hasBackup ? await backupCodes.remaining(userId) : 0 };
      }

      if (hasBackup && (await backupCodes.consumeBackupCode(userId, code, options.notBackupCodesOf))) {
        await attempt.succeeded();
        const remaining = await backupCodes.remaining(userId);
        await outbox.append({ type: 'user.backup_code_used', userId, data: { remaining } }, meta);
        return { user: attempt.user, kind: 'BACKUP_CODES', backupCodesRemaining: remaining };
      }

      const { attemptsBeforeLock, locked } = await attempt.failed(meta);
      const replayedBackup = hasBackup && (await backupCodes.wasUsed(userId, code));
      await outbox.append(
        { type: 'user.totp_verification_failed', userId, data: { reason: replayedBackup ? 'backup_code_reused' : 'incorrect', attemptsBeforeLock, locked } },
        meta,
      );
      if (replayedBackup) throw new CodeAlreadyUsedError();
      throw new IncorrectCodeError({ attemptsBeforeLock });
    },
  };
}
