/**
 * Backup codes: N single-use codes shown once. Only keyed hashes are stored
 * (HMAC under the server key, bound to the user), one BackupCode row each;
 * the BACKUP_CODES auth method (a slot singleton) says the user has them.
 *
 * Consumption is one conditional update (`where usedAt is null`), so of two
 * concurrent requests with the same code exactly one wins.
 */
import type { Db } from '../../kernel/db/client.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import { authMethodSlot, newAuthMethodId } from '../auth-methods/kinds.js';
import type { Clock } from '../../kernel/clock.js';
import { hashCode, randomReadableCode } from '../../kernel/crypto.js';
import { UserNotFoundError } from '../../kernel/errors.js';
import type { ReauthGuard } from '../sessions/service.js';
import { createBackupCodeStore } from './store.js';

const CODE_LENGTH = 10;

/** `XXXXX-XXXXX`: 10 Crockford base32 characters, 50 bits. */
export function generateBackupCode(): string {
  const raw = randomReadableCode(CODE_LENGTH);
  return `${raw.slice(0, 5)}-${raw.slice(5)}`;
}

/**
 * Canonical form of a typed code: separators and spaces dropped, upper case,
 * and Crockford's look-alikes folded (O→0, I/L→1), so a code read aloud or
 * copied by hand still matches. Null when it cannot be a backup code.
 */
export function normalizeBackupCode(input: string): string | null {
  const s = input.replace(/[\s-]/g, '').toUpperCase().replace(/O/g, '0').replace(/[IL]/g, '1');
  return /^[0-9A-HJKMNP-TV-Z]{10}$/.test(s) ? s : null;
}

export type BackupCodeService = ReturnType<typeof createBackupCodeService>;

export function createBackupCodeService(deps: { db: Db; outbox: Outbox; clock: Clock; key: Buffer; count: number; reauth: ReauthGuard }) {
  const { db, outbox, clock, key } = deps;
  const store = createBackupCodeStore(deps);
  const slotOf = (userId: string) => authMethodSlot(userId, 'BACKUP_CODES');
  const hashFor = (userId: string, normalized: string) => hashCode(key, normalized, `backup:${userId}`);

  return {
    /**
     * Replaces the user's backup codes with `count` new ones, returned in the
     * clear this once. A user doing it themselves needs a recent
     * authentication, and their codes remember the session that minted them.
     */
    async generateBackupCodes(userId: string, meta: RequestMeta): Promise<{ codes: string[]; authMethodId: string }> {
      await deps.reauth.assertRecentAuthentication(meta);
      const codes = Array.from({ length: deps.count }, generateBackupCode);
      const now = clock.now();
      const issuedToSessionId = meta.actor.type === 'user' ? (meta.actor.sessionId ?? null) : null;
      const authMethodId = await outbox.transaction(async (tx) => {
        const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
        if (!user) throw new UserNotFoundError(userId);
        // Earlier codes stop working in the same transaction that creates the new ones.
        await store.replaceBackupCodes(
          tx,
          userId,
          codes.map((c) => ({ codeHash: hashFor(userId, normalizeBackupCode(c)!), issuedToSessionId })),
          now,
        );
        const methodId = await store.upsertBackupCodesMethod(tx, { id: newAuthMethodId('BACKUP_CODES'), userId, slot: slotOf(userId) }, now);
        await outbox.record(tx, { type: 'user.backup_codes_generated', userId, data: { count: codes.length, authMethodId: methodId } }, meta);
        return methodId;
      });
      return { codes, authMethodId };
    },

    /** Unused codes left. */
    remaining(userId: string): Promise<number> {
      return store.countUnusedBackupCodes(userId);
    },

    /**
     * Consumes a code: true when it was unused and is now used. The lookup is
     * by keyed hash, so the database comparison reveals nothing about the code.
     * `notIssuedTo`: a code minted by that session does not count (it cannot
     * re-authenticate the session that minted it).
     */
    async consumeBackupCode(userId: string, code: string, notIssuedTo?: string): Promise<boolean> {
      const normalized = normalizeBackupCode(code);
      if (!normalized) return false;
      return store.useBackupCodeOnce(userId, hashFor(userId, normalized), slotOf(userId), clock.now(), notIssuedTo);
    },

    /** True when this code was issued to the user and already used (for a precise error). */
    async wasUsed(userId: string, code: string): Promise<boolean> {
      const normalized = normalizeBackupCode(code);
      if (!normalized) return false;
      const row = await db.backupCode.findFirst({ where: { userId, codeHash: hashFor(userId, normalized) }, select: { usedAt: true } });
      return row?.usedAt != null;
    },
  };
}
