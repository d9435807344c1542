import type { OutgoingMessage, Sender } from './types.js';

export interface TwilioOptions {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  from: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * SMS through Twilio's Messages API, or any provider that speaks its form:
 * POST {baseUrl}/2010-04-01/Accounts/{sid}/Messages.json with basic auth and
 * a form body To, From, Body. Any status other than 2xx is a failure.
 */
export function createTwilioSender(options: TwilioOptions): Sender {
  const doFetch = options.fetch ?? fetch;
  const url = `${options.baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  return {
    name: 'twilio',
    async send(message: OutgoingMessage) {
      const response = await doFetch(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ To: message.to, From: options.from, Body: message.text }).toString(),
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
      // Drain the body so the connection is reused; its content is not needed (and never logged).
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) throw new Error(`SMS provider answered HTTP ${response.status}`);
    },
  };
}
