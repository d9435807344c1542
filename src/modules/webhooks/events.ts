/**
 * Events of webhook apps: an audit trail, recorded without a user. An app's
 * URL is audited as origin and path only (its query may hold a token). The
 * webhook portal's links are audited by id, never by their token.
 */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';

const app = z.object({
  appId: z.string(),
  name: z.string(),
  origin: z.string(),
  path: z.string(),
  enabled: z.boolean(),
  eventTypes: z.unknown().describe('The wire event types the app receives; empty: all'),
});

export const webhookEvents = defineEvents({
  'webhook.test': z.object({ appId: z.string(), message: z.string() }),
  'webhook_app.created': app,
  'webhook_app.updated': app.extend({ changes: z.array(z.string()) }),
  'webhook_app.deleted': app,
  'webhook_app.disabled': app.extend({ reason: z.string() }),
  'webhook_app.secret_rotated': app.extend({ previousSecretExpiresAt: z.string().nullable() }),
  'webhook_portal.link_created': z.object({ linkId: z.string(), appIds: z.array(z.string()), expiresAt: z.string() }),
  'webhook_portal.link_used': z.object({ linkId: z.string(), appIds: z.array(z.string()), sessionExpiresAt: z.string() }),
});
