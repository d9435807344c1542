/**
 * The webhook portal's SQL: its links (WebhookPortalLink) and the reads its
 * page makes of apps and deliveries. Opening a link is one conditional
 * update, so of two visits racing with one token exactly one gets a session.
 */
import type { Db, Tx } from '../../kernel/db/client.js';
import type { WebhookApp, WebhookAttempt, WebhookDelivery, WebhookPortalLink } from '../../kernel/db/models.js';
import { deliveryFilterWhere, type DeliveryFilter } from './store.js';

export type PortalDelivery = WebhookDelivery & { attemptLog: WebhookAttempt[] };

export type PortalStore = ReturnType<typeof createPortalStore>;

export function createPortalStore(deps: { db: Db }) {
  const { db } = deps;
  return {
    insertPortalLink(tx: Tx, row: { id: string; tokenHash: string; appIds: string[]; expiresAt: Date; now: Date }): Promise<WebhookPortalLink> {
      return tx.webhookPortalLink.create({ data: { id: row.id, tokenHash: row.tokenHash, appIds: row.appIds, expiresAt: row.expiresAt, createdAt: row.now } });
    },

    /**
     * Uses the link of this token hash, if it is unused and unexpired at
     * `now`, and gives it its session; returns the link as written, or null
     * when it was not (used already, expired, or unknown).
     */
    async openPortalLink(tx: Tx, tokenHash: string, now: Date, session: { sessionHash: string; sessionExpiresAt: Date }): Promise<WebhookPortalLink | null> {
      const { count } = await tx.webhookPortalLink.updateMany({
        where: { tokenHash, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now, sessionHash: session.sessionHash, sessionExpiresAt: session.sessionExpiresAt },
      });
      if (count === 0) return null;
      return tx.webhookPortalLink.findUniqueOrThrow({ where: { tokenHash } });
    },

    findPortalLinkByTokenHash(tokenHash: string): Promise<WebhookPortalLink | null> {
      return db.webhookPortalLink.findUnique({ where: { tokenHash } });
    },

    findPortalLinkBySessionHash(sessionHash: string): Promise<WebhookPortalLink | null> {
      return db.webhookPortalLink.findUnique({ where: { sessionHash } });
    },

    /** The apps among `ids` that exist, in creation order. */
    findAppsByIds(ids: readonly string[]): Promise<WebhookApp[]> {
      return db.webhookApp.findMany({ where: { id: { in: [...ids] } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    },

    /** One app's latest deliveries (newest first), each with its latest attempts (oldest first). */
    async findRecentDeliveries(appId: string, filter: DeliveryFilter, limit: number, attempts: number): Promise<PortalDelivery[]> {
      const rows = await db.webhookDelivery.findMany({
        where: { ...deliveryFilterWhere(filter), appId },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit,
        include: { attemptLog: { orderBy: [{ attemptedAt: 'desc' }, { id: 'desc' }], take: attempts } },
      });
      return rows.map((row) => ({ ...row, attemptLog: row.attemptLog.reverse() }));
    },

    /** The delivery with its latest attempts, or null. */
    async findDelivery(id: string, attempts: number): Promise<PortalDelivery | null> {
      const row = await db.webhookDelivery.findUnique({
        where: { id },
        include: { attemptLog: { orderBy: [{ attemptedAt: 'desc' }, { id: 'desc' }], take: attempts } },
      });
      return row && { ...row, attemptLog: row.attemptLog.reverse() };
    },
  };
}
