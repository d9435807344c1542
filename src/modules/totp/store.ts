/**
 * The TOTP module's SQL: the TOTP auth method (pending, active, the last
 * accepted step in `counter`) and the backup codes. The reads and the step
 * taking run on every code check, so they go straight to the driver
 * (src/kernel/db/direct.ts explains why).
 */
import type { Db, Tx } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
import { newId } from '../../kernel/ids.js';
import type { ConditionalWrite } from '../lockout/service.js';

/** A user's verified second-factor methods that verifyTotp accepts a code for. */
export interface CodeFactor {
  id: string;
  kind: 'TOTP' | 'BACKUP_CODES';
  secret: string | null;
}

export type TotpStore = ReturnType<typeof createTotpStore>;

export function createTotpStore(deps: { db: Db; direct: DirectSql }) {
  const { db, direct } = deps;

  return {
    /** The verified TOTP and backup-code methods of a user. */
    findVerifiedCodeFactors(userId: string): Promise<CodeFactor[]> {
      // Straight to the driver, like the reservation: this read starts every check.
      return direct.all<CodeFactor>(
        `SELECT "id", "kind", "secret" FROM "AuthMethod" WHERE "userId" = ? AND "kind" IN ('TOTP', 'BACKUP_CODES') AND "verified"`,
        [userId],
      );
    },

    /**
     * Takes time step `step` of a TOTP method, only if no later or equal one
     * was taken: the statement for the lockout to run with the attempt's
     * success (Attempt.succeededIf), so that a code (or an older one) can
     * never be accepted twice, even by parallel requests.
     */
    takeTotpStep(methodId: string, step: number, at: Date): ConditionalWrite {
      return {
        sql: 'UPDATE "AuthMethod" SET "counter" = ?, "lastUsedAt" = ?, "updatedAt" = ? WHERE "id" = ? AND ("counter" IS NULL OR "counter" < ?)',
        params: [step, at, at, methodId, step],
      } as ConditionalWrite;
    },

    /** Inserts a pending (unverified) TOTP method with its encrypted secret. */
    async insertPendingTotp(method: { id: string; userId: string; slot: string; secret: string; createdAt: Date }): Promise<void> {
      await db.authMethod.create({ data: { ...method, kind: 'TOTP', verified: false } });
    },

    /** Replaces the secret of a method while it is still pending; false when it was verified meanwhile. */
    async replacePendingTotpSecret(id: string, secret: string, at: Date): Promise<boolean> {
      const { count } = await db.authMethod.updateMany({
        where: { id, verified: false },
        data: { secret, counter: null, updatedAt: at },
      });
      return count === 1;
    },

    /**
     * Activates a pending method whose secret is still `secret` (inside the
     * caller's transaction); `step`, the step of the code that activated it,
     * counts as used. False when the registration changed meanwhile.
     */
    async activatePendingTotp(tx: Tx, id: string, secret: string, step: number, at: Date): Promise<boolean> {
      const { count } = await tx.authMethod.updateMany({
        where: { id, verified: false, secret },
        data: { verified: true, verifiedAt: at, counter: step, lastUsedAt: at },
      });
      return count === 1;
    },
  };
}

/** A new backup code's stored form. */
export interface NewBackupCode {
  codeHash: string;
  issuedToSessionId: string | null;
}

export type BackupCodeStore = ReturnType<typeof createBackupCodeStore>;

export function createBackupCodeStore(deps: { db: Db }) {
  const { db } = deps;

  return {
    /**
     * Replaces every backup code of a user with `codes` (inside the caller's
     * transaction): earlier codes stop working in the same transaction that
     * creates the new ones.
     */
    async replaceBackupCodes(tx: Tx, userId: string, codes: NewBackupCode[], at: Date): Promise<void> {
      await tx.backupCode.deleteMany({ where: { userId } });
      await tx.backupCode.createMany({
        data: codes.map((c) => ({ id: newId('BackupCode'), userId, codeHash: c.codeHash, issuedToSessionId: c.issuedToSessionId, createdAt: at })),
      });
    },

    /** Creates the user's BACKUP_CODES method, or marks the existing one renewed (never used since); returns its id. */
    async upsertBackupCodesMethod(tx: Tx, method: { id: string; userId: string; slot: string }, at: Date): Promise<string> {
      const row = await tx.authMethod.upsert({
        where: { slot: method.slot },
        create: { ...method, kind: 'BACKUP_CODES', verified: true, createdAt: at },
        update: { updatedAt: at, lastUsedAt: null },
      });
      return row.id;
    },

    /** Unused codes a user has left. */
    countUnusedBackupCodes(userId: string): Promise<number> {
      return db.backupCode.count({ where: { userId, usedAt: null } });
    },

    /**
     * Marks the unused code with this hash used, and stamps the user's
     * BACKUP_CODES method (in `methodSlot`) as used; true when this call used
     * it. One conditional update (`where usedAt is null`), so of two
     * concurrent requests with the same code exactly one wins.
     * `notIssuedTo`: a code minted by that session does not qualify.
     */
    async useBackupCodeOnce(userId: string, codeHash: string, methodSlot: string, at: Date, notIssuedTo?: string): Promise<boolean> {
      const { count } = await db.backupCode.updateMany({
        where: {
          userId,
          codeHash,
          usedAt: null,
          ...(notIssuedTo ? { OR: [{ issuedToSessionId: null }, { issuedToSessionId: { not: notIssuedTo } }] } : {}),
        },
        data: { usedAt: at },
      });
      if (count === 1) await db.authMethod.updateMany({ where: { slot: methodSlot }, data: { lastUsedAt: at } });
      return count === 1;
    },
  };
}
