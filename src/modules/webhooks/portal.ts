/**
 * The webhook portal: a page the gateway serves to someone who holds a link,
 * like Svix's dashboard link in Clerk. An API key creates the link for some
 * webhook apps; its holder sees those apps' endpoints and deliveries, retries
 * a delivery, sends a test event and rotates the secret, and nothing else.
 *
 * The link's token is single-use: the first visit exchanges it for a session
 * (a cookie) that lasts SESSION_SECONDS, so the page's own requests never
 * carry the token, and a second visit, or any visit after the link's expiry,
 * opens nothing. Token and session are random, stored only as SHA-256.
 *
 * Every action checks its app against the link's apps here, so no page
 * handler can forget to; an app outside them is "not found", as if it did
 * not exist. Retries, tests and rotations are the webhook service's own.
 */
import type { Db } from '../../kernel/db/client.js';
import type { WebhookApp } from '../../kernel/db/models.js';
import type { Clock } from '../../kernel/clock.js';
import { tokenHash } from '../../kernel/crypto.js';
import { InvalidInputError, NotFoundError } from '../../kernel/errors.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import { newId, randomSecret } from '../../kernel/ids.js';
import { eventTypes, isEventType, type Outbox } from '../catalog.js';
import type { WebhookService } from './service.js';
import { createPortalStore, type PortalDelivery } from './portal.store.js';
import { deliveryStatuses, type DeliveryStatus } from './store.js';

/** Where the gateway serves the portal (its page, its JSON API, and the links' landing path). */
export const PORTAL_PATH = '/webhook-portal';
/** How long the session a link opens lasts, from the first visit: long enough to look into a failure, short enough to leave nothing lying around. */
export const SESSION_SECONDS = 3600;
export const LINK_SECONDS = { default: 3600, min: 60, max: 604_800 } as const;
/** Apps one link may name. */
export const MAX_LINK_APPS = 50;
/** Deliveries the page lists at most, and attempts it shows of each. */
const MAX_DELIVERIES = 100;
const ATTEMPTS_SHOWN = 10;

const LINK_TOKEN = /^whp_[A-Za-z0-9_-]{43}$/;
const SESSION_TOKEN = /^whs_[A-Za-z0-9_-]{43}$/;

/** What the holder of an open portal session may reach. */
export interface PortalSession {
  linkId: string;
  appIds: string[];
  expiresAt: Date;
}

/** Who is at the other end of a portal request, for the audit trail. */
export interface PortalClient {
  ip?: string;
  userAgent?: string;
}

export type OpenedLink =
  | { status: 'opened'; session: string; sessionExpiresAt: Date }
  | { status: 'used'; usedAt: Date }
  | { status: 'expired'; expiresAt: Date }
  | { status: 'unknown' };

/** An app as the portal shows it: the endpoint, never the secret. */
function appView(app: WebhookApp) {
  return {
    id: app.id,
    name: app.name,
    url: app.url,
    enabled: app.enabled,
    disabledReason: app.disabledReason,
    /** Wire types; empty: all. */
    eventTypes: (app.eventTypes as string[] | null) ?? [],
  };
}

/** A delivery as the portal shows it: its state and attempts, not its payload. */
function deliveryView(d: PortalDelivery) {
  return {
    id: d.id,
    appId: d.appId,
    eventId: d.eventId,
    eventType: d.eventType,
    status: d.status,
    attempts: d.attempts,
    responseStatus: d.lastStatusCode,
    latencyMs: d.lastLatencyMs,
    error: d.lastError,
    nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    attemptLog: d.attemptLog.map((a) => ({ attemptedAt: a.attemptedAt.toISOString(), responseStatus: a.statusCode, latencyMs: a.latencyMs, error: a.error })),
  };
}

export type PortalApp = ReturnType<typeof appView>;
export type PortalDeliveryView = ReturnType<typeof deliveryView>;

export interface WebhookPortalDeps {
  db: Db;
  clock: Clock;
  outbox: Outbox;
  webhooks: Pick<WebhookService, 'retryWebhookDelivery' | 'testWebhookApp' | 'rotateWebhookAppSecret'>;
  /** The gateway's public address (no trailing slash): links start with it. */
  publicUrl: string;
}

export type WebhookPortalService = ReturnType<typeof createWebhookPortalService>;

export function createWebhookPortalService(deps: WebhookPortalDeps) {
  const { db, clock, outbox, webhooks, publicUrl } = deps;
  const store = createPortalStore({ db });

  /** The session's app, or "not found" when it is not one of the link's (or no longer exists). */
  async function appOf(session: PortalSession, appId: string): Promise<WebhookApp> {
    if (!session.appIds.includes(appId)) throw new NotFoundError('webhook app');
    const [app] = await store.findAppsByIds([appId]);
    if (!app) throw new NotFoundError('webhook app');
    return app;
  }

  /** What the portal's actions record as their cause: the link, and the client's address. */
  const metaOf = (session: PortalSession, client: PortalClient): RequestMeta => ({
    actor: { type: 'webhook_portal', id: session.linkId },
    ip: client.ip,
    userAgent: client.userAgent,
  });

  return {
    /** Where links point (PORTCULLIS_PUBLIC_URL, or http://HOST:PORT). */
    publicUrl,

    /** A single-use link to the portal for these apps; the URL (holding the token) is returned once and never stored. */
    async createLink(input: { webhookAppIds: readonly string[]; expiresInSeconds?: number | null }, meta: RequestMeta) {
      const appIds = [...new Set(input.webhookAppIds.map((id) => id.trim()))];
      if (appIds.length === 0) throw new InvalidInputError('webhookAppIds', 'Name at least one webhook app.');
      if (appIds.length > MAX_LINK_APPS) throw new InvalidInputError('webhookAppIds', `A link names at most ${MAX_LINK_APPS} webhook apps.`);
      const seconds = input.expiresInSeconds ?? LINK_SECONDS.default;
      if (!Number.isInteger(seconds) || seconds < LINK_SECONDS.min || seconds > LINK_SECONDS.max) {
        throw new InvalidInputError('expiresInSeconds', `expiresInSeconds must be from ${LINK_SECONDS.min} to ${LINK_SECONDS.max} (7 days).`);
      }
      const found = new Set((await store.findAppsByIds(appIds)).map((a) => a.id));
      const missing = appIds.find((id) => !found.has(id));
      if (missing !== undefined) throw new InvalidInputError('webhookAppIds', `No webhook app has the id ${JSON.stringify(missing.slice(0, 100))}.`);
      const token = `whp_${randomSecret(32)}`;
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + seconds * 1000);
      const id = newId('WebhookPortalLink');
      await outbox.transaction(async (tx) => {
        await store.insertPortalLink(tx, { id, tokenHash: tokenHash(token), appIds, expiresAt, now });
        await outbox.record(tx, { type: 'webhook_portal.link_created', data: { linkId: id, appIds, expiresAt: expiresAt.toISOString() } }, meta);
      });
      return { id, url: `${publicUrl}${PORTAL_PATH}/open?token=${token}`, expiresAt, appIds };
    },

    /**
     * Uses a link: the first visit before its expiry gets a new session;
     * every other visit gets nothing, and learns why (used, expired, unknown).
     */
    async openLink(token: string, client: PortalClient): Promise<OpenedLink> {
      if (!LINK_TOKEN.test(token)) return { status: 'unknown' };
      const hash = tokenHash(token);
      const session = `whs_${randomSecret(32)}`;
      const now = clock.now();
      const sessionExpiresAt = new Date(now.getTime() + SESSION_SECONDS * 1000);
      const opened = await outbox.transaction(async (tx) => {
        const link = await store.openPortalLink(tx, hash, now, { sessionHash: tokenHash(session), sessionExpiresAt });
        if (!link) return null;
        const appIds = link.appIds as string[];
        const meta = { actor: { type: 'webhook_portal' as const, id: link.id }, ip: client.ip, userAgent: client.userAgent };
        await outbox.record(tx, { type: 'webhook_portal.link_used', data: { linkId: link.id, appIds, sessionExpiresAt: sessionExpiresAt.toISOString() } }, meta);
        return link;
      });
      if (opened) return { status: 'opened', session, sessionExpiresAt };
      const link = await store.findPortalLinkByTokenHash(hash);
      if (!link) return { status: 'unknown' };
      if (link.usedAt) return { status: 'used', usedAt: link.usedAt };
      return { status: 'expired', expiresAt: link.expiresAt };
    },

    /** The open session of this cookie value, or null (none, or ended). */
    async session(value: string | undefined): Promise<PortalSession | null> {
      if (!value || !SESSION_TOKEN.test(value)) return null;
      const link = await store.findPortalLinkBySessionHash(tokenHash(value));
      if (!link?.sessionExpiresAt || link.sessionExpiresAt <= clock.now()) return null;
      return { linkId: link.id, appIds: link.appIds as string[], expiresAt: link.sessionExpiresAt };
    },

    /** The link's apps that still exist, and the event types a delivery list can be filtered by. */
    async overview(session: PortalSession) {
      const apps = await store.findAppsByIds(session.appIds);
      return { expiresAt: session.expiresAt.toISOString(), apps: apps.map(appView), eventTypes: [...eventTypes] };
    },

    /** One app's latest deliveries, newest first, optionally of one status and event type (wire name). */
    async deliveries(session: PortalSession, appId: string, filter: { status?: string | null; eventType?: string | null; limit?: number | null }) {
      await appOf(session, appId);
      if (filter.status && !deliveryStatuses.includes(filter.status as DeliveryStatus)) {
        throw new InvalidInputError('status', `status must be one of ${deliveryStatuses.join(', ')}.`);
      }
      if (filter.eventType && !isEventType(filter.eventType)) throw new InvalidInputError('eventType', 'Unknown event type.');
      const limit = filter.limit ?? 25;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DELIVERIES) throw new InvalidInputError('limit', `limit must be from 1 to ${MAX_DELIVERIES}.`);
      const rows = await store.findRecentDeliveries(
        appId,
        { status: filter.status ? [filter.status as DeliveryStatus] : null, eventTypes: filter.eventType ? [filter.eventType] : null },
        limit,
        ATTEMPTS_SHOWN,
      );
      return rows.map(deliveryView);
    },

    /** Queues one more attempt of a delivery to one of the link's apps, now. */
    async retryDelivery(session: PortalSession, deliveryId: string) {
      const delivery = await store.findDelivery(deliveryId, 0);
      if (!delivery || !session.appIds.includes(delivery.appId)) throw new NotFoundError('webhook delivery');
      await webhooks.retryWebhookDelivery(deliveryId);
      const retried = await store.findDelivery(deliveryId, ATTEMPTS_SHOWN);
      // Gone meanwhile: its app was deleted.
      if (!retried) throw new NotFoundError('webhook delivery');
      return deliveryView(retried);
    },

    /** Sends a webhook.test event to one of the link's apps, now. */
    async sendTestEvent(session: PortalSession, appId: string, client: PortalClient) {
      await appOf(session, appId);
      const { delivery } = await webhooks.testWebhookApp(appId, metaOf(session, client));
      return deliveryView({ ...delivery, attemptLog: [] });
    },

    /** A new secret for one of the link's apps, shown once; the old one signs too until the grace period ends. */
    async rotateSecret(session: PortalSession, appId: string, client: PortalClient) {
      await appOf(session, appId);
      const rotated = await webhooks.rotateWebhookAppSecret(appId, metaOf(session, client));
      return { secret: rotated.secret, previousSecretExpiresAt: rotated.previousSecretExpiresAt?.toISOString() ?? null };
    },
  };
}
