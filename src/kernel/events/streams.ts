/**
 * The stream behind `userEvents` and `organizationEvents`: a user's or an
 * organization's stored events after a cursor, then live ones, in seq order,
 * with no gap and no duplicate across the switch. One algorithm for both
 * (`follow`): the relay publishes to each topic with its own `prevSeq`.
 *
 * 1. Subscribe to the user's (organization's) topic first and buffer what arrives.
 * 2. Read M, the highest seq committed now: anything published before the
 *    subscription was live has seq ≤ M. Wait until this instance's relay
 *    position P reaches M (with Redis the publisher may be another instance,
 *    ahead of ours), then replay from the log up to P: every seq ≤ P is
 *    committed (or given up); everything above P is published after step 1.
 * 3. Then live: a message at or below the watermark is a duplicate; a
 *    message whose `prevSeq` is at or below the watermark is the only new
 *    event; otherwise (a publisher that does not know, a lost message, or a
 *    resync without an event after a pub/sub outage) the log is re-read
 *    between the watermark and the message's seq.
 *
 * The buffer is bounded: a subscriber that does not keep up is ended with a
 * SubscriptionOverflow item (its last cursor) instead of growing memory; it
 * resumes with `after`.
 */
import type { Db } from '../db/client.js';
import type { DirectReads } from '../db/direct.js';
import { organizationTopic, userTopic, type EventMessage, type EventPubSub, type RelayedEvent } from './pubsub.js';
import { maxEventSeq } from './tail.js';

export class SubscriptionOverflow {
  constructor(
    /** The last event delivered: resume with `after` set to it (null: nothing was delivered, resume with the original cursor). */
    readonly lastEventId: string | null,
    readonly bufferSize: number,
  ) {}
}

export type StreamItem = RelayedEvent | SubscriptionOverflow;

/** What a stream needs of this instance's relay. */
export interface RelayView {
  /** Every seq at or below it is committed or given up; undefined without a running relay. */
  position(): number | undefined;
  /** Resolves with the position once it is at least `seq` (at once without a running relay). */
  reach(seq: number): Promise<number | undefined>;
}

export interface EventStreamDeps {
  db: Db;
  /** For the log's highest seq, read as each stream starts. */
  direct: DirectReads;
  pubsub: EventPubSub;
  relay: RelayView;
  bufferSize: number;
  pageSize?: number;
}

/** The event column a stream follows, and its topic. */
export type StreamKey = 'userId' | 'organizationId';
const TOPICS: Record<StreamKey, (id: string) => string> = { userId: userTopic, organizationId: organizationTopic };

export interface FollowOptions {
  by: StreamKey;
  /** The user's or the organization's id. */
  id: string;
  types?: readonly string[];
  /** Replay events after this seq first; absent: live events only. */
  afterSeq?: number;
  /** Resume cursor reported on overflow before anything was delivered. */
  afterId?: string;
}

export type UserEventStreamOptions = Omit<FollowOptions, 'by' | 'id'> & { userId: string };
export type OrganizationEventStreamOptions = Omit<FollowOptions, 'by' | 'id'> & { organizationId: string };

export type EventStreams = ReturnType<typeof createEventStreams>;

export function createEventStreams(deps: EventStreamDeps) {
  const { db, pubsub, bufferSize } = deps;
  const pageSize = deps.pageSize ?? 200;

  /** P of step 2: a relay position at or above everything committed when called. */
  async function position(): Promise<number> {
    const committed = await maxEventSeq(deps.direct);
    return (await deps.relay.reach(committed)) ?? committed;
  }

  /** Seq of an event id (a cursor); undefined when there is no such event. */
  async function seqOf(eventId: string): Promise<number | undefined> {
    const row = await db.event.findUnique({ where: { id: eventId }, select: { seq: true } });
    return row?.seq;
  }

  /** Events whose `by` column is `id`: see the header for the algorithm. */
  function follow(options: FollowOptions): AsyncIterableIterator<StreamItem> {
    // Built once: the (column, seq) index serves both keys alike.
    const owner = options.by === 'userId' ? { userId: options.id } : { organizationId: options.id };
    const wanted = options.types?.length ? new Set<string>(options.types) : undefined;
    const typeWhere = wanted ? { type: { in: [...wanted] } } : {};
    const queue: EventMessage[] = [];
    let overflowed = false;
    let closed = false;
    let signal: (() => void) | undefined;
    const poke = () => {
      signal?.();
      signal = undefined;
    };

    async function* run(): AsyncGenerator<StreamItem> {
      const unsubscribe = await pubsub.subscribe(TOPICS[options.by](options.id), (message) => {
        if (overflowed || closed) return;
        if (queue.length >= bufferSize) overflowed = true;
        else queue.push(message);
        poke();
      });
      let lastId: string | null = options.afterId ?? null;
      try {
        const p = await position();
        let watermark = p;
        if (options.afterSeq !== undefined) {
          let cursor = options.afterSeq;
          while (!closed && !overflowed && cursor < p) {
            const page = await db.event.findMany({
              where: { ...owner, seq: { gt: cursor, lte: p }, ...typeWhere },
              orderBy: { seq: 'asc' },
              take: pageSize,
            });
            for (const event of page) {
              if (closed || overflowed) break;
              lastId = event.id;
              cursor = event.seq;
              yield event;
            }
            if (page.length < pageSize) cursor = p;
          }
          watermark = Math.max(p, options.afterSeq);
        }
        while (!closed) {
          if (overflowed) {
            yield new SubscriptionOverflow(lastId, bufferSize);
            return;
          }
          const message = queue.shift();
          if (!message) {
            await new Promise<void>((resolve) => (signal = resolve));
            continue;
          }
          if (message.seq <= watermark) continue;
          const events: RelayedEvent[] =
            message.event && message.prevSeq !== undefined && message.prevSeq <= watermark
              ? [message.event]
              : await db.event.findMany({ where: { ...owner, seq: { gt: watermark, lte: message.seq } }, orderBy: { seq: 'asc' } });
          watermark = message.seq;
          for (const event of events) {
            if (wanted && !wanted.has(event.type)) continue;
            lastId = event.id;
            yield event;
          }
        }
      } finally {
        closed = true;
        unsubscribe();
      }
    }

    const generator = run();
    return {
      next: () => generator.next(),
      // Wake a generator parked on an empty queue, so it can finish and unsubscribe at once.
      return: async () => {
        closed = true;
        poke();
        return generator.return(undefined);
      },
      throw: (error?: unknown) => {
        closed = true;
        poke();
        return generator.throw(error);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  const userEvents = ({ userId, ...rest }: UserEventStreamOptions) => follow({ by: 'userId', id: userId, ...rest });
  const organizationEvents = ({ organizationId, ...rest }: OrganizationEventStreamOptions) =>
    follow({ by: 'organizationId', id: organizationId, ...rest });

  return { follow, userEvents, organizationEvents, seqOf, position };
}
