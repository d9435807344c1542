/**
 * A generic signed HTTP hook for either channel, so any provider can be
 * plugged in: POST a JSON body to the configured URL, signed as Standard
 * Webhooks (https://www.standardwebhooks.com), like the webhook deliveries
 * (src/services/webhook-signing.ts): `webhook-id` (the body's id),
 * `webhook-timestamp` (Unix seconds) and `webhook-signature:
 * v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`. Receivers verify with
 * any Standard Webhooks library, which also refuses timestamps more than five
 * minutes off (replays).
 */
import { randomUUID } from 'node:crypto';
import { signWithKey } from '../standard-webhooks.js';
import type { OutgoingMessage, Sender } from './types.js';

const STANDARD_PREFIX = 'whsec_';

/**
 * The HMAC key of PORTCULLIS_DELIVERY_HOOK_SECRET: `whsec_<base64>` is the
 * standard form (the key is the decoded bytes: `new Webhook(secret)`); any
 * other value is used as it is written (`new Webhook(secret, { format: 'raw' })`),
 * so a secret chosen as a plain string keeps working.
 */
export function hookKey(secret: string): Buffer {
  return secret.startsWith(STANDARD_PREFIX) ? Buffer.from(secret.slice(STANDARD_PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

/** The headers of one delivery: content type and the Standard Webhooks id, timestamp and signature. */
export function hookHeaders(secret: string, id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signWithKey(hookKey(secret), id, timestampSeconds, body),
  };
}

export interface HookOptions {
  url: string;
  secret: string;
  now?: () => Date;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The body a hook receives. */
export interface HookPayload {
  id: string;
  timestamp: string;
  channel: OutgoingMessage['channel'];
  to: string;
  locale: string;
  template: OutgoingMessage['template'];
  subject: string;
  text: string;
  params: OutgoingMessage['params'];
}

export function createHookSender(options: HookOptions): Sender {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? (() => new Date());
  return {
    name: 'http',
    async send(message: OutgoingMessage) {
      const at = now();
      const payload: HookPayload = {
        id: randomUUID(),
        timestamp: at.toISOString(),
        channel: message.channel,
        to: message.to,
        locale: message.locale,
        template: message.template,
        subject: message.subject,
        text: message.text,
        params: message.params,
      };
      const body = JSON.stringify(payload);
      const response = await doFetch(options.url, {
        method: 'POST',
        // One id per message, in the body and as webhook-id: receivers use it to spot duplicates.
        headers: hookHeaders(options.secret, payload.id, Math.floor(at.getTime() / 1000), body),
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw new Error(`delivery hook answered HTTP ${response.status}`);
    },
  };
}
