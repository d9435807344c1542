import { describe, expect, it } from 'vitest';
import { closing } from './async-iterators.js';

/** A source that records whether it was returned, and whose next() stays pending until pushed. */
function source<T>() {
  const items: T[] = [];
  const waiting: Array<(r: IteratorResult<T>) => void> = [];
  const state = { returned: 0, ended: false };
  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (items.length) return Promise.resolve({ done: false, value: items.shift()! });
      if (state.ended) return Promise.resolve({ done: true, value: undefined });
      return new Promise((resolve) => waiting.push(resolve));
    },
    async return() {
      state.returned++;
      state.ended = true;
      for (const w of waiting.splice(0)) w({ done: true, value: undefined });
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  const push = (item: T) => (waiting.length ? waiting.shift()!({ done: false, value: item }) : items.push(item));
  const end = () => {
    state.ended = true;
    for (const w of waiting.splice(0)) w({ done: true, value: undefined });
  };
  return { iterator, push, end, state };
}

describe('closing', () => {
  it('passes items through, maps them, and calls onClose once when the source is done', async () => {
    const s = source<number>();
    let closed = 0;
    const stream = closing(s.iterator, { onClose: () => closed++, map: (n) => (n % 2 ? n * 10 : Promise.resolve(n * 100)) });
    s.push(1);
    s.push(2);
    expect(await stream.next()).toEqual({ done: false, value: 10 });
    expect(await stream.next()).toEqual({ done: false, value: 200 });
    s.end();
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    await stream.return!();
    expect(closed).toBe(1);
  });

  it('return() reaches the source at once, even while a next() is pending', async () => {
    const s = source<number>();
    let closed = 0;
    const stream = closing(s.iterator, { onClose: () => closed++ });
    const pending = stream.next();
    await stream.return!();
    expect(s.state.returned).toBe(1);
    expect(closed).toBe(1);
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('gives the last item, then ends and returns the source', async () => {
    const s = source<string>();
    let closed = 0;
    const stream = closing(s.iterator, { onClose: () => closed++, isLast: (item) => item === 'last' });
    s.push('a');
    s.push('last');
    s.push('never');
    expect(await stream.next()).toEqual({ done: false, value: 'a' });
    expect(await stream.next()).toEqual({ done: false, value: 'last' });
    expect(closed).toBe(1);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    await new Promise((r) => setImmediate(r));
    expect(s.state.returned).toBe(1);
  });

  it('a failing next() closes the stream and throws what nextError makes of the error', async () => {
    let closed = 0;
    const failing: AsyncIterableIterator<number> = {
      next: () => Promise.reject(new Error('source broke')),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const stream = closing(failing, { onClose: () => closed++, nextError: (e) => new Error(`wrapped: ${(e as Error).message}`) });
    await expect(stream.next()).rejects.toThrow('wrapped: source broke');
    expect(closed).toBe(1);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('a failing map closes the stream and the source, and passes its error on', async () => {
    const s = source<number>();
    let closed = 0;
    const stream = closing(s.iterator, {
      onClose: () => closed++,
      map: () => {
        throw new Error('cannot map');
      },
    });
    s.push(1);
    await expect(stream.next()).rejects.toThrow('cannot map');
    expect(closed).toBe(1);
    expect(s.state.returned).toBe(1);
  });

  it('throw() closes the stream and the source, and rethrows', async () => {
    const s = source<number>();
    let closed = 0;
    const stream = closing(s.iterator, { onClose: () => closed++ });
    await expect(stream.throw!(new Error('stop'))).rejects.toThrow('stop');
    expect(closed).toBe(1);
    expect(s.state.returned).toBe(1);
  });
});
