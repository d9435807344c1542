/**
 * The one wrapper of a live stream (an async iterator) that the server puts
 * around subscriptions: it passes items through (optionally mapped), and
 * knows when the stream has ended, however it ends.
 *
 * A plain iterator, not an async generator: return() must reach the source
 * at once. A generator parked on the source's next() would defer return()
 * until the next item, keeping an unsubscribed client's listener alive
 * until then.
 */

const DONE = { done: true, value: undefined } as const;

export interface ClosingOptions<T, R> {
  /** Called once when the stream ends: done, return(), throw(), a failing next() or map, or after the last item. */
  onClose?: () => void;
  /** What each item becomes. When it throws, the source is closed and the error passed on. */
  map?: (item: T) => R | Promise<R>;
  /** True for the item after which the stream ends: it is given, then the source is closed. */
  isLast?: (item: T) => boolean;
  /** What a failing source next() throws instead of its own error (default: its error). */
  nextError?: (error: unknown) => unknown;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as Partial<PromiseLike<unknown>> | null)?.then === 'function';

/** `source` as a stream that calls `onClose` once when it ends (see ClosingOptions); once ended, next() is done. */
export function closing<T, R = T>(source: AsyncIterable<T> | AsyncIterator<T>, options: ClosingOptions<T, R>): AsyncIterableIterator<R> {
  const iterator = Symbol.asyncIterator in source ? (source as AsyncIterable<T>)[Symbol.asyncIterator]() : source;
  const { onClose, map, isLast, nextError } = options;
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    onClose?.();
  };
  const finish = async (): Promise<IteratorResult<R>> => {
    close();
    await iterator.return?.();
    return DONE;
  };
  return {
    async next(): Promise<IteratorResult<R>> {
      if (!open) return DONE;
      let item: IteratorResult<T>;
      try {
        item = await iterator.next();
      } catch (error) {
        close();
        throw nextError ? nextError(error) : error;
      }
      if (item.done) {
        close();
        return DONE;
      }
      if (isLast?.(item.value)) {
        close();
        // The last item is given now; the source finishes on its own time.
        iterator.return?.()?.catch(() => {});
      }
      if (!map) return item as unknown as IteratorResult<R>;
      try {
        const value = map(item.value);
        // Most items map synchronously: awaiting only a promise saves a turn per item.
        return { done: false, value: isThenable(value) ? await value : value };
      } catch (error) {
        await finish();
        throw error;
      }
    },
    return: finish,
    async throw(error?: unknown) {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
