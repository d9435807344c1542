/**
 * A code sink for tests where delivery is not under test: the real delivery
 * layer (templates, failure handling, logging) with a sender that records
 * messages instead of sending them, and can be told to fail. A failed send is
 * recorded too (in `refused`, never in `sent`), so a test can tell "the
 * gateway tried and the provider refused" from "the gateway never tried",
 * and can try the code nobody received.
 */
import { createDelivery, type OutgoingMessage, type Sender } from '../../src/kernel/delivery/index.js';
import { createLogger, type Logger } from '../../src/kernel/logger.js';
import { testConfig } from './app.js';

export function codeSink(options: { logger?: Logger; productName?: string } = {}) {
  const sent: OutgoingMessage[] = [];
  const refused: OutgoingMessage[] = [];
  let failing = false;
  const sender: Sender = {
    name: 'sink',
    async send(message) {
      // The error echoes the message text, as some providers do: the delivery layer must scrub it.
      if (failing) {
        refused.push(message);
        throw new Error(`provider refused: ${message.text}`);
      }
      sent.push(message);
    },
  };
  const config = testConfig('file:/dev/null', options.productName ? { PORTCULLIS_PRODUCT_NAME: options.productName } : {});
  const delivery = createDelivery({ config, logger: options.logger ?? createLogger('silent'), senders: { email: sender, sms: sender } });
  return {
    delivery,
    sent,
    /** Messages the sender was handed while failing: never delivered. */
    refused,
    fail(on = true) {
      failing = on;
    },
    /** The code in the last message sent to this address. */
    lastCode(to: string): string {
      const message = [...sent].reverse().find((m) => m.to === to);
      if (!message) throw new Error(`nothing was sent to ${to}`);
      return message.params.code;
    },
  };
}
