import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config.js';
import { createLogger } from '../logger.js';
import { DeliveryFailedError } from '../errors.js';
import { createDelivery } from './index.js';

const baseEnv = { NODE_ENV: 'test', DATABASE_URL: 'file:/dev/null', PORTCULLIS_PRODUCT_NAME: 'Acme' };

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, logger: createLogger('info', { write: (l: string) => void lines.push(JSON.parse(l)) }) };
}

describe('createDelivery', () => {
  it('refuses to start when the chosen sender lacks its settings, naming the variable', () => {
    const { logger } = capture();
    expect(() => createDelivery({ config: loadConfig({ ...baseEnv, PORTCULLIS_EMAIL_DELIVERY: 'smtp' }), logger })).toThrow(ConfigError);
    expect(() => createDelivery({ config: loadConfig({ ...baseEnv, PORTCULLIS_EMAIL_DELIVERY: 'smtp' }), logger })).toThrow(/SMTP_HOST/);
    expect(() => createDelivery({ config: loadConfig({ ...baseEnv, PORTCULLIS_SMS_DELIVERY: 'twilio', TWILIO_ACCOUNT_SID: 'AC1' }), logger })).toThrow(/TWILIO_AUTH_TOKEN/);
    expect(() => createDelivery({ config: loadConfig({ ...baseEnv, PORTCULLIS_SMS_DELIVERY: 'http' }), logger })).toThrow(/PORTCULLIS_DELIVERY_HOOK_URL/);
  });

  it('writes the message to the log, marked as the development sender, with the console sender', async () => {
    const { lines, logger } = capture();
    const delivery = createDelivery({ config: loadConfig(baseEnv), logger });
    await delivery.send({ channel: 'sms', to: '+14155550123', template: 'verify_phone', params: { code: '424242', ttlSeconds: 600 } });
    const marked = lines.find((l) => String(l.msg).includes('424242'));
    expect(marked).toMatchObject({ delivery: { sender: 'console', development: true, channel: 'sms' } });
    expect(String(marked!.msg)).toMatch(/^\[DEVELOPMENT SENDER: not delivered\] to \+14155550123: Your Acme verification code is 424242\./);
    expect(lines.filter((l) => JSON.stringify(l).includes('424242'))).toHaveLength(1);
  });

  it('turns a sender failure into DeliveryFailedError and scrubs the code from the logged reason', async () => {
    const { lines, logger } = capture();
    const delivery = createDelivery({
      config: loadConfig(baseEnv),
      logger,
      senders: {
        email: {
          name: 'echoing',
          async send(m) {
            throw new Error(`rejected message: ${m.text}`);
          },
        },
      },
    });
    const sending = delivery.send({ channel: 'email', to: 'jane@example.com', template: 'password_reset', params: { code: '135790', ttlSeconds: 3600 } });
    await expect(sending).rejects.toBeInstanceOf(DeliveryFailedError);
    await expect(sending).rejects.toMatchObject({ channel: 'email', message: 'The message could not be delivered by email.' });
    const failure = lines.find((l) => l.msg === 'delivery failed');
    expect(failure).toMatchObject({ delivery: { sender: 'echoing', to: 'j•••@example.com', template: 'password_reset' } });
    expect(String(failure!.reason)).toContain('[code]');
    expect(JSON.stringify(lines)).not.toContain('135790');
  });
});
