/**
 * The webhooks module's SQL: apps (WebhookApp), deliveries (WebhookDelivery)
 * and their attempts (WebhookAttempt). The service and the dispatcher decide
 * what to write and when; the conditional writes here are what keep racing
 * instances apart (one claim per attempt, one rotation per read secret, one
 * delivery per app and event).
 */
import { Prisma, isUniqueViolation, type Db, type Tx } from '../../kernel/db/client.js';
import type { WebhookApp, WebhookDelivery } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';

/** A delivery to insert (its id is given here). */
export interface NewDelivery {
  appId: string;
  eventId: string;
  eventType: string;
  payload: object;
  status: 'PENDING';
  nextAttemptAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

/** The columns an app update may write; absent ones are left alone. */
export type WebhookAppChanges = Partial<Pick<WebhookApp, 'name' | 'url' | 'enabled' | 'disabledReason'>> & { eventTypes?: string[]; updatedAt: Date };

/** What the audit trail needs of an app. */
export type AuditedAppColumns = Pick<WebhookApp, 'id' | 'name' | 'url' | 'enabled' | 'eventTypes'>;

export type WebhookStore = ReturnType<typeof createWebhookStore>;

/** The delivery statuses, in the order a delivery moves through them. */
export const deliveryStatuses = ['PENDING', 'SUCCEEDED', 'FAILED'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

/** Which deliveries a list shows: each given part must match; a list matches any of its values (wire event types). */
export interface DeliveryFilter {
  status?: readonly DeliveryStatus[] | null;
  eventTypes?: readonly string[] | null;
}

/** The `where` of a delivery list (WebhookApp.deliveries and the portal's list share it). */
export function deliveryFilterWhere(filter: DeliveryFilter | null | undefined): Prisma.WebhookDeliveryWhereInput {
  const where: Prisma.WebhookDeliveryWhereInput = {};
  if (filter?.status?.length) where.status = { in: [...filter.status] };
  if (filter?.eventTypes?.length) where.eventType = { in: [...filter.eventTypes] };
  return where;
}

export function createWebhookStore(deps: { db: Db }) {
  const { db } = deps;
  return {
    // ── Apps ──

    insertWebhookApp(tx: Tx, row: { id: string; name: string; url: string; eventTypes: string[]; secretEncrypted: string; now: Date }): Promise<WebhookApp> {
      return tx.webhookApp.create({
        data: { id: row.id, name: row.name, url: row.url, eventTypes: row.eventTypes, secretEncrypted: row.secretEncrypted, createdAt: row.now, updatedAt: row.now },
      });
    },

    /** Writes the changes; returns the app as written, or null when there is none. */
    async updateWebhookApp(tx: Tx, id: string, changes: WebhookAppChanges): Promise<WebhookApp | null> {
      const { count } = await tx.webhookApp.updateMany({ where: { id }, data: changes });
      if (count === 0) return null;
      return tx.webhookApp.findUniqueOrThrow({ where: { id } });
    },

    /** Deletes an app; its deliveries and their attempts go with it (cascade). False when there was none. */
    async deleteWebhookApp(tx: Tx, id: string): Promise<boolean> {
      const { count } = await tx.webhookApp.deleteMany({ where: { id } });
      return count > 0;
    },

    /**
     * Replaces the app's secret, conditional on the current one still being
     * `expectedSecretEncrypted` (the one the caller read), so two concurrent
     * rotations cannot lose one another's grace. False when it was not.
     */
    async replaceWebhookAppSecret(
      tx: Tx,
      id: string,
      rotation: { expectedSecretEncrypted: string; secretEncrypted: string; previousSecretEncrypted: string | null; previousSecretExpiresAt: Date | null; now: Date },
    ): Promise<boolean> {
      const { count } = await tx.webhookApp.updateMany({
        where: { id, secretEncrypted: rotation.expectedSecretEncrypted },
        data: {
          secretEncrypted: rotation.secretEncrypted,
          previousSecretEncrypted: rotation.previousSecretEncrypted,
          previousSecretExpiresAt: rotation.previousSecretExpiresAt,
          updatedAt: rotation.now,
        },
      });
      return count === 1;
    },

    /**
     * Disables an enabled app, inside the caller's transaction; returns what
     * the audit trail needs, or null when it was disabled (or deleted) already.
     */
    async disableWebhookApp(tx: Tx, id: string, reason: string, now: Date): Promise<AuditedAppColumns | null> {
      const { count } = await tx.webhookApp.updateMany({ where: { id, enabled: true }, data: { enabled: false, disabledReason: reason, updatedAt: now } });
      if (count === 0) return null;
      return tx.webhookApp.findUniqueOrThrow({ where: { id }, select: { id: true, name: true, url: true, enabled: true, eventTypes: true } });
    },

    /** The enabled apps and the event types each wants: fan-out's working set. */
    findEnabledApps(): Promise<Array<Pick<WebhookApp, 'id' | 'eventTypes'>>> {
      return db.$queryRaw<Array<Pick<WebhookApp, 'id' | 'eventTypes'>>>(Prisma.sql`SELECT "id", "eventTypes" FROM "WebhookApp" WHERE "enabled"`);
    },

    /** Apps by state, for the metrics: enabled, paused (by an admin), disabled (after failing deliveries). */
    async countAppsByState(): Promise<{ enabled: number; paused: number; disabled: number }> {
      const [enabled, paused, disabled] = await Promise.all([
        db.webhookApp.count({ where: { enabled: true } }),
        db.webhookApp.count({ where: { enabled: false, disabledReason: null } }),
        db.webhookApp.count({ where: { enabled: false, disabledReason: { not: null } } }),
      ]);
      return { enabled, paused, disabled };
    },

    // ── Deliveries ──

    /** Deliveries waiting for an attempt, those of paused and disabled apps included, for the metrics. */
    countPendingDeliveries(): Promise<number> {
      return db.webhookDelivery.count({ where: { status: 'PENDING' } });
    },

    /** Inserts a delivery inside the caller's transaction (for an event recorded in that same transaction). */
    insertDelivery(tx: Tx, row: NewDelivery): Promise<WebhookDelivery> {
      return tx.webhookDelivery.create({ data: { id: newId('WebhookDelivery'), ...row } });
    },

    /**
     * Inserts a delivery unless the (app, event) pair has one already (the
     * unique key decides, so racing inserts agree); true when it inserted.
     * Outside any transaction: on PostgreSQL the unique violation would abort
     * the transaction it happened in.
     */
    async insertDeliveryIfAbsent(row: NewDelivery): Promise<boolean> {
      try {
        await db.webhookDelivery.create({ data: { id: newId('WebhookDelivery'), ...row } });
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    /** Makes a delivery due again now, whatever its status; false when there is none. */
    async requeueDelivery(id: string, now: Date): Promise<boolean> {
      const { count } = await db.webhookDelivery.updateMany({ where: { id }, data: { status: 'PENDING', nextAttemptAt: now, updatedAt: now } });
      return count > 0;
    },

    /** Up to `limit` pending deliveries of enabled apps due at `now`, the longest-waiting first. */
    findDueDeliveries(now: Date, limit: number): Promise<WebhookDelivery[]> {
      return db.webhookDelivery.findMany({
        where: { status: 'PENDING', nextAttemptAt: { lte: now }, app: { enabled: true } },
        orderBy: { nextAttemptAt: 'asc' },
        take: limit,
      });
    },

    /**
     * Takes a due delivery for this instance's next attempt: counts the
     * attempt and pushes nextAttemptAt to `claimUntil`, conditional on the
     * delivery being as it was read (pending, due, same attempt count). False
     * when another instance (or pass) took it first.
     */
    async claimDueDelivery(delivery: Pick<WebhookDelivery, 'id' | 'attempts'>, now: Date, claimUntil: Date): Promise<boolean> {
      const { count } = await db.webhookDelivery.updateMany({
        where: { id: delivery.id, status: 'PENDING', attempts: delivery.attempts, nextAttemptAt: { lte: now } },
        data: { attempts: delivery.attempts + 1, nextAttemptAt: claimUntil, updatedAt: now },
      });
      return count === 1;
    },

    /** Records an attempt and the delivery's resulting state, together (one transaction). */
    async recordDeliveryAttempt(
      deliveryId: string,
      attempt: { attemptedAt: Date; statusCode: number | null; latencyMs: number | null; error: string | null },
      outcome: { status: 'SUCCEEDED' | 'FAILED' | 'PENDING'; nextAttemptAt: Date | null; now: Date },
    ): Promise<void> {
      await db.$transaction([
        db.webhookAttempt.create({ data: { id: newId('WebhookAttempt'), deliveryId, ...attempt } }),
        db.webhookDelivery.updateMany({
          where: { id: deliveryId },
          data: {
            status: outcome.status,
            nextAttemptAt: outcome.nextAttemptAt,
            lastStatusCode: attempt.statusCode,
            lastError: attempt.error,
            lastLatencyMs: attempt.latencyMs,
            updatedAt: outcome.now,
          },
        }),
      ]);
    },
  };
}
