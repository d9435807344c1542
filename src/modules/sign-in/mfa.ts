/**
 * MFA step-up challenges: after a correct password, a user with a second
 * factor gets an mfaToken instead of a session. The token is random (256
 * bits), stored as a SHA-256 hash, lives config.tokens.mfaTtlSeconds, and is
 * consumed by a conditional update, so one password check buys at most one
 * session. Wrong codes do not burn it (the lockout's code counter limits
 * guesses), so a typo does not force a new password entry.
 */
import type { Db } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
import type { AuthMethodKind } from '../../kernel/db/models.js';
import { randomSecret } from '../../kernel/ids.js';
import type { Clock } from '../../kernel/clock.js';
import { CodeAlreadyUsedError, CodeExpiredError } from '../codes/errors.js';
import { InvalidTokenError } from '../sessions/errors.js';
import type { SessionDevice } from '../sessions/service.js';
import { tokenHash } from '../../kernel/crypto.js';
import { createSignInStatements, createSignInStore } from './store.js';

/**
 * How a user may finish an MFA login, named by the AuthMethodKind of the
 * factor (one vocabulary): a security key (U2F) is answered as PASSKEY.
 */
export type MfaMethod = Extract<AuthMethodKind, 'TOTP' | 'BACKUP_CODES' | 'OTP_SMS' | 'OTP_EMAIL' | 'PASSKEY'>;
/** Every method, preferred first. */
const MFA_METHODS: readonly MfaMethod[] = ['TOTP', 'PASSKEY', 'OTP_SMS', 'OTP_EMAIL', 'BACKUP_CODES'];

/** Second factors that make a login ask for MFA (backup codes alone do not: they back up a factor). */
export const SECOND_FACTORS: readonly AuthMethodKind[] = ['TOTP', 'OTP_SMS', 'OTP_EMAIL', 'PASSKEY', 'U2F'];
const METHOD_OF: Partial<Record<AuthMethodKind, MfaMethod>> = { TOTP: 'TOTP', OTP_SMS: 'OTP_SMS', OTP_EMAIL: 'OTP_EMAIL', PASSKEY: 'PASSKEY', U2F: 'PASSKEY' };

const TOKEN_PREFIX = 'pcm_';

export interface MfaChallengeInfo {
  challengeId: string;
  userId: string;
  device: SessionDevice;
  /** The organization login asked to sign in to. */
  organizationId: string | null;
  expiresAt: Date;
}

export type MfaService = ReturnType<typeof createMfaService>;

export function createMfaService(deps: { db: Db; direct: DirectSql; clock: Clock; ttlSeconds: number }) {
  const { db, clock, ttlSeconds } = deps;
  const store = createSignInStore(deps);
  const statements = createSignInStatements(deps.direct);
  const FACTOR_KINDS: readonly AuthMethodKind[] = [...SECOND_FACTORS, 'BACKUP_CODES'];

  /** Finds a live challenge; throws InvalidTokenError, CodeExpiredError or CodeAlreadyUsedError. */
  async function findLive(mfaToken: string) {
    const row = mfaToken.startsWith(TOKEN_PREFIX) ? await db.mfaChallenge.findUnique({ where: { tokenHash: tokenHash(mfaToken) } }) : null;
    if (!row) throw new InvalidTokenError('MFA token');
    if (row.consumedAt) throw new CodeAlreadyUsedError();
    if (row.expiresAt <= clock.now()) throw new CodeExpiredError();
    return row;
  }

  const info = (row: Awaited<ReturnType<typeof findLive>>): MfaChallengeInfo => ({
    challengeId: row.id,
    userId: row.userId,
    device: { name: row.device, ip: row.ip, userAgent: row.userAgent },
    organizationId: row.organizationId,
    expiresAt: row.expiresAt,
  });

  return {
    /** The methods this user can finish an MFA login with; empty when the user has no second factor. */
    async availableMethods(userId: string): Promise<MfaMethod[]> {
      // Every sign-in asks: straight to the driver.
      const kinds = await statements.verifiedKinds(userId, FACTOR_KINDS);
      const found = new Set<MfaMethod>();
      for (const kind of kinds) {
        const method = METHOD_OF[kind];
        if (method) found.add(method);
      }
      if (found.size === 0) return [];
      if (kinds.includes('BACKUP_CODES')) {
        const left = await db.backupCode.count({ where: { userId, usedAt: null } });
        if (left > 0) found.add('BACKUP_CODES');
      }
      // Preferred first: MFA_METHODS is in that order.
      return MFA_METHODS.filter((m) => found.has(m));
    },

    /** Starts a step-up after a correct password; returns the token in the clear, once. */
    async createChallenge(userId: string, device: SessionDevice, organizationId: string | null = null): Promise<{ mfaToken: string; expiresAt: Date }> {
      const now = clock.now();
      const mfaToken = `${TOKEN_PREFIX}${randomSecret(32)}`;
      const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
      await store.insertMfaChallenge({
        userId,
        tokenHash: tokenHash(mfaToken),
        device: device.name ?? null,
        ip: device.ip ?? null,
        userAgent: device.userAgent ?? null,
        organizationId,
        expiresAt,
        createdAt: now,
      });
      return { mfaToken, expiresAt };
    },

    /** The live challenge a token names, without consuming it (to send a code, or before checking one). */
    async peekChallenge(mfaToken: string): Promise<MfaChallengeInfo> {
      return info(await findLive(mfaToken));
    },

    /**
     * Consumes a challenge after its second factor was checked. Of two
     * requests racing with the same token, exactly one gets it; the other
     * gets CodeAlreadyUsedError.
     */
    async consumeChallenge(mfaToken: string): Promise<MfaChallengeInfo> {
      const row = await findLive(mfaToken);
      if (!(await store.consumeMfaChallengeIfLive(row.id, clock.now()))) throw new CodeAlreadyUsedError();
      return info(row);
    },
  };
}
