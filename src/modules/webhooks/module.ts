import { defineModule } from '../manifest.js';
import type { WebhookSender } from './sender.js';
import type { Lookup } from './ssrf.js';
import { createWebhookDispatcher } from './dispatcher.js';
import { webhookEvents } from './events.js';
import { createPortalPages } from './portal-page.js';

export const webhooksModule = defineModule({
  name: 'webhooks',
  events: webhookEvents,
  schema: () => import('./schema.js'),
  fanOut: (services, events, restarted) => services.webhooks.fanOut(events, restarted),
  // The webhook portal (createWebhookPortalLink's links lead there).
  pages: ({ services, logger }) => createPortalPages({ portal: services.webhookPortal, logger }),
  workers: ({ services, db, config, logger, hooks, metrics }) => [
    createWebhookDispatcher({
      db,
      clock: services.clock,
      logger,
      outbox: services.outbox,
      webhooks: services.webhooks,
      policy: config.webhooks,
      sender: hooks.webhookSender as WebhookSender | undefined,
      lookup: hooks.webhookLookup as Lookup | undefined,
      pollMs: config.events.relayPollMs,
      metrics,
    }),
  ],
});
