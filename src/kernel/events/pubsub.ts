/**
 * Pub/sub for committed events. In-process by default; with REDIS_URL every
 * instance shares one Redis, so an event relayed by one instance reaches
 * subscribers connected to another. Topics are per user (`user:<id>`) and
 * per organization (`organization:<id>`).
 *
 * Messages carry the event row as the relay read it from the committed log,
 * its `seq`, and `prevSeq` (the previous seq the publisher released on the
 * same topic), so a subscriber knows when it may trust the message alone and
 * when it must re-read the log to close a gap.
 */
import { loadRedis } from '../redis.js';
import type { Logger } from '../logger.js';

/** An event row as the relay read it (dates become strings when it crosses Redis). */
export interface RelayedEvent {
  seq: number;
  id: string;
  type: string;
  userId: string | null;
  /** Absent in messages from an instance that predates the column. */
  organizationId?: string | null;
  actorType: string | null;
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** Absent in messages from an instance that predates the column. */
  traceId?: string | null;
  data: unknown;
  occurredAt: Date | string;
}

export interface EventMessage {
  seq: number;
  /** The seq of the previous event this publisher released on the topic; absent when it does not know. */
  prevSeq?: number;
  /** Absent in a resync: "everything up to seq is committed; read the log for what you have not seen". */
  event?: RelayedEvent;
}

export interface EventPubSub {
  /** True when messages cross instances (Redis): publishing is then done by one relay at a time. */
  readonly shared: boolean;
  /** False while a shared pub/sub cannot carry messages (Redis down); always true in process. */
  readonly connected: boolean;
  /** Calls `listener` each time `connected` changes. */
  onConnectionChange(listener: (connected: boolean) => void): void;
  publish(topic: string, message: EventMessage): void;
  /** Delivers to this process's subscribers only (the relay's fallback while Redis is down, and resyncs). */
  deliverLocal(topic: string, message: EventMessage): void;
  /** Topics with a subscriber in this process. */
  localTopics(): string[];
  /** Resolves once the subscription is live, so nothing published afterwards can be missed. */
  subscribe(topic: string, onMessage: (message: EventMessage) => void): Promise<() => void>;
  /** Subscribers in this process (health, tests). */
  listenerCount(topic: string): number;
  close(): Promise<void>;
}

export const userTopic = (userId: string) => `user:${userId}`;
export const organizationTopic = (organizationId: string) => `organization:${organizationId}`;

type Listener = (message: EventMessage) => void;

function listenerRegistry() {
  const byTopic = new Map<string, Set<Listener>>();
  return {
    add(topic: string, listener: Listener): boolean {
      let set = byTopic.get(topic);
      const first = !set;
      if (!set) byTopic.set(topic, (set = new Set()));
      set.add(listener);
      return first;
    },
    /** True when the topic has no listener left. */
    remove(topic: string, listener: Listener): boolean {
      const set = byTopic.get(topic);
      if (!set) return false;
      set.delete(listener);
      if (set.size > 0) return false;
      byTopic.delete(topic);
      return true;
    },
    count: (topic: string) => byTopic.get(topic)?.size ?? 0,
    topics: () => [...byTopic.keys()],
    deliver(topic: string, message: EventMessage, logger?: Logger) {
      for (const listener of byTopic.get(topic) ?? []) {
        try {
          listener(message);
        } catch (error) {
          // One broken subscriber must not stop delivery to the others.
          logger?.error({ err: error, topic }, 'event subscriber failed');
        }
      }
    },
  };
}

export function createMemoryPubSub(logger?: Logger): EventPubSub {
  const listeners = listenerRegistry();
  return {
    shared: false,
    connected: true,
    onConnectionChange: () => {},
    publish: (topic, message) => listeners.deliver(topic, message, logger),
    deliverLocal: (topic, message) => listeners.deliver(topic, message, logger),
    localTopics: () => listeners.topics(),
    async subscribe(topic, onMessage) {
      listeners.add(topic, onMessage);
      return () => void listeners.remove(topic, onMessage);
    },
    listenerCount: (topic) => listeners.count(topic),
    async close() {},
  };
}

/**
 * Redis pub/sub; `prefix` namespaces channels so several deployments (or test
 * runs) can share one server. While either connection is down `connected` is
 * false: the relay then delivers to this instance's subscribers from its own
 * read of the log, and resyncs them when Redis returns (relay.ts).
 */
export async function createRedisPubSub(url: string, prefix: string, logger?: Logger): Promise<EventPubSub> {
  const Redis = await loadRedis();
  // The publisher fails fast while disconnected: queued publishes would replay stale messages and grow without bound.
  const publisher = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: null, enableOfflineQueue: false });
  // The subscriber queues its SUBSCRIBEs until it is back, and resubscribes its channels after a reconnect.
  const subscriber = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: null });
  const changeListeners: Array<(connected: boolean) => void> = [];
  let connected = false;
  const update = () => {
    const now = publisher.status === 'ready' && subscriber.status === 'ready';
    if (now === connected) return;
    connected = now;
    if (now) logger?.info('redis pub/sub connected');
    else logger?.warn('redis pub/sub lost: delivering events from the log on each instance until it returns');
    for (const listener of changeListeners) listener(now);
  };
  for (const client of [publisher, subscriber]) {
    client.on('error', (err) => logger?.warn({ err }, 'redis connection error'));
    client.on('ready', update);
    client.on('close', update);
    client.on('end', update);
  }
  const listeners = listenerRegistry();
  // A second subscriber to a topic must also wait for the SUBSCRIBE the first one sent.
  const subscribed = new Map<string, Promise<unknown>>();
  subscriber.on('message', (channel: string, raw: string) => {
    if (!channel.startsWith(prefix)) return;
    let message: EventMessage;
    try {
      message = JSON.parse(raw) as EventMessage;
    } catch {
      return;
    }
    listeners.deliver(channel.slice(prefix.length), message, logger);
  });
  return {
    shared: true,
    get connected() {
      return connected;
    },
    onConnectionChange: (listener) => void changeListeners.push(listener),
    publish(topic, message) {
      publisher.publish(prefix + topic, JSON.stringify(message)).catch((err) => logger?.warn({ err, topic }, 'redis publish failed'));
    },
    deliverLocal: (topic, message) => listeners.deliver(topic, message, logger),
    localTopics: () => listeners.topics(),
    async subscribe(topic, onMessage) {
      if (listeners.add(topic, onMessage)) {
        const pending = subscriber.subscribe(prefix + topic);
        pending.catch((err) => logger?.warn({ err, topic }, 'redis subscribe failed'));
        subscribed.set(topic, pending);
      }
      // While Redis is down the SUBSCRIBE waits in the queue: the relay delivers locally meanwhile.
      if (connected) await subscribed.get(topic)?.catch(() => undefined);
      return () => {
        if (!listeners.remove(topic, onMessage)) return;
        subscribed.delete(topic);
        subscriber.unsubscribe(prefix + topic).catch(() => {});
      };
    },
    listenerCount: (topic) => listeners.count(topic),
    async close() {
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
  };
}

export async function createPubSub(options: { redisUrl?: string; prefix: string; logger?: Logger }): Promise<EventPubSub> {
  return options.redisUrl ? createRedisPubSub(options.redisUrl, options.prefix, options.logger) : createMemoryPubSub(options.logger);
}
