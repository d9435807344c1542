/**
 * The fan-out mechanism on a small schema with the real executor: one
 * execution per event per group, groups split by document, variables and
 * caller, items that are not events executed per subscriber, members leaving
 * their group, WebSocket frames equal to what graphql-ws writes, and one
 * write for the frames a socket gets in one turn.
 */
import type { AddressInfo, Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { GraphQLError, GraphQLID, GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { createFanout, createTurnCorker, frameHead, groupKeyOf, nextFrame, viewerKey, writeResults } from './subscription-fanout.js';
import type { Viewer } from '../graphql/context.js';

type Item = { seq: number; id: string } | { overflow: true };

/** Every execution of the `seen` field: which event, for which caller. */
let runs: string[] = [];

/** Per subscriber, the queue its stream reads from; `publish` pushes to all. */
const streams = new Set<{ push: (item: Item) => void; end: () => void }>();
function stream(): AsyncIterableIterator<Item> {
  const queue: Item[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const handle = {
    push: (item: Item) => {
      queue.push(item);
      wake?.();
    },
    end: () => {
      ended = true;
      wake?.();
    },
  };
  streams.add(handle);
  return {
    async next() {
      while (!queue.length && !ended) await new Promise<void>((r) => (wake = r));
      const value = queue.shift();
      return value ? { done: false, value } : { done: true, value: undefined };
    },
    async return() {
      streams.delete(handle);
      ended = true;
      wake?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
const publish = (item: Item) => streams.forEach((s) => s.push(item));

const Event = new GraphQLObjectType<Item, { viewer: Viewer }>({
  name: 'Event',
  fields: {
    id: { type: GraphQLID, resolve: (e) => ('id' in e ? e.id : 'overflow') },
    seen: {
      type: GraphQLString,
      resolve: (e, _args, ctx) => {
        const who = viewerKey(ctx.viewer);
        runs.push(`${'id' in e ? e.id : 'overflow'} ${who}`);
        return `${'id' in e ? e.id : 'overflow'} for ${who}`;
      },
    },
  },
});
const field = (shared: boolean) => ({
  type: Event,
  args: { topic: { type: GraphQLString } },
  extensions: shared ? { sharedPerEvent: true } : {},
  subscribe: () => stream(),
  resolve: (item: Item) => item,
});
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }),
  subscription: new GraphQLObjectType({ name: 'Subscription', fields: { events: field(true), plain: field(false) } }),
});

const EVENTS = 'subscription Follow($topic: String) { events(topic: $topic) { id seen } }';
const keyA: Viewer = { kind: 'api_key', keyId: 'key_a', scopes: ['events:read'] };
const keyB: Viewer = { kind: 'api_key', keyId: 'key_b', scopes: ['events:read', 'users:read'] };

function argsFor(viewer: Viewer, query = EVENTS, variables: Record<string, unknown> = { topic: 't' }): ExecutionArgs {
  return { schema, document: parse(query), variableValues: variables, operationName: 'Follow', contextValue: { viewer } };
}

async function subscribe(fanout: ReturnType<typeof createFanout>, args: ExecutionArgs) {
  const key = groupKeyOf(args);
  expect(key).toBeDefined();
  const result = (await fanout.subscribe(args, key!, () => {
    throw new Error('not expected: the executor’s own subscribe');
  })) as AsyncIterableIterator<ExecutionResult>;
  return result;
}

/** Publishes `item` and reads one result from each subscriber. */
async function deliver(item: Item, subscribers: AsyncIterableIterator<ExecutionResult>[]) {
  const next = subscribers.map((s) => s.next());
  publish(item);
  return (await Promise.all(next)).map((r) => r.value as ExecutionResult);
}

describe('groupKeyOf', () => {
  it('is the same for the same document, operation, variables and caller, and differs when any of them does', () => {
    const base = groupKeyOf(argsFor(keyA));
    expect(base).toBe(groupKeyOf(argsFor({ kind: 'api_key', scopes: ['events:read'], keyId: 'key_a' })));
    expect(groupKeyOf(argsFor(keyB))).not.toBe(base);
    // The same key with other scopes (read at another time): another caller.
    expect(groupKeyOf(argsFor({ ...keyA, scopes: ['*'] }))).not.toBe(base);
    expect(groupKeyOf(argsFor(keyA, EVENTS, { topic: 'u' }))).not.toBe(base);
    expect(groupKeyOf(argsFor(keyA, `${EVENTS} `))).not.toBe(base);
    const session = (sessionId: string): Viewer => ({ kind: 'user', userId: 'usr_1', sessionId });
    expect(groupKeyOf(argsFor(session('ses_1')))).not.toBe(groupKeyOf(argsFor(session('ses_2'))));
  });

  it('is undefined for anonymous callers and for fields that do not take part', () => {
    expect(groupKeyOf(argsFor({ kind: 'anonymous' }))).toBeUndefined();
    expect(groupKeyOf(argsFor(keyA, 'subscription Follow($topic: String) { plain(topic: $topic) { id seen } }'))).toBeUndefined();
    expect(groupKeyOf(argsFor(keyA, 'query Follow { ok }'))).toBeUndefined();
  });
});

describe('createFanout', () => {
  it('executes each event once per group and gives every member the same result', async () => {
    runs = [];
    const fanout = createFanout();
    const a = await Promise.all([1, 2, 3].map(() => subscribe(fanout, argsFor(keyA))));
    const b = await Promise.all([1, 2].map(() => subscribe(fanout, argsFor(keyB))));
    expect(fanout.stats()).toEqual({ groups: 2, members: 5 });

    for (const seq of [1, 2, 3]) {
      const results = await deliver({ seq, id: `evt_${seq}` }, [...a, ...b]);
      for (const r of results.slice(0, 3)) expect(r).toEqual({ data: { events: { id: `evt_${seq}`, seen: `evt_${seq} for ${viewerKey(keyA)}` } } });
      for (const r of results.slice(3)) expect(r).toEqual({ data: { events: { id: `evt_${seq}`, seen: `evt_${seq} for ${viewerKey(keyB)}` } } });
      // One result object per group: serialized once for all its sockets.
      expect(new Set(results).size).toBe(2);
    }
    expect(runs.sort()).toEqual(['evt_1', 'evt_2', 'evt_3'].flatMap((id) => [`${id} ${viewerKey(keyA)}`, `${id} ${viewerKey(keyB)}`]).sort());

    // An item that is not an event (an overflow marker) is executed for each subscriber.
    runs = [];
    await deliver({ overflow: true }, [...a, ...b]);
    expect(runs).toHaveLength(5);

    // Members leave when they end; the last one takes the group with it.
    await Promise.all([...a, ...b].map((s) => s.return!()));
    expect(fanout.stats()).toEqual({ groups: 0, members: 0 });
    expect(streams.size).toBe(0);
  });

  it('lets a member that falls behind execute for itself once the group has moved on', async () => {
    runs = [];
    const fanout = createFanout();
    const [fast, slow] = await Promise.all([1, 2].map(() => subscribe(fanout, argsFor(keyA))));
    // The fast member reads 100 events; the slow one reads none of them yet.
    for (let seq = 1; seq <= 100; seq++) {
      const next = fast.next();
      publish({ seq, id: `evt_${seq}` });
      await next;
    }
    expect(runs).toHaveLength(100);
    const late: ExecutionResult[] = [];
    for (let i = 0; i < 100; i++) late.push((await slow.next()).value as ExecutionResult);
    expect(late.map((r) => (r.data as { events: { id: string } }).events.id)).toEqual(Array.from({ length: 100 }, (_, i) => `evt_${i + 1}`));
    // The 64 most recent were still kept; the 36 oldest were executed again, for the slow member alone.
    expect(runs).toHaveLength(136);
    await Promise.all([fast, slow].map((s) => s.return!()));
    expect(fanout.stats()).toEqual({ groups: 0, members: 0 });
  });
});

describe('nextFrame and writeResults', () => {
  it('write what graphql-ws writes, results with errors included', async () => {
    const ok: ExecutionResult = { data: { events: { id: 'evt_1', seen: 'x "quoted" ü' } } };
    const failed: ExecutionResult = { data: { events: null }, errors: [new GraphQLError('no', { path: ['events'], extensions: { code: 'FORBIDDEN' } })] };
    const graphqlWs = (id: string, r: ExecutionResult) => {
      const { errors, ...rest } = r;
      return JSON.stringify({ id, type: 'next', payload: { ...rest, ...(errors ? { errors: errors.map((e) => e.toJSON()) } : {}) } });
    };
    expect(nextFrame(frameHead('1'), ok).toString()).toBe(graphqlWs('1', ok));
    expect(nextFrame(frameHead('a"b'), failed).toString()).toBe(graphqlWs('a"b', failed));
    // One payload for every subscriber of a result, each frame with its own id.
    expect(nextFrame(frameHead('ü2'), ok).toString()).toBe(graphqlWs('ü2', ok));

    const frames: string[] = [];
    async function* results() {
      yield ok;
      yield failed;
    }
    const writer = writeResults(results(), '7', async (frame) => void frames.push(frame.toString()));
    expect(await writer.next()).toEqual({ done: true, value: undefined });
    expect(frames).toEqual([graphqlWs('7', ok), graphqlWs('7', failed)]);
  });

  it('close the results when a write fails', async () => {
    let closed = false;
    const source: AsyncIterableIterator<ExecutionResult> = {
      next: async () => ({ done: false, value: { data: { n: 1 } } }),
      return: async () => {
        closed = true;
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    const writer = writeResults(source, '1', async () => {
      throw new Error('socket gone');
    });
    await expect(writer.next()).rejects.toThrow('socket gone');
    expect(closed).toBe(true);
  });
});

describe('createTurnCorker', () => {
  /** A ws server and client on 127.0.0.1; counts the system writes of the server's socket. */
  async function pair() {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => server.once('listening', resolve));
    const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const received: string[] = [];
    client.on('message', (data) => received.push(String(data)));
    const socket = await accepted;
    await new Promise((resolve) => client.once('open', resolve));
    const raw = (socket as unknown as { _socket: Socket })._socket;
    let writes = 0;
    // _write and _writev are where a net.Socket hands data to the system.
    for (const method of ['_write', '_writev'] as const) {
      const original = raw[method]!.bind(raw) as (...args: unknown[]) => unknown;
      (raw as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => (writes++, original(...args));
    }
    const close = async () => {
      client.close();
      await new Promise((resolve) => server.close(resolve));
    };
    return { socket, raw, received, writes: () => writes, close };
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('sends the frames one socket gets in one turn in one write, in order', async () => {
    const { socket, raw, received, writes, close } = await pair();
    try {
      const hold = createTurnCorker();
      for (const frame of ['a', 'b', 'c']) {
        hold(raw);
        socket.send(frame);
      }
      expect(writes()).toBe(0);
      await turn();
      expect(writes()).toBe(1);
      expect(raw.writableCorked).toBe(0);
      await vi.waitFor(() => expect(received).toEqual(['a', 'b', 'c']));

      // The next turn's frames are held anew, not behind the last turn's.
      hold(raw);
      socket.send('d');
      await turn();
      expect(writes()).toBe(2);
      await vi.waitFor(() => expect(received).toEqual(['a', 'b', 'c', 'd']));
    } finally {
      await close();
    }
  });

  it('is what saves the writes: unheld, each frame is its own write', async () => {
    const { socket, received, writes, close } = await pair();
    try {
      for (const frame of ['a', 'b', 'c']) socket.send(frame);
      await turn();
      expect(writes()).toBe(3);
      await vi.waitFor(() => expect(received).toEqual(['a', 'b', 'c']));
    } finally {
      await close();
    }
  });
});
