/**
 * The one-time codes' writes: one row per user and purpose (the unique
 * `slot`), replaced on every issue; attempts reserved by a conditional
 * increment and consumption by a conditional update, so two requests with
 * the same code cannot both succeed.
 */
import type { Db } from '../../kernel/db/client.js';
import type { OneTimeCode } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';

/** A code's row as issued (the rest is fixed: no attempts yet, not consumed). */
export interface IssuedCode {
  userId: string;
  purpose: string;
  slot: string;
  target: string | null;
  codeHash: string;
  maxAttempts: number;
  expiresAt: Date;
  createdAt: Date;
}

/** The row a code was read as: attempts and consumption apply to that very code (a replaced code has another hash). */
type ReadCode = Pick<OneTimeCode, 'id' | 'codeHash'>;

export type CodeStore = ReturnType<typeof createCodeStore>;

export function createCodeStore(deps: { db: Db }) {
  const { db } = deps;

  return {
    /** Stores a new code in its slot, replacing the previous one with fresh attempts. */
    async replaceCodeInSlot(code: IssuedCode): Promise<void> {
      const data = {
        target: code.target,
        codeHash: code.codeHash,
        attempts: 0,
        maxAttempts: code.maxAttempts,
        expiresAt: code.expiresAt,
        consumedAt: null,
        createdAt: code.createdAt,
      };
      await db.oneTimeCode.upsert({
        where: { slot: code.slot },
        create: { id: newId('OneTimeCode'), userId: code.userId, purpose: code.purpose, slot: code.slot, ...data },
        update: data,
      });
    },

    /** Reserves one attempt on this code while it is unconsumed and has attempts left; false when not. */
    async reserveCodeAttempt(code: ReadCode & Pick<OneTimeCode, 'maxAttempts'>): Promise<boolean> {
      const { count } = await db.oneTimeCode.updateMany({
        where: { id: code.id, codeHash: code.codeHash, consumedAt: null, attempts: { lt: code.maxAttempts } },
        data: { attempts: { increment: 1 } },
      });
      return count === 1;
    },

    /** Consumes this code unless it was consumed already; true when this call consumed it. */
    async consumeCodeOnce(code: ReadCode, at: Date): Promise<boolean> {
      const { count } = await db.oneTimeCode.updateMany({
        where: { id: code.id, codeHash: code.codeHash, consumedAt: null },
        data: { consumedAt: at },
      });
      return count === 1;
    },

    /** Deletes the live code in a slot, if any. */
    async deleteCodeInSlot(slot: string): Promise<void> {
      await db.oneTimeCode.deleteMany({ where: { slot } });
    },
  };
}
