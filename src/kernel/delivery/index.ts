/**
 * How codes reach people. `createDelivery` picks one sender per channel from
 * config.delivery (console by default; smtp, twilio or a signed HTTP hook)
 * and exposes one call:
 *
 *   await services.delivery.send({ channel: 'email', to, template: 'password_reset', params: { code, ttlSeconds } });
 *
 * Templates and languages live in templates.ts. A failed send is logged
 * without the code and thrown as DeliveryFailedError(channel); the caller
 * should then revoke the code it issued.
 */
import type { Config } from '../../config.js';
import { ConfigError } from '../../config.js';
import type { Logger } from '../logger.js';
import { DeliveryFailedError } from '../errors.js';
import { maskEmail, maskPhone } from '../masking.js';
import { createConsoleSender } from './console-sender.js';
import { createHookSender } from './hook-sender.js';
import { createSmtpSender } from './smtp-sender.js';
import { renderTemplate, resolveLocale } from './templates.js';
import { createTwilioSender } from './twilio-sender.js';
import type { Channel, Delivery, DeliveryRequest, Sender } from './types.js';

export type { Channel, Delivery, DeliveryRequest, OutgoingMessage, Sender, TemplateName, TemplateParams } from './types.js';
export { hookHeaders, hookKey, type HookPayload } from './hook-sender.js';

export interface DeliveryDeps {
  config: Pick<Readonly<Config>, 'productName' | 'delivery' | 'env'>;
  logger: Logger;
  now?: () => Date;
  /** Replace the configured sender of a channel (tests, embedding). */
  senders?: Partial<Record<Channel, Sender>>;
}

function required<T>(value: T | undefined, variable: string, because: string): T {
  if (value === undefined || value === '') throw new ConfigError(variable, `is required when ${because}`);
  return value;
}

/** The sender a channel is configured for; fails at start-up when its settings are missing. */
export function createSender(channel: Channel, deps: DeliveryDeps): Sender {
  const { delivery } = deps.config;
  const kind = channel === 'email' ? delivery.email : delivery.sms;
  const selector = channel === 'email' ? `PORTCULLIS_EMAIL_DELIVERY=${kind}` : `PORTCULLIS_SMS_DELIVERY=${kind}`;
  switch (kind) {
    case 'console':
      return createConsoleSender(deps.logger);
    case 'smtp':
      return createSmtpSender({ ...delivery.smtp, host: required(delivery.smtp.host, 'SMTP_HOST', selector) });
    case 'twilio':
      return createTwilioSender({
        baseUrl: delivery.twilio.baseUrl,
        accountSid: required(delivery.twilio.accountSid, 'TWILIO_ACCOUNT_SID', selector),
        authToken: required(delivery.twilio.authToken, 'TWILIO_AUTH_TOKEN', selector),
        from: required(delivery.twilio.from, 'TWILIO_FROM', selector),
      });
    case 'http':
      return createHookSender({
        url: required(delivery.hook.url, 'PORTCULLIS_DELIVERY_HOOK_URL', selector),
        secret: required(delivery.hook.secret, 'PORTCULLIS_DELIVERY_HOOK_SECRET', selector),
        now: deps.now,
      });
  }
}

/** Removes every occurrence of the code from a text (an error message from a sender). */
/** Replaces each secret in `text` with its stand-in. */
function scrub(text: string, replacements: Array<[secret: string, standIn: string]>): string {
  return replacements.reduce((t, [secret, standIn]) => (secret ? t.split(secret).join(standIn) : t), text);
}

export function createDelivery(deps: DeliveryDeps): Delivery {
  const { config, logger } = deps;
  const senders: Record<Channel, Sender> = {
    email: deps.senders?.email ?? createSender('email', deps),
    sms: deps.senders?.sms ?? createSender('sms', deps),
  };
  for (const channel of ['email', 'sms'] as const) {
    if (senders[channel].name === 'console' && config.env === 'production') {
      logger.warn({ channel }, 'codes for this channel are written to the log (console delivery, allowed in production by PORTCULLIS_ALLOW_CONSOLE_DELIVERY); configure a real sender');
    }
  }

  return {
    async send(request: DeliveryRequest) {
      const locale = resolveLocale(request.locale, config.delivery.defaultLocale);
      const params = { ...request.params, productName: config.productName };
      const rendered = renderTemplate(request.template, params, locale);
      const sender = senders[request.channel];
      const to = request.channel === 'email' ? maskEmail(request.to) : maskPhone(request.to);
      try {
        await sender.send({ channel: request.channel, to: request.to, locale, template: request.template, params, ...rendered });
      } catch (error) {
        // A provider's error may echo the request (an SMTP reply names the recipient):
        // the code and the address are scrubbed before logging.
        const reason = scrub(error instanceof Error ? `${error.name}: ${error.message}` : String(error), [
          [request.params.code, '[code]'],
          [request.to, to ?? '[recipient]'],
        ]);
        logger.error({ delivery: { sender: sender.name, channel: request.channel, to, template: request.template }, reason }, 'delivery failed');
        throw new DeliveryFailedError(request.channel);
      }
      logger.info({ delivery: { sender: sender.name, channel: request.channel, to, template: request.template } }, 'message delivered');
    },
  };
}
