/**
 * The one wrapper of a live stream (an async iterator) that the server puts
 * around subscriptions: it passes items through (optionally mapped), and
 * knows when the stream has ended, however it ends.
 *
 * A plain iterator, not an async generator: return() must reach the source
 * at once. A generator parked on the source's next() would defer return()
 * until the next item, keeping an unsubscribed client's listener alive
 * until then.
 *
 * Wrapping a stream made here that nobody has read yet adds a stage to it
 * instead of another iterator around it: a subscription's stream passes
 * several of these (the fan-out, the metrics' live count), and each layer
 * cost every delivery a promise and a turn. A stage sees items and errors as
 * the wrapper it replaces would have.
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

type Stage = ClosingOptions<unknown, unknown>;

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as Partial<PromiseLike<unknown>> | null)?.then === 'function';

/** The stages of a stream made by `closing` that has not been read yet (it can take more). */
const unread = new WeakMap<object, Stage[]>();

/** An error as the stages from `from` on see it: each one's nextError in turn, as nested wrappers would pass it out. */
function passOut(stages: Stage[], from: number, error: unknown): unknown {
  for (let i = from; i < stages.length; i++) {
    const nextError = stages[i].nextError;
    if (nextError) error = nextError(error);
  }
  return error;
}

/** `source` as a stream that calls `onClose` once when it ends (see ClosingOptions); once ended, next() is done. */
export function closing<T, R = T>(source: AsyncIterable<T> | AsyncIterator<T>, options: ClosingOptions<T, R>): AsyncIterableIterator<R> {
  const stages = unread.get(source);
  if (stages) {
    stages.push(options as Stage);
    return source as unknown as AsyncIterableIterator<R>;
  }
  return closingStages<R>(Symbol.asyncIterator in source ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (source as AsyncIterator<unknown>), [
    options as Stage,
  ]);
}

function closingStages<R>(iterator: AsyncIterator<unknown>, stages: Stage[]): AsyncIterableIterator<R> {
  let open = true;
  let read = false;
  /** Once read, the stream takes no more stages (a later wrapper goes around it). */
  const markRead = () => {
    if (read) return;
    read = true;
    unread.delete(stream);
  };
  /** Every stage's onClose, innermost first (as the source's end reaches nested wrappers), once. */
  const close = () => {
    if (!open) return;
    open = false;
    for (const stage of stages) stage.onClose?.();
  };
  const finish = async (): Promise<IteratorResult<R>> => {
    close();
    await iterator.return?.();
    return DONE;
  };
  const stream: AsyncIterableIterator<R> = {
    async next(): Promise<IteratorResult<R>> {
      markRead();
      if (!open) return DONE;
      let item: IteratorResult<unknown>;
      try {
        item = await iterator.next();
      } catch (error) {
        close();
        throw passOut(stages, 0, error);
      }
      if (item.done) {
        close();
        return DONE;
      }
      let value = item.value;
      for (let i = 0; i < stages.length; i++) {
        const { isLast, map } = stages[i];
        if (open && isLast?.(value)) {
          close();
          // The last item is given now; the source finishes on its own time.
          iterator.return?.()?.catch(() => {});
        }
        if (!map) continue;
        try {
          const mapped = map(value);
          // Most items map synchronously: awaiting only a promise saves a turn per item.
          value = isThenable(mapped) ? await mapped : mapped;
        } catch (error) {
          await finish();
          throw passOut(stages, i + 1, error);
        }
      }
      return { done: false, value: value as R };
    },
    return: () => {
      markRead();
      return finish();
    },
    async throw(error?: unknown) {
      markRead();
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  unread.set(stream, stages);
  return stream;
}
