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

  describe('a stream wrapped again before it is read takes the wrapper as a stage', () => {
    it('is one iterator: maps apply inner first, and every onClose runs once when the source is done', async () => {
      const s = source<number>();
      const closed: string[] = [];
      const inner = closing(s.iterator, { onClose: () => closed.push('inner'), map: (n) => n + 1 });
      const outer = closing(inner, { onClose: () => closed.push('outer'), map: (n) => n * 10 });
      expect(outer).toBe(inner);
      s.push(1);
      expect(await outer.next()).toEqual({ done: false, value: 20 });
      s.end();
      expect(await outer.next()).toEqual({ done: true, value: undefined });
      expect(closed).toEqual(['inner', 'outer']);
    });

    it('an inner last item ends the stream after it, for every stage', async () => {
      const s = source<number>();
      const closed: string[] = [];
      const inner = closing(s.iterator, { onClose: () => closed.push('inner'), isLast: (n) => n === 2 });
      const outer = closing(inner, { onClose: () => closed.push('outer'), map: (n) => `#${n}` });
      s.push(1);
      s.push(2);
      s.push(3);
      expect(await outer.next()).toEqual({ done: false, value: '#1' });
      expect(await outer.next()).toEqual({ done: false, value: '#2' });
      expect(closed).toEqual(['inner', 'outer']);
      expect(s.state.returned).toBe(1);
      expect(await outer.next()).toEqual({ done: true, value: undefined });
    });

    it('errors pass out as through nested wrappers: a source error through every nextError, a map error through the later ones only', async () => {
      const failing: AsyncIterableIterator<number> = {
        next: () => Promise.reject(new Error('source broke')),
        [Symbol.asyncIterator]() {
          return this;
        },
      };
      const wrap = (tag: string) => (e: unknown) => new Error(`${tag}(${(e as Error).message})`);
      const a = closing(closing(failing, { nextError: wrap('inner') }), { nextError: wrap('outer') });
      await expect(a.next()).rejects.toThrow('outer(inner(source broke))');

      const s = source<number>();
      let closed = 0;
      const b = closing(
        closing(s.iterator, {
          onClose: () => closed++,
          nextError: wrap('inner'),
          map: () => {
            throw new Error('cannot map');
          },
        }),
        { onClose: () => closed++, nextError: wrap('outer') },
      );
      s.push(1);
      await expect(b.next()).rejects.toThrow(/^outer\(cannot map\)$/);
      expect(closed).toBe(2);
      expect(s.state.returned).toBe(1);
    });

    it('return() closes every stage and the source at once', async () => {
      const s = source<number>();
      const closed: string[] = [];
      const stream = closing(closing(s.iterator, { onClose: () => closed.push('inner') }), { onClose: () => closed.push('outer') });
      const pending = stream.next();
      await stream.return!();
      expect(closed).toEqual(['inner', 'outer']);
      expect(s.state.returned).toBe(1);
      expect(await pending).toEqual({ done: true, value: undefined });
    });

    it('a stream already read is wrapped around, not changed', async () => {
      const s = source<number>();
      const inner = closing(s.iterator, { map: (n) => n + 1 });
      s.push(1);
      expect(await inner.next()).toEqual({ done: false, value: 2 });
      let closed = 0;
      const outer = closing(inner, { onClose: () => closed++, map: (n) => n * 10 });
      expect(outer).not.toBe(inner);
      s.push(2);
      expect(await outer.next()).toEqual({ done: false, value: 30 });
      s.end();
      expect(await outer.next()).toEqual({ done: true, value: undefined });
      expect(closed).toBe(1);
    });
  });
});
