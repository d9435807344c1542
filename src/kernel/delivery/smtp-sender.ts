import type { Config } from '../../config.js';
import { lazy } from '../lazy.js';
import type { OutgoingMessage, Sender } from './types.js';

/**
 * Email over SMTP with nodemailer. `secure` is implicit TLS (port 465);
 * otherwise nodemailer upgrades with STARTTLS when the server offers it.
 */
export function createSmtpSender(smtp: Config['delivery']['smtp'] & { host: string }, options: { timeoutMs?: number } = {}): Sender {
  const timeout = options.timeoutMs ?? 15_000;
  // nodemailer is loaded by the first message: an instance that never sends email never holds it.
  const transport = lazy(async () => (await import('nodemailer')).default.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    // nodemailer's own logging stays off: it would print message bodies.
    logger: false,
    debug: false,
  }));
  return {
    name: 'smtp',
    async send(message: OutgoingMessage) {
      await (await transport()).sendMail({ from: smtp.from, to: message.to, subject: message.subject, text: message.text });
    },
  };
}
