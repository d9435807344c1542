/**
 * A lease in SystemState: at most one instance at a time holds it (the one
 * that fans events out to webhooks, publishes to a shared pub/sub and prunes
 * the log). Taking it over is a compare-and-set on the row's value, so two
 * instances cannot both win; a holder that dies loses it after `ttlMs`.
 */
import { randomUUID } from 'node:crypto';
import { Prisma, isUniqueViolation, type Db } from '../db/client.js';
import type { Clock } from '../clock.js';

interface LeaseValue {
  owner: string;
  expiresAt: number;
}

export type Lease = ReturnType<typeof createLease>;

export function createLease(deps: { db: Db; clock: Clock; key: string; ttlMs?: number; owner?: string }) {
  const { db, clock, key } = deps;
  const ttlMs = deps.ttlMs ?? 10_000;
  const owner = deps.owner ?? randomUUID();
  let heldUntil = 0;

  const encode = (expiresAt: number) => JSON.stringify({ owner, expiresAt } satisfies LeaseValue);

  /** Takes or renews the lease; true while this instance holds it. */
  async function hold(): Promise<boolean> {
    const now = clock.now().getTime();
    // Renew only past half of the term: one write per ttl/2, not per tick.
    if (heldUntil - now > ttlMs / 2) return true;
    const row = await db.systemState.findUnique({ where: { key } });
    if (!row) {
      try {
        await db.systemState.create({ data: { key, value: encode(now + ttlMs) } });
        heldUntil = now + ttlMs;
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    }
    let current: LeaseValue;
    try {
      current = JSON.parse(row.value) as LeaseValue;
    } catch {
      current = { owner: '', expiresAt: 0 };
    }
    if (current.owner !== owner && current.expiresAt > now) {
      heldUntil = 0;
      return false;
    }
    const { count } = await db.systemState.updateMany({ where: { key, value: row.value }, data: { value: encode(now + ttlMs) } });
    heldUntil = count === 1 ? now + ttlMs : 0;
    return count === 1;
  }

  /** Gives the lease up (clean shutdown), so another instance need not wait for it to expire. */
  async function release(): Promise<void> {
    if (heldUntil === 0) return;
    heldUntil = 0;
    const row = await db.systemState.findUnique({ where: { key } });
    if (row && (JSON.parse(row.value) as LeaseValue).owner === owner) {
      await db.systemState.updateMany({ where: { key, value: row.value }, data: { value: JSON.stringify({ owner: '', expiresAt: 0 }) } });
    }
  }

  return { hold, release, owner };
}

/** A number kept in SystemState (the relay's webhook position survives restarts). */
export async function readStateNumber(db: Db, key: string): Promise<number | undefined> {
  const row = await db.systemState.findUnique({ where: { key } });
  return row ? Number(row.value) : undefined;
}

export async function writeStateNumber(db: Db, key: string, value: number, now: Date): Promise<void> {
  // Plain SQL: Prisma's upsert compiles a larger statement for the same effect.
  await db.$executeRaw(Prisma.sql`
    INSERT INTO "SystemState" ("key", "value", "updatedAt") VALUES (${key}, ${String(value)}, ${now})
    ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value", "updatedAt" = excluded."updatedAt"`);
}
