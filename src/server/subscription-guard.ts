/**
 * Live subscriptions end when their caller loses access: an API key revoked,
 * a session revoked or expired, a user locked, deactivated or deleted. Every
 * `intervalMs` a stream re-checks its caller (stillAuthorized); once refused,
 * it sends one FORBIDDEN error and completes, so an SSE client gets an error
 * event and then the end of the stream. When the server shuts down, every
 * stream ends at once the same way, with SHUTTING_DOWN: a client reconnects
 * (to another instance) with its last cursor instead of waiting for a timeout. WebSocket subscriptions are guarded
 * per socket instead (server/http.ts closes the socket with 4403), and skip
 * this wrapper.
 */
import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context, Viewer } from '../graphql/context.js';

export function accessEnded(): GraphQLError {
  return new GraphQLError('Access ended: the key or session was revoked, or the user may no longer act.', {
    extensions: { code: 'FORBIDDEN', reason: 'ACCESS_REVOKED' },
  });
}

export function shuttingDown(): GraphQLError {
  return new GraphQLError('The server is shutting down: subscribe again (with `after` set to the last event id) to resume.', {
    extensions: { code: 'SHUTTING_DOWN' },
  });
}

/** Ends every guarded stream at once (server shutdown). */
export function createShutdownSignal() {
  let fire!: () => void;
  const signalled = new Promise<void>((resolve) => (fire = resolve));
  return { signalled, fire };
}

const REVOKED: unique symbol = Symbol('revoked');
const SHUTDOWN: unique symbol = Symbol('shutdown');
const DONE = { done: true, value: undefined } as const;

/**
 * Passes `source` through until `check` (asked every intervalMs) says no, then
 * gives one FORBIDDEN result and ends. A plain iterator, not an async
 * generator: return() must reach the source at once, not after its next item.
 */
export function guardStream<T>(
  source: AsyncIterable<T>,
  check: () => Promise<boolean>,
  intervalMs: number,
  shutdown: Promise<void> = new Promise(() => {}),
): AsyncIterableIterator<T | ExecutionResult> {
  const stopping = shutdown.then((): typeof SHUTDOWN => SHUTDOWN);
  const iterator = source[Symbol.asyncIterator]();
  let state: 'open' | 'revoked' | 'done' = 'open';
  let timer: NodeJS.Timeout | undefined;
  let revoke!: (value: typeof REVOKED) => void;
  const revoked = new Promise<typeof REVOKED>((resolve) => (revoke = resolve));
  const schedule = () => {
    timer = setTimeout(async () => {
      // A failed check (database down) is not a revocation; the next one decides.
      const ok = await check().catch(() => true);
      if (state !== 'open') return;
      if (ok) schedule();
      else revoke(REVOKED);
    }, intervalMs);
    timer.unref();
  };
  const stop = async (): Promise<IteratorResult<T>> => {
    const wasOpen = state === 'open';
    state = 'done';
    clearTimeout(timer);
    if (wasOpen) await iterator.return?.();
    return DONE;
  };
  schedule();
  return {
    async next() {
      if (state !== 'open') return stop();
      const next = await Promise.race([iterator.next(), revoked, stopping]);
      if (next === REVOKED || next === SHUTDOWN) {
        state = 'revoked';
        clearTimeout(timer);
        iterator.return?.()?.catch(() => {});
        return { done: false, value: { errors: [next === REVOKED ? accessEnded() : shuttingDown()] } };
      }
      if (next.done) await stop();
      return next;
    },
    return: stop,
    async throw(error?: unknown) {
      await stop();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

export function useSubscriptionGuard(options: {
  intervalMs: number;
  stillAuthorized: (viewer: Viewer) => Promise<boolean>;
  shutdown: Promise<void>;
}): Plugin<Context & { transport?: string }> {
  return {
    onSubscribe: ({ args }) => ({
      onSubscribeResult: ({ result, setResult }) => {
        const ctx = args.contextValue;
        if (ctx.transport === 'ws' || !(Symbol.asyncIterator in result)) return;
        setResult(guardStream(result, () => options.stillAuthorized(ctx.viewer), options.intervalMs, options.shutdown) as never);
      },
    }),
  };
}
