import type { Logger } from '../logger.js';
import type { OutgoingMessage, Sender } from './types.js';

/**
 * The development sender: writes the message, code included, to the log,
 * marked as such. It is the one place a code may appear in a log; choose
 * smtp, twilio or http delivery in production.
 */
export function createConsoleSender(logger: Logger): Sender {
  return {
    name: 'console',
    async send(message: OutgoingMessage) {
      logger.warn(
        { delivery: { sender: 'console', development: true, channel: message.channel, to: message.to, template: message.template } },
        `[DEVELOPMENT SENDER: not delivered] to ${message.to}: ${message.text}`,
      );
    },
  };
}
