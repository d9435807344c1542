/**
 * Webhook apps: endpoints that receive signed deliveries of committed events
 * (Standard Webhooks). This service manages apps and their secrets and turns
 * relayed events into WebhookDelivery rows; dispatcher.ts sends them.
 *
 * Secrets are shown once, at creation or rotation, and stored encrypted
 * (AES-256-GCM, bound to the app id). During the grace period after a
 * rotation both secrets sign every delivery.
 */
import type { Config } from '../../config.js';
import type { Db } from '../../kernel/db/client.js';
import type { WebhookApp, WebhookDelivery } from '../../kernel/db/models.js';
import { isEventType, type EventType } from '../catalog.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import type { RelayedEvent } from '../../kernel/events/pubsub.js';
import { newId } from '../../kernel/ids.js';
import type { Clock } from '../../kernel/clock.js';
import { decryptSecret, encryptSecret } from '../../kernel/crypto.js';
import { InvalidInputError, InvalidStateError, NotFoundError } from '../../kernel/errors.js';
import { resolveWebhookTarget, type Lookup } from './ssrf.js';
import { generateWebhookSecret } from '../../kernel/standard-webhooks.js';
import { createWebhookStore, type NewDelivery, type WebhookAppChanges } from './store.js';

export interface WebhookAppInput {
  name?: string | null;
  url?: string | null;
  /** Wire types (user.locked); empty or absent means all. */
  eventTypes?: string[] | null;
  enabled?: boolean | null;
}

export interface WebhookServiceDeps {
  db: Db;
  clock: Clock;
  key: Buffer;
  outbox: Outbox;
  policy: Readonly<Config['webhooks']>;
  lookup?: Lookup;
  /** Called after deliveries were queued (wakes the dispatcher). */
  onQueued?: () => void;
}

export type WebhookService = ReturnType<typeof createWebhookService>;

/** A safety net under fan-out's event-driven reload of the enabled apps. */
const APPS_RELOAD_EVERY_MS = 10_000;
/**
 * Events that are not fanned out to every app: a test event goes to its own app
 * only, and the audit trail of app changes and portal links stays in the log
 * (an app's URL and name are no business of the other receivers).
 */
const DIRECT_EVENTS = new Set<string>([
  'webhook.test',
  'webhook_app.created',
  'webhook_app.updated',
  'webhook_app.deleted',
  'webhook_app.secret_rotated',
  'webhook_portal.link_created',
  'webhook_portal.link_used',
]);

/** What the audit trail says of an app: never its secret, nor its URL's query (which may carry a token). */
export function auditedApp(app: Pick<WebhookApp, 'id' | 'name' | 'url' | 'enabled' | 'eventTypes'>) {
  const url = new URL(app.url);
  return { appId: app.id, name: app.name, origin: url.origin, path: url.pathname, enabled: app.enabled, eventTypes: app.eventTypes };
}

type BodySource = Pick<RelayedEvent, 'type' | 'occurredAt' | 'data' | 'userId' | 'organizationId'>;

/**
 * The body of a delivery: `{"type", "timestamp", "data"}`. `data` also names
 * the event's user and organization (from the row) when its payload does not.
 */
export function webhookBody(event: BodySource) {
  const payload = (event.data && typeof event.data === 'object' ? event.data : {}) as Record<string, unknown>;
  const data = event.userId && !('userId' in payload) ? { userId: event.userId, ...payload } : payload;
  return {
    type: event.type,
    timestamp: new Date(event.occurredAt).toISOString(),
    data: event.organizationId && !('organizationId' in data) ? { organizationId: event.organizationId, ...data } : data,
  };
}

/**
 * A new delivery of `event` to one app, pending until `nextAttemptAt`: the one
 * builder of delivery rows, for fan-out and for test deliveries alike.
 */
function newDelivery(appId: string, event: BodySource & Pick<RelayedEvent, 'id'>, nextAttemptAt: Date, now: Date): NewDelivery {
  return {
    appId,
    eventId: event.id,
    eventType: event.type,
    payload: webhookBody(event),
    status: 'PENDING',
    nextAttemptAt,
    createdAt: now,
    updatedAt: now,
  };
}

const secretAad = (appId: string) => `webhook-app:${appId}`;

export function createWebhookService(deps: WebhookServiceDeps) {
  const { db, clock, key, outbox, policy } = deps;
  const store = createWebhookStore({ db });
  /** Fan-out's copy of the enabled apps (see fanOut); undefined: read again. */
  let enabledApps: Array<Pick<WebhookApp, 'id' | 'eventTypes'>> | undefined;
  let appsLoadedAt = 0;

  function checkName(name: string): string {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 200) throw new InvalidInputError('name', 'The name must be 1 to 200 characters.');
    return trimmed;
  }

  function checkEventTypes(types: string[]): EventType[] {
    for (const t of types) if (!isEventType(t)) throw new InvalidInputError('eventTypes', `Unknown event type ${t}.`);
    return [...new Set(types)] as EventType[];
  }

  async function checkUrl(url: string): Promise<string> {
    await resolveWebhookTarget(url, { allowPrivate: policy.allowPrivate, lookup: deps.lookup });
    return url;
  }

  async function findApp(id: string): Promise<WebhookApp> {
    const app = await db.webhookApp.findUnique({ where: { id } });
    if (!app) throw new NotFoundError('webhook app');
    return app;
  }

  /** The secrets that sign a delivery now: the current one, and the previous one during its grace period. */
  function signingSecrets(app: WebhookApp, now: Date): string[] {
    const secrets = [decryptSecret(key, app.secretEncrypted, secretAad(app.id))];
    if (app.previousSecretEncrypted && app.previousSecretExpiresAt && app.previousSecretExpiresAt > now) {
      secrets.push(decryptSecret(key, app.previousSecretEncrypted, secretAad(app.id)));
    }
    return secrets;
  }

  function appWants(app: Pick<WebhookApp, 'eventTypes'>, event: RelayedEvent): boolean {
    const types = (app.eventTypes as string[] | null) ?? [];
    return types.length === 0 || types.includes(event.type);
  }

  /** Queues a delivery unless the (app, event) pair has one already: fan-out may run twice for an event. */
  function queueDelivery(app: Pick<WebhookApp, 'id'>, event: RelayedEvent, now: Date): Promise<boolean> {
    return store.insertDeliveryIfAbsent(newDelivery(app.id, event, new Date(now.getTime() + (policy.retryScheduleSeconds[0] ?? 0) * 1000), now));
  }

  return {
    signingSecrets,

    async createWebhookApp(input: { name: string; url: string; eventTypes?: string[] | null }, meta: RequestMeta) {
      const name = checkName(input.name);
      const eventTypes = checkEventTypes(input.eventTypes ?? []);
      const url = await checkUrl(input.url);
      const id = newId('WebhookApp');
      const secret = generateWebhookSecret();
      const now = clock.now();
      const app = await outbox.transaction(async (tx) => {
        const created = await store.insertWebhookApp(tx, { id, name, url, eventTypes, secretEncrypted: encryptSecret(key, secret, secretAad(id)), now });
        await outbox.record(tx, { type: 'webhook_app.created', data: auditedApp(created) }, meta);
        return created;
      });
      return { app, secret };
    },

    /** Fields left out are unchanged. Enabling a disabled app clears its disabled reason; its pending deliveries resume. */
    async updateWebhookApp(id: string, input: WebhookAppInput, meta: RequestMeta): Promise<WebhookApp> {
      await findApp(id);
      const data: WebhookAppChanges = { updatedAt: clock.now() };
      if (input.name != null) data.name = checkName(input.name);
      if (input.url != null) data.url = await checkUrl(input.url);
      if (input.eventTypes != null) data.eventTypes = checkEventTypes(input.eventTypes);
      if (input.enabled != null) {
        data.enabled = input.enabled;
        if (input.enabled) data.disabledReason = null;
        else data.disabledReason = 'disabled by an admin';
      }
      const app = await outbox.transaction(async (tx) => {
        const updated = await store.updateWebhookApp(tx, id, data);
        if (!updated) throw new NotFoundError('webhook app');
        const changes = Object.keys(data).filter((k) => k !== 'updatedAt' && k !== 'disabledReason');
        await outbox.record(tx, { type: 'webhook_app.updated', data: { ...auditedApp(updated), changes } }, meta);
        return updated;
      });
      if (input.enabled) deps.onQueued?.();
      return app;
    },

    async deleteWebhookApp(id: string, meta: RequestMeta): Promise<{ id: string }> {
      await outbox.transaction(async (tx) => {
        const app = await tx.webhookApp.findUnique({ where: { id } });
        // Deliveries and their attempts go with the app (cascade).
        const deleted = await store.deleteWebhookApp(tx, id);
        if (!app || !deleted) throw new NotFoundError('webhook app');
        await outbox.record(tx, { type: 'webhook_app.deleted', data: auditedApp(app) }, meta);
      });
      return { id };
    },

    /** A new secret, shown once; the old one keeps signing until the grace period ends. */
    async rotateWebhookAppSecret(id: string, meta: RequestMeta) {
      const app = await findApp(id);
      const now = clock.now();
      const secret = generateWebhookSecret();
      const previousSecretExpiresAt = new Date(now.getTime() + policy.secretGraceSeconds * 1000);
      const grace = policy.secretGraceSeconds > 0;
      // Conditional on the secret we read, so two concurrent rotations cannot lose one another's grace.
      const rotated = await outbox.transaction(async (tx) => {
        const replaced = await store.replaceWebhookAppSecret(tx, id, {
          expectedSecretEncrypted: app.secretEncrypted,
          secretEncrypted: encryptSecret(key, secret, secretAad(id)),
          previousSecretEncrypted: grace ? app.secretEncrypted : null,
          previousSecretExpiresAt: grace ? previousSecretExpiresAt : null,
          now,
        });
        if (replaced) {
          const data = { ...auditedApp(app), previousSecretExpiresAt: grace ? previousSecretExpiresAt.toISOString() : null };
          await outbox.record(tx, { type: 'webhook_app.secret_rotated', data }, meta);
        }
        return replaced;
      });
      if (!rotated) throw new InvalidStateError('The secret was rotated concurrently; try again.');
      return { app: await findApp(id), secret, previousSecretExpiresAt: grace ? previousSecretExpiresAt : null };
    },

    /** Records a webhook.test event and queues its delivery to this app only, due now. */
    async testWebhookApp(id: string, meta: RequestMeta): Promise<{ app: WebhookApp; delivery: WebhookDelivery }> {
      const app = await findApp(id);
      if (!app.enabled) throw new InvalidStateError('The webhook app is disabled; enable it first.', 'DISABLED');
      const now = clock.now();
      const delivery = await outbox.transaction(async (tx) => {
        const event = await outbox.record(tx, { type: 'webhook.test', data: { appId: id, message: 'This is a test delivery from Portcullis.' } }, meta);
        // Due now, and inserted in the event's own transaction: nothing else can have queued it.
        return store.insertDelivery(tx, newDelivery(id, event, now, now));
      });
      deps.onQueued?.();
      return { app, delivery };
    },

    /** Queues one more attempt now, whatever the delivery's status. */
    async retryWebhookDelivery(id: string): Promise<WebhookDelivery> {
      const now = clock.now();
      if (!(await store.requeueDelivery(id, now))) throw new NotFoundError('webhook delivery');
      deps.onQueued?.();
      return db.webhookDelivery.findUniqueOrThrow({ where: { id } });
    },

    /**
     * Turns committed events into deliveries, one per interested enabled app.
     * Idempotent (unique on app and event), so a relay that fans an event out
     * twice (after a crash, or two instances during a lease hand-over) sends it once.
     */
    async fanOut(events: RelayedEvent[], restarted = false): Promise<number> {
      const now = clock.now();
      // The enabled apps change only in a transaction that also records a
      // webhook_app.* event, and events arrive here in log order: a batch
      // holding one reloads them first, so each event meets the apps of its
      // place in the log or later ones, as with a read per batch.
      if (restarted || events.some((e) => e.type.startsWith('webhook_app.')) || now.getTime() - appsLoadedAt >= APPS_RELOAD_EVERY_MS) enabledApps = undefined;
      const fanned = events.filter((e) => !DIRECT_EVENTS.has(e.type));
      if (fanned.length === 0) return 0;
      if (!enabledApps) {
        enabledApps = await store.findEnabledApps();
        appsLoadedAt = now.getTime();
      }
      const apps = enabledApps;
      if (apps.length === 0) return 0;
      let queued = 0;
      for (const event of fanned) {
        for (const app of apps) {
          // An app hears about its own disabling through the log, not by webhook.
          if (event.type === 'webhook_app.disabled' && (event.data as { appId?: string })?.appId === app.id) continue;
          if (appWants(app, event) && (await queueDelivery(app, event, now))) queued++;
        }
      }
      if (queued) deps.onQueued?.();
      return queued;
    },
  };
}
