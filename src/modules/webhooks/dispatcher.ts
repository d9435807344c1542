/**
 * Sends queued webhook deliveries. Every delivery row exists before its
 * first attempt (the relay's fan-out writes it), so a crash loses nothing:
 * an attempt first claims its row with a conditional update that pushes
 * `nextAttemptAt` past the request timeout; if the process dies mid-request
 * the claim lapses and any instance sends it again (at-least-once; receivers
 * de-duplicate by `webhook-id`). The same claim keeps two instances from
 * sending one attempt twice.
 *
 * Failures retry on the configured schedule (with ±20 % jitter); after the
 * last attempt the delivery is FAILED. An app whose attempts have all failed
 * for `disableAfterSeconds` is disabled and a webhook_app.disabled event is
 * recorded. Nothing here ever fails the operation that caused the event.
 * It counts its attempts and the deliveries it ends, and reports the queue
 * and the apps' states when the metrics are scraped.
 */
import { performance } from 'node:perf_hooks';
import type { Config } from '../../config.js';
import type { Db } from '../../kernel/db/client.js';
import type { WebhookDelivery } from '../../kernel/db/models.js';
import { systemMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import { createWakeLoop } from '../../kernel/events/wake-loop.js';
import type { Logger } from '../../kernel/logger.js';
import type { Metrics } from '../../kernel/metrics.js';
import type { Clock } from '../../kernel/clock.js';
import { resolveWebhookTarget, type Lookup } from './ssrf.js';
import { webhookHeaders } from '../../kernel/standard-webhooks.js';
import { httpWebhookSender, type WebhookSender } from './sender.js';
import { auditedApp, type WebhookService } from './service.js';
import { createWebhookStore } from './store.js';

export interface DispatcherDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  outbox: Outbox;
  webhooks: Pick<WebhookService, 'signingSecrets'>;
  policy: Readonly<Config['webhooks']>;
  sender?: WebhookSender;
  lookup?: Lookup;
  /** 0..1; injectable so tests can pin the jitter. */
  random?: () => number;
  /** How often to look for due deliveries when nothing wakes the dispatcher. */
  pollMs?: number;
  /** Deliveries sent at once. */
  concurrency?: number;
  metrics?: Metrics;
}

export type WebhookDispatcher = ReturnType<typeof createWebhookDispatcher>;

/** How long past the request timeout a claim lasts before another instance may take the delivery over. */
const CLAIM_MARGIN_MS = 2_000;
const MAX_ERROR_LENGTH = 300;

export function createWebhookDispatcher(deps: DispatcherDeps) {
  const { db, clock, logger, policy } = deps;
  const store = createWebhookStore({ db });
  const sender = deps.sender ?? httpWebhookSender;
  const random = deps.random ?? Math.random;
  const concurrency = deps.concurrency ?? 16;
  const schedule = policy.retryScheduleSeconds;
  const attemptsMade = deps.metrics?.counter('portcullis_webhook_attempts_total', 'Webhook delivery attempts made by this instance, by outcome (success: a 2xx answer; failure).', ['outcome']);
  const deliveriesEnded = deps.metrics?.counter(
    'portcullis_webhook_deliveries_total',
    'Webhook deliveries this instance ended, by status: succeeded, or failed after the last retry.',
    ['status'],
  );
  deps.metrics?.gaugeFrom('portcullis_webhook_deliveries_pending', 'Webhook deliveries waiting for an attempt (those of paused or disabled apps included).', [], async () => [
    { labels: {}, value: await store.countPendingDeliveries() },
  ]);
  deps.metrics?.gaugeFrom('portcullis_webhook_apps', 'Webhook apps by state: enabled, paused (by an admin), disabled (after their deliveries failed for PORTCULLIS_WEBHOOK_DISABLE_AFTER_SECONDS).', ['state'], async () =>
    Object.entries(await store.countAppsByState()).map(([state, value]) => ({ labels: { state }, value })),
  );

  /** Delay before attempt number `attempt` (0-based), with ±20 % jitter so retries from one outage spread out. */
  function backoffMs(attempt: number): number {
    const seconds = schedule[attempt] ?? 0;
    return Math.round(seconds * 1000 * (0.8 + 0.4 * random()));
  }

  /** Takes one due delivery for this instance; false when someone else did. */
  function claim(d: WebhookDelivery, now: Date): Promise<boolean> {
    return store.claimDueDelivery(d, now, new Date(now.getTime() + policy.timeoutMs + CLAIM_MARGIN_MS));
  }

  async function maybeDisableApp(appId: string, now: Date) {
    const lastSuccess = await db.webhookDelivery.findFirst({
      where: { appId, status: 'SUCCEEDED' },
      orderBy: { updatedAt: 'desc' },
      select: { updatedAt: true },
    });
    const firstFailure = await db.webhookAttempt.findFirst({
      where: { delivery: { appId }, ...(lastSuccess ? { attemptedAt: { gt: lastSuccess.updatedAt } } : {}) },
      orderBy: { attemptedAt: 'asc' },
      select: { attemptedAt: true },
    });
    if (!firstFailure || now.getTime() - firstFailure.attemptedAt.getTime() < policy.disableAfterSeconds * 1000) return;
    const reason = `every delivery failed for ${Math.round(policy.disableAfterSeconds / 3600)} hours`;
    const disabled = await db.$transaction(async (tx) => {
      const app = await store.disableWebhookApp(tx, appId, reason, now);
      if (!app) return false;
      // The other apps hear of it: the audited form, without the URL's query (it may carry a token).
      await deps.outbox.record(tx, { type: 'webhook_app.disabled', data: { ...auditedApp(app), reason } }, systemMeta);
      return true;
    });
    if (disabled) {
      deps.outbox.committed();
      logger.warn({ appId }, 'webhook app disabled after failing deliveries');
    }
  }

  // Aborts requests in flight when the dispatcher stops, so shutdown does not wait for slow receivers.
  let shutdown = new AbortController();

  /** One attempt of a claimed delivery: sign, send, record. Throws only when cut off by shutdown. */
  async function attempt(d: WebhookDelivery, attemptNumber: number): Promise<boolean> {
    const started = clock.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    let latencyMs: number | null = null;
    const app = await db.webhookApp.findUnique({ where: { id: d.appId } });
    if (!app) return false;
    try {
      // Again at delivery time: DNS may have changed since the app was saved.
      const target = await resolveWebhookTarget(app.url, { allowPrivate: policy.allowPrivate, lookup: deps.lookup });
      const body = JSON.stringify(d.payload);
      const headers = webhookHeaders(deps.webhooks.signingSecrets(app, started), d.eventId, Math.floor(started.getTime() / 1000), body);
      const t0 = performance.now();
      try {
        const response = await sender({
          url: target.url,
          address: target.address,
          family: target.family,
          headers,
          body,
          timeoutMs: policy.timeoutMs,
          signal: shutdown.signal,
        });
        statusCode = response.status;
        if (statusCode < 200 || statusCode > 299) error = `HTTP ${statusCode}`;
      } finally {
        latencyMs = Math.round(performance.now() - t0);
      }
    } catch (e) {
      // Cut off by shutdown: not the receiver's failure. Nothing is recorded; the claim lapses and the delivery is sent again.
      if (shutdown.signal.aborted) throw new Error('webhook attempt interrupted by shutdown');
      error = (e instanceof Error ? e.message : String(e)).slice(0, MAX_ERROR_LENGTH);
    }
    const ok = error === null;
    const now = clock.now();
    const exhausted = attemptNumber >= schedule.length;
    await store.recordDeliveryAttempt(
      d.id,
      { attemptedAt: started, statusCode, latencyMs, error },
      {
        status: ok ? 'SUCCEEDED' : exhausted ? 'FAILED' : 'PENDING',
        nextAttemptAt: ok || exhausted ? null : new Date(now.getTime() + backoffMs(attemptNumber)),
        now,
      },
    );
    attemptsMade?.inc({ outcome: ok ? 'success' : 'failure' });
    if (ok || exhausted) deliveriesEnded?.inc({ status: ok ? 'succeeded' : 'failed' });
    if (!ok) await maybeDisableApp(d.appId, now);
    return ok;
  }

  /** Sends every delivery due now (one pass); returns how many attempts were made. */
  async function runOnce(): Promise<number> {
    let attempts = 0;
    for (;;) {
      const now = clock.now();
      const due = await store.findDueDeliveries(now, concurrency);
      if (due.length === 0) return attempts;
      const results = await Promise.all(
        due.map(async (d) => {
          if (!(await claim(d, now))) return 0;
          try {
            await attempt(d, d.attempts + 1);
          } catch (error) {
            // The claim lapses and the delivery is tried again; the operation that caused it is long done.
            if (!shutdown.signal.aborted) logger.error({ err: error, deliveryId: d.id }, 'webhook attempt could not be recorded');
          }
          return 1;
        }),
      );
      const made = results.reduce<number>((a, b) => a + b, 0);
      attempts += made;
      if (made === 0 || shutdown.signal.aborted) return attempts;
    }
  }

  const loop = createWakeLoop(runOnce, { intervalMs: deps.pollMs ?? 1000, logger, name: 'webhook dispatch' });

  return {
    runOnce,
    backoffMs,
    wake: loop.wake,
    start: loop.start,
    async stop() {
      shutdown.abort();
      await loop.stop();
      // A later pass (a restart, a test) sends normally again.
      shutdown = new AbortController();
    },
  };
}
