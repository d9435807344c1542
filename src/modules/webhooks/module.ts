import { defineModule } from '../manifest.js';
import type { WebhookSender } from './sender.js';
import type { Lookup } from './ssrf.js';
import { createWebhookDispatcher } from './dispatcher.js';
import { webhookEvents } from './events.js';

export const webhooksModule = defineModule({
  name: 'webhooks',
  events: webhookEvents,
  schema: () => import('./schema.js'),
  fanOut: (services, events, restarted) => services.webhooks.fanOut(events, restarted),
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
