import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout. Anything that looks like a secret is redacted by path,
 * as a second line of defence: services never pass secrets to the logger.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'portcullis' },
      redact: {
        paths: ['*.password', '*.code', '*.secret', '*.token', '*.authorization', 'req.headers.authorization', '*.apiKey'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
