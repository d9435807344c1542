/**
 * Subscription fan-out: one event reaching many subscribers is executed once
 * per group of subscribers that would all get the same result, not once per
 * subscriber, and (over WebSocket) serialized once.
 *
 * A group is the same document, operation name and variables asked by the
 * same caller: viewers that are equal in every field (kind, key, session or
 * personal access token, user, scopes). Sharing across callers whose rights
 * merely look alike is left out on purpose: resolvers may read any part of
 * the viewer (Session.current reads the session), and a group of one
 * credential cannot show a subscriber anything its own rights would not.
 * A viewer kind not listed in `viewerKey` is never shared.
 *
 * Only root fields that declare it (the field extension `sharedPerEvent`)
 * take part: their stream items are immutable events named by their id, and
 * their result depends on nothing but the event, the arguments and the
 * caller. Every subscriber keeps its own stream (resume cursor, buffer,
 * overflow, guard); only the execution of each event is shared. Any other
 * item (an overflow marker) is executed for its subscriber alone, as before.
 *
 * A shared execution runs on a shallow copy of the context of the subscriber
 * that reached the event first (equal viewer): per-context caches such as
 * the permission loader then start fresh for each event, instead of living
 * as long as one subscriber's stream.
 */
import type { Socket } from 'node:net';
import { execute, buildExecutionContext } from '@graphql-tools/executor';
import { createSourceEventStream, getOperationAST, GraphQLError, Kind, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context, Viewer } from '../graphql/context.js';
import { closing } from '../kernel/async-iterators.js';

/** The field extension a subscription root field sets to take part (see the header). */
export const SHARED_PER_EVENT = 'sharedPerEvent';

/**
 * How many executed events a group keeps for members still on their way to
 * them. Each entry is dropped as soon as every member present when it was
 * executed has taken it; the cap only bounds what lagging members leave
 * behind. A member behind the group's front executes for itself, uncached,
 * so its late executions never push out what the others are about to take.
 */
const KEPT_PER_GROUP = 64;

/** Stable JSON: object keys sorted, so equal viewers give equal keys whatever their construction order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The caller part of a group's key; undefined: this caller's subscriptions are not shared. */
export function viewerKey(viewer: Viewer): string | undefined {
  switch (viewer.kind) {
    case 'api_key':
    case 'bootstrap_key':
    case 'user':
      return stableJson(viewer);
    default:
      return undefined;
  }
}

/** The seq of an item that can be shared (an event row: a seq and an id); undefined otherwise. */
function eventSeqOf(item: unknown): number | undefined {
  if (!item || typeof item !== 'object') return undefined;
  const { id, seq } = item as { id?: unknown; seq?: unknown };
  return typeof id === 'string' && typeof seq === 'number' ? seq : undefined;
}

/** The group key of a subscription, or undefined when it is not shared. */
export function groupKeyOf(args: ExecutionArgs): string | undefined {
  const source = args.document.loc?.source.body;
  const viewer = (args.contextValue as Context | undefined)?.viewer;
  if (!source || !viewer) return undefined;
  const operation = getOperationAST(args.document, args.operationName);
  if (operation?.operation !== 'subscription') return undefined;
  const [root, ...more] = operation.selectionSet.selections;
  if (more.length > 0 || root?.kind !== Kind.FIELD) return undefined;
  const field = args.schema.getSubscriptionType()?.getFields()[root.name.value];
  if (field?.extensions?.[SHARED_PER_EVENT] !== true) return undefined;
  const who = viewerKey(viewer);
  if (who === undefined) return undefined;
  return JSON.stringify([source, args.operationName ?? null, stableJson(args.variableValues ?? {}), who]);
}

type Result = ExecutionResult | Promise<ExecutionResult>;

interface Group {
  members: number;
  /** Executed events by seq, oldest first, each with how many members have yet to take it. */
  kept: Map<number, { result: Result; waiting: number }>;
  /** The highest seq executed for the group. */
  front: number;
}

/** The groups of live shared subscriptions and their recently executed events. */
export function createFanout() {
  const groups = new Map<string, Group>();

  function join(key: string): Group {
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { members: 0, kept: new Map(), front: -Infinity }));
    group.members++;
    return group;
  }

  function leave(key: string, group: Group) {
    if (--group.members > 0) return;
    groups.delete(key);
  }

  /** The event's result for this group: executed by the first member that reaches it, taken by the others. */
  function resultFor(group: Group, seq: number, run: () => Result): Result {
    let entry = group.kept.get(seq);
    if (!entry) {
      if (group.members <= 1 || seq <= group.front) return run();
      entry = { result: run(), waiting: group.members };
      group.front = seq;
      group.kept.set(seq, entry);
      if (group.kept.size > KEPT_PER_GROUP) group.kept.delete(group.kept.keys().next().value!);
    }
    if (--entry.waiting <= 0) group.kept.delete(seq);
    return entry.result;
  }

  /**
   * Subscribes like the executor does (the field's subscribe resolver makes
   * the subscriber's own stream), then maps each event to its result through
   * the group. Calls with early errors (variables that do not coerce) go to
   * `fallback`, the executor's own subscribe, so they are answered as before.
   */
  async function subscribe(args: ExecutionArgs, key: string, fallback: (args: ExecutionArgs) => unknown): Promise<unknown> {
    if (Array.isArray(buildExecutionContext(args as never))) return fallback(args);
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) return stream;
    const operation = getOperationAST(args.document, args.operationName)!;
    const group = join(key);
    const executeEvent = (payload: unknown) => execute({ ...args, rootValue: payload }) as Result;
    return closing<unknown, ExecutionResult>(stream, {
      onClose: () => leave(key, group),
      // As the executor reports a failing stream: the error, located at the operation.
      nextError: (error) => {
        const original = error instanceof Error ? error : new Error(String(error));
        return new GraphQLError(original.message, { originalError: original, nodes: [operation] });
      },
      map: (payload) => {
        const seq = eventSeqOf(payload);
        return seq === undefined
          ? executeEvent(payload)
          : resultFor(group, seq, () => execute({ ...args, contextValue: { ...(args.contextValue as object) }, rootValue: payload }) as Result);
      },
    });
  }

  return {
    subscribe,
    /** Live groups and their members (tests, metrics). */
    stats: () => ({ groups: groups.size, members: [...groups.values()].reduce((n, g) => n + g.members, 0) }),
  };
}

export type Fanout = ReturnType<typeof createFanout>;

/** Routes shared subscriptions (see the header) through `fanout`; every other operation is left alone. */
export function useSubscriptionFanout(fanout: Fanout): Plugin<Context> {
  return {
    onSubscribe: ({ setSubscribeFn, subscribeFn }) => {
      setSubscribeFn(((args: ExecutionArgs) => {
        const key = groupKeyOf(args);
        return key === undefined ? subscribeFn(args as never) : fanout.subscribe(args, key, subscribeFn as never);
      }) as never);
    },
  };
}

// ── WebSocket frames ───────────────────────────────────────────────────────

/** Each result's payload as UTF-8 JSON, written once however many sockets it goes to. */
const payloadBytes = new WeakMap<object, Buffer>();

/**
 * The start of a subscription's `next` messages, up to its payload: made once
 * per subscription (its id does not change).
 */
export const frameHead = (id: string): Buffer => Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`);

/**
 * The graphql-ws `next` message for a result, with the payload graphql-ws
 * would write (errors as their JSON), as bytes: the shared payload is copied,
 * not encoded again, and no string is made per subscriber (at thousands of
 * deliveries a second those strings were garbage for every young-generation
 * collection to sweep). Sent as a text frame.
 */
export function nextFrame(head: Buffer, result: ExecutionResult): Buffer {
  let payload = payloadBytes.get(result);
  if (payload === undefined) {
    const { errors, ...rest } = result;
    payload = Buffer.from(JSON.stringify({ ...rest, ...(errors ? { errors: errors.map((e) => e.toJSON()) } : {}) }));
    payloadBytes.set(result, payload);
  }
  const frame = Buffer.allocUnsafe(head.length + payload.length + 1);
  head.copy(frame, 0);
  payload.copy(frame, head.length);
  frame[frame.length - 1] = 0x7d; // }
  return frame;
}

/**
 * Holds sockets' writes until the end of the turn: frames for one socket
 * within one turn then leave in one system call. The relay hands events on in
 * batches, so a subscriber of a busy user gets several frames a batch; written
 * one by one, those calls were most of a delivery's cost. A socket is corked
 * at its first frame of a turn and uncorked once the turn's promise callbacks
 * (where a batch's deliveries run) are done: no frame waits longer than that.
 */
export function createTurnCorker(): (socket: Socket | undefined) => void {
  let held: Socket[] = [];
  const release = () => {
    const sockets = held;
    held = [];
    for (const socket of sockets) socket.uncork();
  };
  return (socket) => {
    // ws corks only around one frame's two writes: a socket still corked here was held this turn.
    if (!socket || socket.writableCorked) return;
    socket.cork();
    if (held.push(socket) === 1) process.nextTick(release);
  };
}

/**
 * Writes a subscription's results to its socket as graphql-ws `next`
 * messages itself (the payload serialized once per result, see nextFrame),
 * each after the previous one was written (`send` returns a promise only for
 * a frame the socket could not take at once), and yields nothing: the returned
 * iterator ends when the results end, so graphql-ws then sends `complete`
 * (or `error`, when the results throw) after the last `next`, as before.
 */
export function writeResults(results: AsyncIterable<ExecutionResult>, id: string, send: (frame: Buffer) => Promise<void> | undefined): AsyncIterableIterator<never> {
  const source = results[Symbol.asyncIterator]();
  const head = frameHead(id);
  let open = true;
  return {
    async next() {
      while (open) {
        const item = await source.next();
        if (item.done) break;
        if (!open) break;
        try {
          const written = send(nextFrame(head, item.value));
          if (written) await written;
        } catch (error) {
          // A failed write ends the stream as it did when graphql-ws wrote it: the source is closed too.
          open = false;
          await source.return?.();
          throw error;
        }
      }
      open = false;
      return { done: true, value: undefined };
    },
    async return() {
      open = false;
      await source.return?.();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      open = false;
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
