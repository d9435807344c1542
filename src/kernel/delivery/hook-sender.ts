/**
 * A generic signed HTTP hook for either channel, so any provider can be
 * plugged in: POST a JSON body to the configured URL with
 * `x-portcullis-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
 * under the shared secret. The timestamp lets receivers refuse replays.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { constantTimeEqual } from '../crypto.js';
import type { OutgoingMessage, Sender } from './types.js';

export const HOOK_SIGNATURE_HEADER = 'x-portcullis-signature';

export function signHookBody(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * For receivers: true when the header signs this exact body under the secret
 * and its timestamp is within `toleranceSeconds` of `now`.
 */
export function verifyHookSignature(secret: string, header: string | null | undefined, body: string, options: { now?: Date; toleranceSeconds?: number } = {}): boolean {
  const parts = new Map((header ?? '').split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !v1) return false;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false;
  return constantTimeEqual(signHookBody(secret, t, body), `t=${t},v1=${v1}`);
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
        headers: { 'content-type': 'application/json', [HOOK_SIGNATURE_HEADER]: signHookBody(options.secret, Math.floor(at.getTime() / 1000), body) },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw new Error(`delivery hook answered HTTP ${response.status}`);
    },
  };
}
