/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, the scheme
 * Svix uses): secrets are `whsec_<base64 key>`; a delivery carries
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`,
 * which is `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`, several of
 * them separated by spaces while a rotated-out secret is still valid.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { constantTimeEqual } from './crypto.js';

const PREFIX = 'whsec_';

/** A new signing secret: 24 random bytes, like Svix's. */
export function generateWebhookSecret(): string {
  return PREFIX + randomBytes(24).toString('base64');
}

function keyOf(secret: string): Buffer {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  if (key.length === 0) throw new Error('empty webhook secret');
  return key;
}

/** One `v1,<base64>` signature under a key given as bytes. */
export function signWithKey(key: Uint8Array, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** One `v1,<base64>` signature. */
export function signWebhookPayload(secret: string, id: string, timestampSeconds: number, body: string): string {
  return signWithKey(keyOf(secret), id, timestampSeconds, body);
}

/** The `webhook-*` headers for a delivery, signed with every given secret (newest first). */
export function webhookHeaders(secrets: string[], id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((s) => signWebhookPayload(s, id, timestampSeconds, body)).join(' '),
  };
}

/**
 * Verifies a delivery as a receiver would (used by tests and by anyone
 * embedding the gateway): some `v1` signature matches and the timestamp is
 * within `toleranceSeconds` of `nowSeconds`, which refuses replays of old deliveries.
 */
export function verifyWebhookSignature(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  const expected = signWebhookPayload(secret, headers.id, ts, body);
  return headers.signature.split(' ').some((candidate) => constantTimeEqual(candidate, expected));
}
