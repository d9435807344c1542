import { write as fsWrite } from 'node:fs';
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
    destination ?? stdoutLog,
  );
}

/** A log destination that never blocks or throws, and can be flushed with a deadline. */
export interface LogDestination extends pino.DestinationStream {
  /** Resolves once everything queued is written, or the destination broke, or after timeoutMs. */
  flush(timeoutMs: number): Promise<void>;
  /** Lines dropped because the reader fell too far behind or went away. */
  readonly dropped: number;
}

/**
 * Writes to a file descriptor asynchronously, off the event loop, and never
 * blocks it: a log reader that stops reading (a collector that died, a parent
 * that exited) must not stop the gateway, nor its shutdown. Lines queue up to
 * `maxBuffered` bytes and are dropped beyond; once the descriptor is broken
 * (EPIPE, EBADF) every later line is dropped. pino's default destination
 * instead retries a broken pipe in a busy loop when the process exits.
 */
export function createLogDestination(fd: number, maxBuffered = 1024 * 1024): LogDestination {
  let queue: string[] = [];
  let queued = 0;
  let writing = false;
  let broken = false;
  let dropped = 0;
  const idle: Array<() => void> = [];

  const settle = () => {
    if (writing || (queued > 0 && !broken)) return;
    for (const resolve of idle.splice(0)) resolve();
  };
  function pump() {
    if (writing || broken || queued === 0) return settle();
    const chunk = Buffer.from(queue.join(''));
    queue = [];
    queued = 0;
    writing = true;
    const write = (offset: number) =>
      fsWrite(fd, chunk, offset, chunk.length - offset, null, (error, written) => {
        if (error && error.code !== 'EAGAIN') {
          broken = true;
          dropped += 1;
        } else if (!error && offset + written < chunk.length) {
          return write(offset + written);
        }
        writing = false;
        pump();
      });
    write(0);
  }
  return {
    write(line: string) {
      if (broken || queued + line.length > maxBuffered) {
        dropped += 1;
        return;
      }
      queue.push(line);
      queued += line.length;
      if (!writing) setImmediate(pump);
    },
    flush(timeoutMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        timer.unref();
        idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
        pump();
      });
    },
    get dropped() {
      return dropped;
    },
  };
}

/** The process's own log stream (stdout). */
export const stdoutLog = createLogDestination(1);
